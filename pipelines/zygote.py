"""A warm start for kfp.local's steps: one process imports TensorFlow and the TFX libraries once, and every
pipeline step runs in a fresh ``fork()`` of it instead of a fresh interpreter.

kfp.local's SubprocessRunner starts each step as ``python3 -m kfp.dsl.executor_main ...`` (it puts
``sys.executable`` in place of ``python3``). Each such start re-imports TensorFlow, Beam, TFDV, TFT and TFMA:
about 10 s of a 2-core machine per step, several times the work of a small step. ``warm_executable()`` points
``sys.executable`` at a tiny launcher for the duration of a local run; the launcher hands its argv,
environment, working directory and stdin/stdout/stderr (as file descriptors) to this zygote over a Unix
socket, the zygote forks, the child runs the very same ``kfp.dsl.executor_main`` with them, and the launcher
exits with the child's exit code. kfp.local sees an ordinary subprocess: same command, same output stream,
same exit status. Every step starts from a freshly imported state (nothing leaks between steps).

The preload is on the run's critical path (the first step waits for it), so it goes in stages
(``PRELOAD_STAGES``, in the order the steps need the libraries): a kfx step waiting for the stage that holds its
imports (``READY_AFTER_STAGE``) is forked as soon as that stage is done and runs while the zygote imports the
next one (a stage starts once a step of the stage before has been forked, so it overlaps that step and not
the small steps after it) (as on a cluster, where a step imports only what it needs, it has not loaded the later libraries;
it imports anything else itself, exactly as a fresh interpreter would); any other step waits for the whole
preload. The listening socket is made by the parent before the zygote starts (its fd is passed down), so
nobody polls for it.

The launcher ``exec``s the real interpreter instead (a step never depends on the zygote) when:

- the argv is not one it recognises (``-m module ...``, ``-c code ...``, ``script.py ...``; any interpreter
  option such as ``-u``/``-W``/``-I``, a bare ``python`` or ``-`` goes to the real interpreter);
- the zygote is dead or unreachable (checked by its pid, so a dead zygote costs no wait);
- the zygote refuses to fork: when it runs more Python threads than its main one, or more OS threads than it
  had right after the preload (forking a process whose other threads hold locks is unsafe). TensorFlow and
  pyarrow start a few idle native threads during the preload; that state (at the end of a stage, for a step
  forked between stages) is the one every step forks from.

The forked child resets what the zygote changed for itself: SIGCHLD back to SIG_DFL (with the zygote's
SIG_IGN, a step's own subprocesses — Beam's multi-processing workers, ``subprocess.run`` — would report
exit code 0 whatever happened), SIGINT/SIGTERM/SIGHUP to a fresh interpreter's handlers, and it marks
itself with ``KFX_WARM_START=forked`` in its environment. Disable with ``KFX_LOCAL_WARM_START=0``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator

#: imported once by the zygote, stage by stage in the order the pipeline's steps need them (ingest needs TensorFlow;
#: statistics, schema and validate TFDV on Beam; transform and train TF Transform; evaluate TFMA). A step waiting
#: for its stage (``READY_AFTER_STAGE``) is forked as soon as that stage is done and runs while the zygote imports
#: the next ones, so only the stages before it are on the run's critical path instead of the whole preload.
PRELOAD_STAGES: tuple[tuple[str, ...], ...] = (
    ("components", "tensorflow", "tf_keras", "kfp.dsl.executor_main", "components.ingest.logic"),
    (
        "apache_beam",
        "tensorflow_data_validation",
        "components.statistics.logic",
        "components.schema.logic",
        "components.validate.logic",
    ),
    ("tensorflow_transform", "tensorflow_transform.beam", "components.transform.logic", "components.train.logic"),
    ("tensorflow_model_analysis", "components.evaluate.logic"),
)
#: everything the zygote imports before its steady state
PRELOAD = tuple(name for stage in PRELOAD_STAGES for name in stage)
#: the stage after which a kfx step (its ``--function_to_execute``) has everything it imports. Any other step waits
#: for the whole preload: forked earlier it would import the rest itself, beside the zygote importing the same.
READY_AFTER_STAGE = {
    "ingest": 0,
    "gate": 0,
    "import_baseline": 0,
    "statistics": 1,
    "schema": 1,
    "validate": 1,
    "transform": 2,
    "train": 2,
}


def stage_needed(argv: list[str]) -> int:
    """The preload stage after which the step ``argv`` can be forked (the last one for anything not listed)."""
    last = len(PRELOAD_STAGES) - 1
    if "--function_to_execute" in argv[:-1]:
        return READY_AFTER_STAGE.get(argv[argv.index("--function_to_execute") + 1], last)
    return last


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


def serve(server: socket.socket) -> None:
    """The zygote: ``server`` listens already (launchers queue); import stage by stage, forking after each stage the
    waiting steps it readies, then fork one child per step."""
    import importlib

    waiting: list[Request] = []
    last = len(PRELOAD_STAGES) - 1
    for done, stage in enumerate(PRELOAD_STAGES):
        for name in stage:
            importlib.import_module(name)
        # the next stage starts beside a step this one readied (or when a step needs it), never while the small steps
        # readied earlier queue behind it: TFMA, say, loads beside transform, not in the way of schema and validate
        while True:
            waiting, forked = serve_pending(server, waiting, done, _os_threads())
            if done == last or waiting or done in forked:
                break
            select.select([server], [], [])  # the next launcher
    preloaded_threads = _os_threads()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically from now on
    _reap()  # the steps forked between stages, if they are done already
    for request in waiting:  # none is left after the last stage; kept for clarity
        fork_or_refuse(server, request, preloaded_threads)
    serve_requests(server, preloaded_threads)


#: a launcher's request: its connection, the request (argv, cwd, env) and its stdin/stdout/stderr
Request = tuple[socket.socket, dict, list[int]]


def _reap() -> None:
    """Reap the zygote's finished children (their exit codes went to their launchers over the socket)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def serve_pending(
    server: socket.socket, waiting: list[Request], done: int, threads: int
) -> tuple[list[Request], set[int]]:
    """After preload stage ``done``: take every launcher already queued (without blocking), fork the steps the stages
    so far ready (``stage_needed``); returns the requests still waiting for a later stage and the stages the forked
    steps needed.

    SIGCHLD keeps its default during the preload (an import's own ``subprocess.run`` must see its exit code), so
    finished children are reaped here."""
    _reap()
    while select.select([server], [], [], 0)[0]:
        conn, _ = server.accept()
        request = read_request(conn)
        if request is not None:
            waiting.append(request)
    later, forked = [], set()
    for request in waiting:
        needed = stage_needed(request[1]["argv"])
        if needed <= done:
            fork_or_refuse(server, request, threads)
            forked.add(needed)
        else:
            later.append(request)
    return later, forked


