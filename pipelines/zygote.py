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

The launcher ``exec``s the real interpreter instead (a step never depends on the zygote) when:

- the argv is not one it recognises (``-m module ...``, ``-c code ...``, ``script.py ...``; any interpreter
  option such as ``-u``/``-W``/``-I``, a bare ``python`` or ``-`` goes to the real interpreter);
- the zygote is dead or unreachable (checked by its pid, so a dead zygote costs no wait);
- the zygote refuses to fork: when it runs more Python threads than its main one, or more OS threads than it
  had right after the preload (forking a process whose other threads hold locks is unsafe). TensorFlow and
  pyarrow start a few idle native threads during the preload; that state is the one every step forks from.

The forked child resets what the zygote changed for itself: SIGCHLD back to SIG_DFL (with the zygote's
SIG_IGN, a step's own subprocesses — Beam's multi-processing workers, ``subprocess.run`` — would report
exit code 0 whatever happened), SIGINT/SIGTERM/SIGHUP to a fresh interpreter's handlers, and it marks
itself with ``KFX_WARM_START=forked`` in its environment. Disable with ``KFX_LOCAL_WARM_START=0``.
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
import threading
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

#: the zygote's first reply byte: it forked a child for the request, or it refuses (the launcher falls back)
FORKED, REFUSED = b"F", b"R"
#: set in a forked step's environment (tests assert the fork path is really taken)
MARK = ("KFX_WARM_START", "forked")


def recognised(argv: list[str]) -> bool:
    """Whether the zygote runs ``argv`` like the real interpreter would; anything else goes to the real one."""
    if len(argv) >= 2 and argv[0] in ("-m", "-c"):
        return bool(argv[1])
    return bool(argv) and not argv[0].startswith("-") and argv[0].endswith(".py")


# The launcher runs with `python -S` (no site, stdlib only): it must start in milliseconds.
LAUNCHER = r"""
import json, os, socket, struct, sys, time
real, path, zygote_pid = {real!r}, {socket!r}, {pid!r}
argv = sys.argv[1:]

def fallback():
    os.execv(real, [real] + argv)

def alive():
    try:
        os.kill(zygote_pid, 0)
        with open("/proc/%d/stat" % zygote_pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead too
    except FileNotFoundError:
        return True  # no /proc: the kill() check is all there is
    except OSError:
        return False

if not ({recognised}):
    fallback()
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(600):
        if not alive():
            raise OSError("zygote is dead")
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
except OSError:
    fallback()
if not reply.startswith(b"F"):
    fallback()  # refused, or died before forking: nothing ran yet
try:
    code = int(reply[1:])
except ValueError:
    code = 1  # the child died without reporting (killed by a signal)
sys.exit(code)
"""

# the launcher's copy of `recognised` (it cannot import this module: it runs with `python -S`, no site)
_RECOGNISED_EXPR = (
    '(len(argv) >= 2 and argv[0] in ("-m", "-c") and bool(argv[1])) '
    'or (bool(argv) and not argv[0].startswith("-") and argv[0].endswith(".py"))'
)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("launcher went away")
        buf += chunk
    return buf


def _reset_signals() -> None:
    """A fresh interpreter's signal handling (the zygote ignores SIGCHLD to reap its children)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)


def _run_child(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the launcher's process and run its command."""
    _reset_signals()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ[MARK[0]] = MARK[1]
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


def _os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def serve(socket_path: str) -> None:
    """The zygote: listen first (launchers queue), import everything, then fork one child per step."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(16)
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    preloaded_threads = _os_threads()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    serve_requests(server, preloaded_threads)


def serve_requests(server: socket.socket, preloaded_threads: int) -> None:
    """Fork one child per launcher request; refuse (the launcher falls back) when forking is not safe."""
    while True:
        conn, _ = server.accept()
        try:
            header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
            (length,) = _HEADER.unpack(header)
            request = json.loads(_recv_exact(conn, length))
        except (OSError, ValueError, struct.error):
            conn.close()
            continue
        if threading.active_count() > 1 or _os_threads() > preloaded_threads or not recognised(request["argv"]):
            with contextlib.suppress(OSError):
                conn.sendall(REFUSED)
        elif os.fork() == 0:
            server.close()
            conn.sendall(FORKED)
            _run_child(conn, request, fds)
        for fd in fds:
            os.close(fd)
        conn.close()


_REAL: dict[str, str] = {}  # the real interpreter while a warm start is active


@contextlib.contextmanager
def warm_executable(enabled: bool | None = None) -> Iterator[bool]:
    """Point ``sys.executable`` at the warm-start launcher while the block runs (yields whether it is on)."""
    if enabled is None:
        enabled = os.environ.get("KFX_LOCAL_WARM_START", "1") != "0"
    if not enabled or not hasattr(socket, "send_fds") or sys.platform == "win32":
        yield False
        return
    real = _REAL.get("executable") or sys.executable  # nested: the real interpreter, not the outer launcher
    with tempfile.TemporaryDirectory(prefix="kfx-zygote-") as tmp:
        sock = os.path.join(tmp, "zygote.sock")
        launcher = os.path.join(tmp, "python")
        zygote = subprocess.Popen([real, "-m", "pipelines.zygote", sock], start_new_session=True)
        with open(launcher, "w") as f:
            code = LAUNCHER.format(real=real, socket=sock, pid=zygote.pid, recognised=_RECOGNISED_EXPR)
            f.write(f"#!{real} -S\n" + code)
        os.chmod(launcher, 0o755)
        deadline = time.time() + 30
        while not os.path.exists(sock) and zygote.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        ready = zygote.poll() is None and os.path.exists(sock)
        previous, outermost = sys.executable, "executable" not in _REAL
        if ready:
            sys.executable = launcher
            _REAL.setdefault("executable", real)
        try:
            yield ready
        finally:
            sys.executable = previous
            if outermost:
                _REAL.pop("executable", None)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(zygote.pid, signal.SIGTERM)
            zygote.wait(timeout=30)


if __name__ == "__main__":
    serve(sys.argv[1])
