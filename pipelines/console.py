"""What a person sees during a local run: one line per step, the warnings that matter; the rest goes to a log.

``captured(log_path, watcher)`` sends everything this process and its children write to fds 1 and 2 (TF/absl
noise, kfp.local's streamed task logs, Beam) into the log file, and feeds each line to a ``StepWatcher``,
which follows kfp.local's task lines, prints one line per finished step to the terminal and remembers the
failing step's error message (the last ``SomeError: ...`` line of its traceback).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from pipelines import rundir

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_START = re.compile(r"Executing task '([\w-]+)'")
_END = re.compile(r"Task '([\w-]+)' finished with status (\w+)")
_RUN_DIR = re.compile(r"Running pipeline: '([\w-]+)'")
_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)):\s?(.*)$")
_SYNC = "\x00kfx-console-sync"
_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d")
_WARNING = re.compile(r"\bkfx\.\w+ WARNING (.*)$")
#: executor-output metadata worth one word on a step's line, in this order
_FACTS = (
    ("rows", "{:,} rows"),
    ("rows_train", "{:,} train"),
    ("rows_eval", "{:,} eval"),
    ("anomaly_count", "{} anomalies"),
    ("example_count", "{:,} eval examples"),
)


@dataclass
class StepLine:
    name: str
    started: float
    seconds: float = 0.0
    status: str = "RUNNING"
    error: str = ""
    warnings: list[str] = field(default_factory=list)


class StepWatcher:
    """Follows kfp.local's log lines; prints a line per finished step to ``out`` (None: prints nothing)."""

    def __init__(
        self,
        out: TextIO | None,
        run_dir_of: Callable[[], str | None] = lambda: None,
        translate: Callable[[str], str] = lambda text: text,
    ):
        self.out, self.run_dir_of, self.translate = out, run_dir_of, translate
        self.steps: dict[str, StepLine] = {}
        self.current: StepLine | None = None
        self.first_note = ""  # said on the first step's line (e.g. the warm start's one-time import)
        self._tail: deque[str] = deque(maxlen=400)
        self._lock = threading.Lock()
        self._drained = threading.Event()

    @property
    def failed(self) -> StepLine | None:
        return next((s for s in self.steps.values() if s.status == "FAILURE"), None)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every line written to fds 1/2 so far has been fed (the reader runs in its own thread)."""
        self._drained.clear()
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(1, _SYNC.encode() + b"\n")
        return self._drained.wait(timeout)

    def feed(self, raw: str) -> None:
        if raw.startswith(_SYNC):
            self._drained.set()
            return
        line = _ANSI.sub("", raw).rstrip("\n")
        with self._lock:
            if m := _START.search(line):
                self.current = self.steps[m.group(1)] = StepLine(m.group(1), time.time())
                self._tail.clear()
                self._say(f"  {m.group(1):<15} running ...", end="\r")
            elif (m := _END.search(line)) and m.group(1) in self.steps:
                self._finish(self.steps[m.group(1)], m.group(2))
            elif self.current is not None:
                stripped = line.strip()
                self._tail.append(stripped)
                if w := _WARNING.search(stripped):
                    self.current.warnings.append(w.group(1))

    def _finish(self, step: StepLine, status: str) -> None:
        step.status, step.seconds = status, time.time() - step.started
        if status != "SUCCESS":
            step.error = last_error(list(self._tail))
        self.current = None
        facts = self._facts(step.name) if status == "SUCCESS" else shorten(self.translate(step.error or "failed"), 120)
        if len(self.steps) == 1 and self.first_note:
            facts = f"{facts} ({self.first_note})" if facts else f"({self.first_note})"
        mark = "ok" if status == "SUCCESS" else "FAILED"
        self._say(f"  {step.name:<15} {mark:<7} {step.seconds:6.1f}s  {facts}".rstrip())
        for w in step.warnings[:5]:
            self._say(f"  {'':<15} warning: {w}")

    def _facts(self, task: str) -> str:
        run_dir = self.run_dir_of()
        if not run_dir:
            return ""
        outputs = [o["metadata"] for o in rundir.output_artifacts(run_dir, task).values()]
        words = []
        for key, fmt in _FACTS:
            value = next((m[key] for m in outputs if isinstance(m.get(key), int | float)), None)
            if value is not None:
                words.append(fmt.format(int(value)))
        blessed = next((m["blessed"] for m in outputs if "blessed" in m), None)
        if blessed is not None:
            words.append("BLESSED" if blessed else "NOT BLESSED")
        return ", ".join(words)

    def _say(self, text: str, end: str = "\n") -> None:
        if self.out is None or (end == "\r" and not self.out.isatty()):
            return
        self.out.write(("\r\033[K" if self.out.isatty() else "") + text + end)
        self.out.flush()


def shorten(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters: its head (what) and its tail (what to do) stay."""
    if len(text) <= width:
        return text
    head = width * 2 // 5
    return text[:head].rstrip() + " … " + text[-(width - head - 3) :].lstrip()


def plain(text: str) -> str:
    """``text`` without terminal colour codes (kfp.local colours task names and statuses)."""
    return _ANSI.sub("", text)


def last_error(lines: list[str]) -> str:
    """The exception line of the last traceback in ``lines`` (``IngestError: ...``), class name shortened."""
    for i in range(len(lines) - 1, -1, -1):
        m = _ERROR.match(lines[i])
        if m and not lines[i].startswith(("RuntimeError: Task", "RuntimeError: Pipeline")):
            rest = []  # a message that wrapped onto the next lines, up to kfp's next log line
            for x in lines[i + 1 : i + 4]:
                if not x or _LOG_LINE.match(x) or _ERROR.match(x):
                    break
                rest.append(x)
            message = " ".join([m.group(2), *rest]).strip()
            return f"{m.group(1).rsplit('.', 1)[-1]}: {message}"
    return ""


@contextlib.contextmanager
def captured(log_path: str, watcher: StepWatcher) -> Iterator[TextIO]:
    """Send fds 1 and 2 (this process and every child) to ``log_path`` and ``watcher`` while the block runs.

    Yields a stream on the real terminal (the original stdout) for the caller's own lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    read_fd, write_fd = os.pipe()
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115  (closed below)

    def pump() -> None:
        with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as stream:
            for line in stream:
                with contextlib.suppress(Exception):  # a broken line (or a closed log) must not block writers
                    if not line.startswith(_SYNC):
                        log.write(line)
                    watcher.feed(line)

    reader = threading.Thread(target=pump, name="kfx-log", daemon=True)
    reader.start()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    # Python-level writers too (kfp.local logs to sys.stdout, which a host like pytest may have replaced)
    streams = sys.stdout, sys.stderr
    sys.stdout = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        reader.join(timeout=10)  # ends when every writer (children included) has closed the pipe
        log.flush()
        log.close()
        terminal.flush()
        terminal.close()
