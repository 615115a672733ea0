"""The warm start of kfp.local steps behaves like a fresh interpreter: argv, cwd, environment, output
streams and exit status all pass through, and a dead zygote falls back to the real interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.zygote import warm_executable

pytestmark = pytest.mark.local

SCRIPT = (
    "import os, sys; print('cwd', os.getcwd(), 'x', os.environ['KFX_X'], sys.argv[1:]); "
    "print('to stderr', file=sys.stderr); sys.exit(3)"
)


def _run(tmp_path):
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, "a", "b"],
        cwd=tmp_path,
        env={"KFX_X": "42", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_forked_step_gets_argv_cwd_env_streams_and_exit_code(tmp_path):
    with warm_executable(True) as on:
        assert on
        launcher = sys.executable
        done = _run(tmp_path)
    assert launcher != sys.executable  # restored afterwards
    assert done.returncode == 3
    assert f"cwd {tmp_path} x 42 ['a', 'b']" in done.stdout
    assert "to stderr" in done.stderr


def test_disabled_warm_start_leaves_the_interpreter_alone(tmp_path):
    with warm_executable(False) as on:
        assert not on
        done = _run(tmp_path)
    assert done.returncode == 3 and "x 42" in done.stdout
