"""Step logging: every step says what it does, how many rows, and how long it took."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator

_FORMAT = "%(asctime)s kfx.%(step)s %(levelname)s %(message)s"


class _StepFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "step"):
            record.step = record.name.removeprefix("kfx.")
        return True


def get_logger(step: str) -> logging.Logger:
    """Logger named ``kfx.<step>`` writing to stderr once per process."""
    root = logging.getLogger("kfx")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler.addFilter(_StepFilter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return logging.getLogger(f"kfx.{step}")


@contextlib.contextmanager
def timed(log: logging.Logger, what: str) -> Iterator[dict]:
    """Log ``what`` on entry and its duration on exit.

    The yielded dict may receive ``rows`` (an int) which is reported too::

        with timed(log, "computing statistics") as t:
            t["rows"] = n
    """
    info: dict = {}
    log.info("%s ...", what)
    start = time.perf_counter()
    try:
        yield info
    except BaseException:
        log.error("%s failed after %.1fs", what, time.perf_counter() - start)
        raise
    seconds = time.perf_counter() - start
    info["seconds"] = seconds
    rows = info.get("rows")
    if rows is not None:
        log.info("%s done: %s rows in %.1fs", what, f"{rows:,}", seconds)
    else:
        log.info("%s done in %.1fs", what, seconds)
