"""The warm start of kfp.local steps behaves like a fresh interpreter: argv, cwd, environment, output
streams and exit status all pass through; the fork path is really taken; a step's own failing subprocess
is seen as failing; anything the zygote does not recognise, or a dead zygote, falls back to the real
interpreter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pipelines import zygote
from pipelines.zygote import warm_executable

pytestmark = pytest.mark.local

SCRIPT = (
    "import os, sys; print('cwd', os.getcwd(), 'x', os.environ['KFX_X'], sys.argv[1:]); "
    "print('mark', os.environ.get('KFX_WARM_START')); print('to stderr', file=sys.stderr); sys.exit(3)"
)
# a step that runs a subprocess which fails: under the zygote's SIGCHLD=SIG_IGN this used to report 0
SUBPROCESS = "import subprocess, sys; r = subprocess.run(['sh', '-c', 'exit 7']); print('rc', r.returncode); sys.exit(r.returncode)"


def _run(tmp_path, *argv: str, script: str = SCRIPT):
    return subprocess.run(
        [sys.executable, *(argv or ("-c", script, "a", "b"))],
        cwd=tmp_path,
        env={"KFX_X": "42", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def warm():
    with warm_executable(True) as on:
        assert on
        yield sys.executable


def test_forked_step_gets_argv_cwd_env_streams_and_exit_code(warm, tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 3
    assert f"cwd {tmp_path} x 42 ['a', 'b']" in done.stdout
    assert "mark forked" in done.stdout  # the fork path was taken, not the fallback
    assert "to stderr" in done.stderr


def test_failing_subprocess_inside_a_forked_step_is_seen_as_failing(warm, tmp_path):
    done = _run(tmp_path, script=SUBPROCESS)
    assert "rc 7" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 7


def test_unrecognised_argv_goes_to_the_real_interpreter(warm, tmp_path):
    done = _run(tmp_path, "-u", "-c", SCRIPT, "a")
    assert done.returncode == 3
    assert "x 42 ['a']" in done.stdout
    assert "mark None" in done.stdout  # the real interpreter ran it
    assert _run(tmp_path, "--version").stdout.startswith("Python 3")


def test_launcher_and_zygote_recognise_the_same_argv():
    cases = [["-m", "kfp.dsl.executor_main", "--x"], ["-c", "pass"], ["s.py"], ["-u", "-m", "x"], [], ["-"], ["-c"]]
    for argv in cases:
        assert eval(zygote._RECOGNISED_EXPR, {"argv": argv}) == zygote.recognised(argv), argv


def test_zygote_refuses_to_fork_with_a_second_thread(tmp_path):
    """The request loop, run in a second thread of this process: it must answer REFUSED, not fork."""
    import socket
    import struct
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "z.sock"))
    server.listen(1)
    loop = threading.Thread(target=zygote.serve_requests, args=(server, 10**6), daemon=True)
    loop.start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(tmp_path / "z.sock"))
    body = b'{"argv": ["-c", "pass"], "cwd": "/", "env": {}}'
    socket.send_fds(s, [struct.pack("!Q", len(body))], [0, 1, 2])
    s.sendall(body)
    assert s.recv(8) == zygote.REFUSED
    server.shutdown(socket.SHUT_RDWR)  # wakes the loop's accept(): the thread ends, later tests run single-threaded
    loop.join(timeout=30)
    assert not loop.is_alive()


def test_dead_zygote_falls_back_to_the_real_interpreter_quickly(tmp_path):
    with warm_executable(True) as on:
        assert on
        zygote_pid = _zygote_pid()
        os.kill(zygote_pid, signal.SIGKILL)
        time.sleep(0.5)
        start = time.monotonic()
        done = _run(tmp_path)
        waited = time.monotonic() - start
    assert done.returncode == 3 and "x 42" in done.stdout
    assert "mark None" in done.stdout
    assert waited < 30  # no minute-long wait on a dead socket


def _zygote_pid() -> int:
    """The zygote's pid, as written into the launcher (``real, path, zygote_pid = ..., ..., <pid>``)."""
    with open(sys.executable) as f:
        line = next(x for x in f if x.startswith("real, path, zygote_pid"))
    return int(line.rsplit(",", 1)[1])


def test_disabled_warm_start_leaves_the_interpreter_alone(tmp_path):
    with warm_executable(False) as on:
        assert not on
        done = _run(tmp_path)
    assert done.returncode == 3 and "x 42" in done.stdout


def _request(path, code: str, *extra: str):
    """Queue one launcher request (``-c code``, then ``extra`` argv) on the zygote socket at ``path``."""
    import socket
    import struct

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    body = json.dumps({"argv": ["-c", code, *extra], "cwd": os.path.dirname(path), "env": {}}).encode()
    socket.send_fds(s, [struct.pack("!Q", len(body))], [0, 1, 2])
    s.sendall(body)
    s.settimeout(60)
    return s


