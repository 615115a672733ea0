"""A TEST DOUBLE of the Kubeflow Pipelines v2beta1 REST API: an HTTP stand-in that records requests.

Not KFP: it runs nothing. It answers the subset of the KFP API server's endpoints that ``kfp.Client`` 2.13 uses for
kfx's cluster commands (healthz, pipelines and versions, uploads, experiments, runs, recurring runs) with bodies in
the API's JSON shape, so the REAL client library parses them; and it keeps every request (method, path, query,
JSON body or multipart fields) for tests to compare with what the real client sent.

Modes for the failure paths a user meets: ``token=`` requires ``Authorization: Bearer <token>`` (401 otherwise),
``api_version="v1"`` answers only ``/apis/v1beta1/healthz`` (a KFP 1.x host), ``tag_name`` sets the reported version.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

V2 = "/apis/v2beta1"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any = None
    files: dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KfpApiDouble:
    """Start with :meth:`start` (binds 127.0.0.1 on a free port); ``host`` is what ``kfp.Client(host=...)`` takes."""

    def __init__(self, token: str | None = None, api_version: str = "v2", tag_name: str = "2.4.0") -> None:
        self.token, self.api_version, self.tag_name = token, api_version, tag_name
        self.requests: list[Recorded] = []
        self.pipelines: dict[str, dict] = {}
        self.versions: dict[str, list[dict]] = {}
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.recurring_runs: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> KfpApiDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                double._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                double._handle(self, "POST")

            def do_DELETE(self) -> None:  # noqa: N802
                double._handle(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def host(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def finish_run(self, run_id: str, state: str = "SUCCEEDED") -> None:
        self.runs[run_id]["state"] = state
        self.runs[run_id]["finished_at"] = _now()

    # ------------------------------------------------------------------------------------------------ handling
    def _id(self) -> str:
        return str(uuid.UUID(int=next(self._ids)))

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        query = parse_qs(url.query)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        rec = Recorded(method, url.path, query)
        ctype = h.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            message = BytesParser(policy=policy.default).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
            for part in message.iter_parts():
                key = part.get_param("name", header="content-disposition")
                rec.files[key] = part.get_payload(decode=True).decode()
        elif raw:
            rec.body = json.loads(raw)
        with self._lock:
            self.requests.append(rec)
            status, body = self._route(h, method, url.path, query, rec)
        payload = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def _route(self, h: BaseHTTPRequestHandler, method: str, path: str, query: dict, rec: Recorded) -> tuple[int, Any]:
        if self.api_version == "v1":
            if path == "/apis/v1beta1/healthz":
                return 200, {"commit_sha": "v1", "tag_name": "1.8.5", "multi_user": False}
            return 404, {"error": "Not Found", "code": 5, "message": "Not Found"}
        if self.token and h.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {
                "error": "Unauthorized",
                "code": 16,
                "message": "Request header error: there is no user identity",
            }
        if path == f"{V2}/healthz":
            return 200, {"commit_sha": "double", "tag_name": self.tag_name, "multi_user": False}
        if path == f"{V2}/pipelines/upload" and method == "POST":
            return self._upload(query, rec)
        if path == f"{V2}/pipelines/upload_version" and method == "POST":
            return self._upload_version(query, rec)
        if path == f"{V2}/pipelines" and method == "GET":
            return 200, self._list(self.pipelines.values(), "pipelines", query)
        if path.startswith(f"{V2}/pipelines/") and path.endswith("/versions") and method == "GET":
            pid = path.split("/")[4]
            return 200, {"pipeline_versions": self.versions.get(pid, []), "total_size": len(self.versions.get(pid, []))}
        if path == f"{V2}/experiments" and method == "GET":
            return 200, self._list(self.experiments.values(), "experiments", query)
        if path == f"{V2}/experiments" and method == "POST":
            exp = {**rec.body, "experiment_id": self._id(), "created_at": _now(), "storage_state": "AVAILABLE"}
            self.experiments[exp["experiment_id"]] = exp
            return 200, exp
        if path == f"{V2}/runs" and method == "POST":
            run = {**rec.body, "run_id": self._id(), "created_at": _now(), "state": "PENDING"}
            self.runs[run["run_id"]] = run
            return 200, run
        if path == f"{V2}/runs" and method == "GET":
            return 200, self._list(self.runs.values(), "runs", query)
        if path.startswith(f"{V2}/runs/") and method == "GET":
            run = self.runs.get(path.rsplit("/", 1)[1])
            return (200, run) if run else (404, {"error": "run not found", "code": 5, "message": "run not found"})
        if path == f"{V2}/recurringruns" and method == "POST":
            job = {**rec.body, "recurring_run_id": self._id(), "created_at": _now(), "status": "ENABLED"}
            self.recurring_runs[job["recurring_run_id"]] = job
            return 200, job
        if path == f"{V2}/recurringruns" and method == "GET":
            return 200, self._list(self.recurring_runs.values(), "recurringRuns", query)
        return 404, {"error": f"no route {method} {path} in the KFP API test double", "code": 5}

    @staticmethod
    def _list(items: Any, key: str, query: dict) -> dict:
        items = list(items)
        if "filter" in query:
            predicates = json.loads(query["filter"][0]).get("predicates", [])
            for p in predicates:
                field_name = {"display_name": "display_name", "name": "display_name"}.get(p["key"], p["key"])
                value = p.get("stringValue", p.get("string_value"))
                items = [i for i in items if i.get(field_name) == value]
        return {key: items, "total_size": len(items)} if items else {"total_size": 0}

    def _upload(self, query: dict, rec: Recorded) -> tuple[int, Any]:
        name = (query.get("name") or [None])[0] or "pipeline"
        if any(p["display_name"] == name for p in self.pipelines.values()):
            return 409, {"error": f"pipeline {name} already exists", "code": 6, "message": "AlreadyExists"}
        pid = self._id()
        pipeline = {"pipeline_id": pid, "display_name": name, "created_at": _now()}
        description = (query.get("description") or [""])[0]
        if description:
            pipeline["description"] = description
        self.pipelines[pid] = pipeline
        self.versions[pid] = [self._version(pid, name, rec)]
        return 200, pipeline

    def _upload_version(self, query: dict, rec: Recorded) -> tuple[int, Any]:
        pid = (query.get("pipelineid") or [""])[0]
        if pid not in self.pipelines:
            return 404, {"error": f"pipeline {pid} not found", "code": 5, "message": "NotFound"}
        name = (query.get("name") or ["version"])[0]
        if any(v["display_name"] == name for v in self.versions[pid]):
            return 409, {"error": f"version {name} already exists", "code": 6, "message": "AlreadyExists"}
        version = self._version(pid, name, rec)
        self.versions[pid].append(version)
        return 200, version

    def _version(self, pid: str, name: str, rec: Recorded) -> dict:
        return {"pipeline_id": pid, "pipeline_version_id": self._id(), "display_name": name, "created_at": _now()}
