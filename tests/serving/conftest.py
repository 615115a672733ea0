"""Serving fixtures: a real kfx model (built in the components env) and a real kfx model server process.

These tests run in the serving environment: ``.venv-serving/bin/python -m pytest tests/serving``.
The model comes from ``tests/testdata/build_serving_model.py`` run with ``.venv/bin/python`` (TFT is
not in the serving env); its output is cached in the temp dir under a hash of the sources that
shape the model, so reruns start in seconds.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

# The components env has no kserve: there these modules are not even imported (they run in .venv-serving).
collect_ignore_glob = [] if importlib.util.find_spec("kserve") else ["test_*.py"]

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_NAME = "fraud"
MAX_BATCH = 64


@pytest.fixture(scope="session")
def served_model() -> dict:
    """{"model_dir", "instances", "predictions", ...}: a real model and its training-env predictions."""
    from tests.testdata.build_serving_model import ensure_built

    try:
        return ensure_built()
    except (FileNotFoundError, RuntimeError) as e:
        pytest.fail(str(e))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    proc: subprocess.Popen
    log_path: str
    health_codes: list[tuple[int, int]] = field(default_factory=list)  # (/v2/health/ready, /v1/models/<name>)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()


def start_server(model_dir: str, log_dir: str, *extra: str, timeout: float = 180.0) -> Server:
    """Start ``python -m components.serving`` and poll its health endpoints until ready (codes recorded)."""
    port = free_port()
    log_path = os.path.join(log_dir, f"server-{port}.log")
    cmd = [sys.executable, "-m", "components.serving", "--model-dir", model_dir, "--model-name", MODEL_NAME]
    cmd += ["--http-port", str(port), "--max-batch-size", str(MAX_BATCH), *extra]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", port, proc, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"model server exited with {proc.returncode}:\n{server.log()[-5000:]}")
        try:
            ready = requests.get(f"{server.url}/v2/health/ready", timeout=2).status_code
            model = requests.get(f"{server.url}/v1/models/{MODEL_NAME}", timeout=2).status_code
        except requests.ConnectionError:
            time.sleep(0.05)
            continue
        server.health_codes.append((ready, model))
        if ready == 200 and model == 200:
            return server
        time.sleep(0.02)
    stop_server(server)
    raise RuntimeError(f"model server not ready after {timeout}s:\n{server.log()[-5000:]}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture(scope="session")
def server(served_model: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(served_model["model_dir"], str(tmp_path_factory.mktemp("server")))
    yield srv
    stop_server(srv)