def _reply(s) -> bytes:
    reply = b""
    while chunk := s.recv(64):
        reply += chunk
    return reply


def test_steps_waiting_between_preload_stages_are_forked_once_their_stage_is_done(tmp_path):
    """``serve_pending`` (run by the zygote after each preload stage) takes every launcher already waiting without
    blocking, forks the steps whose imports are loaded by then and keeps the others for a later stage.

    Run in a fresh interpreter: the zygote refuses to fork from a process with a second thread, and earlier tests
    in this pytest process may have left one (the Kubernetes API test double's server threads)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = f"import pathlib; from tests.local.test_zygote import _stages_scenario; _stages_scenario(pathlib.Path({str(tmp_path)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _stages_scenario(tmp_path) -> None:
    import socket

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "z.sock"))
    server.listen(4)
    out = tmp_path / "out.txt"

    def code(n: int) -> str:
        return f"import os; open({str(out)!r}, 'a').write('step {n} ' + os.environ['KFX_WARM_START'] + '\\n')"

    ingest = _request(tmp_path / "z.sock", code(1), "--function_to_execute", "ingest")
    evaluate = _request(tmp_path / "z.sock", code(2), "--function_to_execute", "evaluate")
    other = _request(tmp_path / "z.sock", code(3))
    waiting, forked = zygote.serve_pending(server, [], 0, 10**6)  # after the first stage: ingest only
    assert _reply(ingest) == zygote.FORKED + b"0"
    assert out.read_text().splitlines() == ["step 1 forked"]
    assert forked == {0}
    assert sorted(r[1]["argv"][-1] for r in waiting) == ["evaluate", code(3)]
    last = len(zygote.PRELOAD_STAGES) - 1
    assert zygote.serve_pending(server, waiting, last, 10**6) == ([], {last})  # returns at once: nobody else queued
    assert _reply(evaluate) == _reply(other) == zygote.FORKED + b"0"
    assert sorted(out.read_text().splitlines()) == ["step 1 forked", "step 2 forked", "step 3 forked"]


def test_preload_stages_hold_what_each_step_imports():
    """The first stage holds what ingest needs and no Beam; each listed step is readied by an existing stage, the
    evaluate step (and anything unlisted) by the last."""
    first = zygote.PRELOAD_STAGES[0]
    assert first[0] == "components"  # TF_USE_LEGACY_KERAS before TensorFlow loads
    assert "components.ingest.logic" in first and "apache_beam" not in first
    assert len(set(zygote.PRELOAD)) == len(zygote.PRELOAD)
    last = len(zygote.PRELOAD_STAGES) - 1
    assert zygote.stage_needed(["-m", "kfp.dsl.executor_main", "--function_to_execute", "ingest"]) == 0
    assert zygote.stage_needed(["-m", "kfp.dsl.executor_main", "--function_to_execute", "evaluate"]) == last
    assert zygote.stage_needed(["-c", "pass"]) == last
    assert all(0 <= stage <= last for stage in zygote.READY_AFTER_STAGE.values())


def _imports_of(step: str) -> list[str]:
    """The modules a kfx step's function imports (kfp.local runs the function's source alone, as on a cluster)."""
    import ast

    component = {"gate": "validate", "import_baseline": "evaluate"}.get(step, step)
    with open(os.path.join(os.path.dirname(zygote.__file__), "..", "components", component, "component.py")) as f:
        tree = ast.parse(f.read())
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == step)
    names = []
    for node in ast.walk(func):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module)
    return names


@pytest.mark.parametrize("stage", sorted(set(zygote.READY_AFTER_STAGE.values())))
def test_steps_forked_after_a_stage_import_nothing_from_a_later_stage(stage):
    """A step forked after its stage must not need a later stage's libraries: what the functions of the steps that
    stage readies import, in a fresh interpreter after the stages so far, loads none of the later stages' packages."""
    steps = sorted(step for step, ready in zygote.READY_AFTER_STAGE.items() if ready == stage)
    imports = [name for step in steps for name in _imports_of(step)]
    assert all(any(n.startswith("components.") for n in _imports_of(step)) for step in steps), imports
    loaded = [n for st in zygote.PRELOAD_STAGES[: stage + 1] for n in st]
    later = {n.split(".")[0] for st in zygote.PRELOAD_STAGES[stage + 1 :] for n in st if not n.startswith("components")}
    probe = (
        "import importlib, sys\n"
        f"for name in {loaded + imports!r}: importlib.import_module(name)\n"
        f"print(sorted(n for n in {sorted(later)!r} if n in sys.modules))\n"
    )
    real = zygote._REAL.get("executable", sys.executable)  # a fresh interpreter, even under the module's warm start
    done = subprocess.run([real, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", steps