def serve_requests(server: socket.socket, preloaded_threads: int) -> None:
    """Fork one child per launcher request; refuse (the launcher falls back) when forking is not safe."""
    while True:
        conn, _ = server.accept()
        request = read_request(conn)
        if request is not None:
            fork_or_refuse(server, request, preloaded_threads)


def read_request(conn: socket.socket) -> Request | None:
    """One launcher's request from ``conn`` (None, connection closed, when it is malformed)."""
    try:
        header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
        (length,) = _HEADER.unpack(header)
        return conn, json.loads(_recv_exact(conn, length)), fds
    except (OSError, ValueError, struct.error):
        conn.close()
        return None


def fork_or_refuse(server: socket.socket, request: Request, preloaded_threads: int) -> None:
    """Fork the child of one request, or refuse it when forking is not safe (the launcher falls back)."""
    conn, body, fds = request
    if threading.active_count() > 1 or _os_threads() > preloaded_threads or not recognised(body["argv"]):
        with contextlib.suppress(OSError):
            conn.sendall(REFUSED)
    elif os.fork() == 0:
        server.close()
        conn.sendall(FORKED)
        _run_child(conn, body, fds)
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
        # the socket listens before the zygote starts: no wait for it here, launchers queue from the first step on
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(sock)
        server.listen(16)
        zygote = subprocess.Popen(
            [real, "-m", "pipelines.zygote", str(server.fileno())], start_new_session=True, pass_fds=[server.fileno()]
        )
        server.close()  # the zygote holds it now
        with open(launcher, "w") as f:
            code = LAUNCHER.format(real=real, socket=sock, pid=zygote.pid, recognised=_RECOGNISED_EXPR)
            f.write(f"#!{real} -S\n" + code)
        os.chmod(launcher, 0o755)
        ready = zygote.poll() is None
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
    serve(socket.socket(fileno=int(sys.argv[1])))
