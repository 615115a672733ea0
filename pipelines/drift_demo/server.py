"""The real kfx model server for the drift demo: started in the serving environment, fed one simulated day at a time.

The demo runs in the components environment (kfp, TFDV, TFT); the model server runs in ``.venv-serving`` (KServe), so
it is a subprocess: ``python -m components.serving --prediction-log <log> --log-time-from-header`` on 127.0.0.1 and a
free port. Every transaction is one V1 request with ``x-request-id`` (the id labels are keyed by) and
``x-kfx-log-time`` (the simulated time: the server, started with ``--log-time-from-header``, logs it under that
time, so each simulated day lands in its own log partition). A rollout is a restart on the new model directory;
a clean stop (SIGTERM) writes what the log still buffers.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MODEL_NAME = "fraud"
LOG_TIME_HEADER = "x-kfx-log-time"  # = components.serving.codec.LOG_TIME_HEADER (that module needs kserve)


class ServerError(RuntimeError):
    """The model server did not start, or answered a request with an error."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _json_value(v: Any) -> Any:
    """A JSON value for one feature: None for missing (pandas NA / NaN), plain Python numbers otherwise."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    try:
        import pandas as pd

        if v is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    return v.item() if hasattr(v, "item") else v


class LocalModelServer:
    """``python -m components.serving`` in the serving venv, logging predictions to ``log_uri``."""

    def __init__(self, serving_python: str, log_uri: str, log_file: str, clients: int = 4) -> None:
        if not os.path.exists(serving_python):
            raise ServerError(
                f"the serving environment's python {serving_python} does not exist: run `make install-serving`"
            )
        self.serving_python, self.log_uri, self.log_file, self.clients = serving_python, log_uri, log_file, clients
        self.port = 0
        self.revision = ""
        self._proc: subprocess.Popen | None = None
        self._local = threading.local()

    # ------------------------------------------------------------------ lifecycle
    def start(self, model_dir: str, revision: str, timeout: float = 180.0) -> None:
        """Serve ``model_dir`` as revision ``revision``; returns when the model answers ready."""
        self.port, self.revision = free_port(), revision
        cmd = [self.serving_python, "-m", "components.serving", "--model-dir", model_dir, "--model-name", MODEL_NAME]
        cmd += ["--host", "127.0.0.1", "--http-port", str(self.port), "--model-revision", revision]
        cmd += ["--prediction-log", self.log_uri, "--prediction-log-flush-seconds", "0.5", "--log-time-from-header"]
        project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(self.log_file, "a") as log:
            log.write(f"\n$ {' '.join(cmd)}\n")
            log.flush()
            self._proc = subprocess.Popen(cmd, cwd=project, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(f"the model server exited with code {self._proc.returncode}: see {self.log_file}")
            try:
                status, _ = self._get(f"/v2/models/{MODEL_NAME}/ready")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise ServerError(f"the model server was not ready within {timeout:.0f}s: see {self.log_file}")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM and wait: a clean shutdown writes every buffered prediction."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ServerError(
                f"the model server did not stop within {timeout:.0f}s (killed): see {self.log_file}"
            ) from None

    def restart(self, model_dir: str, revision: str) -> None:
        self.stop()
        self.start(model_dir, revision)

    # ------------------------------------------------------------------ traffic
    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "port", None) != self.port:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self._local.conn, self._local.port = conn, self.port
        return conn

    def _get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def _predict(self, request_id: str, at_us: int, row: dict[str, Any]) -> float:
        body = json.dumps({"instances": [row]})
        headers = {"Content-Type": "application/json", "x-request-id": request_id, LOG_TIME_HEADER: str(at_us)}
        conn = self._conn()
        try:
            conn.request("POST", f"/v1/models/{MODEL_NAME}:predict", body, headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException):  # a dropped keep-alive connection: one fresh try
            conn.close()
            self._local.conn = None
            conn = self._conn()
            conn.request("POST", f"/v1/models/{MODEL_NAME}:predict", body, headers)
            resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise ServerError(f"request {request_id} answered {resp.status}: {data[:300]!r}")
        return float(json.loads(data)["predictions"][0][0])

    def send(self, request_ids: Sequence[str], times_us: Sequence[int], rows: Sequence[dict[str, Any]]) -> list[float]:
        """One request per row (``clients`` concurrent keep-alive connections); the model's scores, in order."""
        clean = [{k: _json_value(v) for k, v in r.items()} for r in rows]
        rows_for = [{k: v for k, v in r.items() if v is not None} for r in clean]
        with ThreadPoolExecutor(self.clients) as pool:
            return list(pool.map(self._predict, request_ids, times_us, rows_for))
