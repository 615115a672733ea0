"""tensorflow-io's s3:// filesystem, and the exit guard it needs (checked with tensorflow-io 0.37.1, TF 2.16.2).

TensorFlow 2.16 has no S3 filesystem; importing ``tensorflow_io`` registers one (configured by ``S3_ENDPOINT``,
``S3_USE_HTTPS``, ``S3_VERIFY_SSL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``). Once it has
been used, the process aborts *at exit*, after all Python work ("pure virtual method called", SIGABRT, exit 134;
tensorflow/io#2039, fixed upstream after 0.37.1, the last release). On a cluster that turns every successful step
that touched s3:// into a failed task, whose outputs KFP then never publishes.

:func:`register_s3` imports the plugin and installs an exit guard: at interpreter exit (``atexit``, i.e. after the
component's outputs are written) it flushes the standard streams and ends the process with ``os._exit`` before C++
static destructors run, keeping the exit status Python would have given: 1 after an uncaught exception, the code
passed to ``sys.exit``, else 0. ``tests/unit/compat/test_tensorflow_io.py`` checks both that the guard keeps each
status and that the abort still happens without it (so the guard is removed once a fixed release is locked).
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

_state: dict[str, Any] = {"installed": False, "status": 0}


def _exit_status(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what the interpreter does with sys.exit("message")
    return 1


def _install_guard() -> None:
    if _state["installed"] or os.environ.get("KFX_S3_EXIT_GUARD", "1") == "0":
        return
    _state["installed"] = True
    previous_hook, previous_exit = sys.excepthook, sys.exit

    def excepthook(*args: Any) -> None:
        _state["status"] = 1
        previous_hook(*args)

    def exit_(code: Any = None) -> None:
        _state["status"] = _exit_status(code)
        previous_exit(code)

    def guard() -> None:
        atexit.unregister(guard)
        atexit._run_exitfuncs()  # the handlers registered before this one (logging.shutdown, ...) still run
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(_state["status"])

    sys.excepthook = excepthook
    sys.exit = exit_
    atexit.register(guard)  # runs first (LIFO), runs the others itself, then ends the process


def register_s3() -> None:
    """Make ``tf.io.gfile`` understand ``s3://`` and keep the process's exit status intact (see the module doc)."""
    try:
        import tensorflow_io  # noqa: F401  (registers the s3:// filesystem on import)
    except ImportError as e:
        raise ImportError(
            "s3:// needs tensorflow-io==0.37.1 (in kfx's runtime image and components lock); it is not installed"
        ) from e
    _install_guard()
