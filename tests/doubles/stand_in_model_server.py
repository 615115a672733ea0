"""A stand-in model server — NOT kfx's model server: it loads nothing, answers KServe's readiness GET, and answers
every V1 predict request with the constant 0.5 per instance.

``python -m tests.doubles.stand_in_model_server --model-dir D --model-name N --http-port P`` answers
``GET /v1/models/<N>`` with 200 when ``D`` holds a pushed model (``kfx-push.json``), so KubeApiTestDouble's revisions
become ready in a fraction of a second; ``POST /v1/models/<N>:predict`` gets ``{"predictions": [[0.5], ...]}``. For tests of what kfx writes to the Kubernetes API (status, rollback,
annotations) where serving itself is not under test; the deploy live tests run the real server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def command(model_dir: str, model_name: str, port: int) -> list[str]:
    """KubeApiTestDouble's ``server_command`` for this stand-in."""
    return [sys.executable, "-m", "tests.doubles.stand_in_model_server", "--model-dir", model_dir,
            "--model-name", model_name, "--http-port", str(port)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.model_dir, "kfx-push.json")):
        sys.exit(f"stand-in model server: {args.model_dir} holds no pushed model")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            ok = self.path == f"/v1/models/{args.model_name}"
            body = json.dumps({"name": args.model_name, "ready": ok}).encode()
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            ok = self.path == f"/v1/models/{args.model_name}:predict"
            body = json.dumps({"predictions": [[0.5] for _ in request.get("instances") or []]}).encode()
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer(("127.0.0.1", args.http_port), Handler).serve_forever()


if __name__ == "__main__":
    main()
