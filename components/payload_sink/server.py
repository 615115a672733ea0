"""The payload sink's HTTP server: KServe's logger POSTs CloudEvents here; records go to the prediction log."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from components._shared.artifacts.prediction_log import PredictionLogWriter
from components.payload_sink.logic import Event, Pairer, PayloadError

log = logging.getLogger("kfx.payload_sink")


class PayloadSink:
    """``start()`` serves on ``host:port`` (0 = a free port); ``close()`` stops and writes everything buffered."""

    def __init__(self, log_uri: str, host: str = "127.0.0.1", port: int = 0, max_seconds: float = 10.0) -> None:
        self.writer = PredictionLogWriter(log_uri, max_seconds=max_seconds)
        self.pairer = Pairer()
        self.rejected = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                ok = self.path in ("/healthz", "/")
                self._reply(200 if ok else 404, {"rows_logged": sink.writer.rows_written} if ok else {})

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    sink.writer.log(sink.pairer.add(Event.from_headers(self.headers, body)))
                except PayloadError as e:
                    sink.rejected += 1
                    log.warning("rejected event: %s", e)
                    self._reply(400, {"error": str(e)})
                    return
                self._reply(200, {"accepted": True})

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> PayloadSink:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.writer.close()
