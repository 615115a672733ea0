"""A warm start for kfp.local's steps: one process imports TensorFlow and the TFX libraries once, and every
pipeline step runs in a fresh ``fork()`` of it instead of a fresh interpreter.

kfp.local's SubprocessRunner starts each step as ``python3 -m kfp.dsl.executor_main ...`` (it puts
``sys.executable`` in place of ``python3``). Each such start re-imports TensorFlow, Beam, TFDV, TFT and TFMA:
about 10 s of a 2-core machine per step, several times the work of a small step. ``warm_executable()`` points
``sys.executable`` at a tiny launcher for the duration of a local run; the launcher hands its argv,
environment, working directory and stdin/stdout/stderr (as file descriptors) to this zygote over a Unix
socket, the zygote forks, the child runs the very same ``kfp.dsl.executor_main`` with them, and the launcher
exits with the child's exit code. kfp.local sees an ordinary subprocess: same command, same output stream,
same exit status. Every step starts from the same freshly imported state (nothing leaks between steps).

If the zygote is unreachable the launcher ``exec``s the real interpreter, so a step never depends on it.
Disable with ``KFX_LOCAL_WARM_START=0``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

#: imported once by the zygote; every step is forked with them loaded
PRELOAD = (
    "components",
    "tensorflow",
    "tf_keras",
    "apache_beam",
    "tensorflow_data_validation",
    "tensorflow_transform",
    "tensorflow_transform.beam",
    "tensorflow_model_analysis",
    "kfp.dsl.executor_main",
    "components.ingest.logic",
    "components.statistics.logic",
    "components.schema.logic",
    "components.validate.logic",
    "components.transform.logic",
    "components.train.logic",
    "components.evaluate.logic",
)

_HEADER = struct.Struct("!Q")

# The launcher runs with `python -S` (no site, stdlib only): it must start in milliseconds.
LAUNCHER = r"""
import json, os, socket, struct, sys, time
real, path = {real!r}, {socket!r}
argv = sys.argv[1:]
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(600):
        try:
            s.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.1)
    else:
        raise OSError("zygote not listening")
    body = json.dumps({{"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
    socket.send_fds(s, [struct.pack("!Q", len(body))], [0, 1, 2])
    s.sendall(body)
    reply = b""
    while True:
        chunk = s.recv(64)
        if not chunk:
            break
        reply += chunk
    code = int(reply or b"1")
except OSError:
    os.execv(real, [real] + argv)
sys.exit(code)
"""


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("launcher went away")
        buf += chunk
    return buf


def _run_child(conn: socket.socket) -> None:
    """In the forked child: become the launcher's process and run its command."""
    header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
    (length,) = _HEADER.unpack(header)
    request = json.loads(_recv_exact(conn, length))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    code = 1
    try:
        import runpy

        if argv[:1] == ["-c"]:
            sys.argv = ["-c", *argv[2:]]
            exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
        elif argv[:1] == ["-m"]:
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = argv
            runpy.run_path(argv[0], run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int | None):
            print(e.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            conn.sendall(str(code).encode())
        os._exit(code)


def serve(socket_path: str) -> None:
    """The zygote: listen first (launchers queue), import everything, then fork one child per step."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(16)
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    while True:
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            _run_child(conn)
        conn.close()


@contextlib.contextmanager
def warm_executable(enabled: bool | None = None) -> Iterator[bool]:
    """Point ``sys.executable`` at the warm-start launcher while the block runs (yields whether it is on)."""
    if enabled is None:
        enabled = os.environ.get("KFX_LOCAL_WARM_START", "1") != "0"
    if not enabled or not hasattr(socket, "send_fds") or sys.platform == "win32":
        yield False
        return
    real = sys.executable
    with tempfile.TemporaryDirectory(prefix="kfx-zygote-") as tmp:
        sock = os.path.join(tmp, "zygote.sock")
        launcher = os.path.join(tmp, "python")
        with open(launcher, "w") as f:
            f.write(f"#!{real} -S\n" + LAUNCHER.format(real=real, socket=sock))
        os.chmod(launcher, 0o755)
        zygote = subprocess.Popen([real, "-m", "pipelines.zygote", sock], start_new_session=True)
        deadline = time.time() + 30
        while not os.path.exists(sock) and zygote.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if zygote.poll() is not None or not os.path.exists(sock):
            yield False
            return
        sys.executable = launcher
        try:
            yield True
        finally:
            sys.executable = real
            with contextlib.suppress(ProcessLookupError):
                os.killpg(zygote.pid, signal.SIGTERM)
            zygote.wait(timeout=30)


if __name__ == "__main__":
    serve(sys.argv[1])
