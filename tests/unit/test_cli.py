"""The quiet command line: one line per step from kfp.local's log, the failing step's own error message,
anomalies with the split they come from, advice in CLI flags, the full log in a file."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from pipelines.console import StepWatcher, captured, last_error
from pipelines.run import RunSummary, print_summary

pytestmark = pytest.mark.unit

C, G, R, X = "\x1b[96m", "\x1b[92m", "\x1b[91m", "\x1b[0m"
KFP_LOG = [
    f"06:51:19.742 - INFO - Executing task {C}'ingest'{X}",
    "06:51:19.743 - INFO - Streamed logs:",
    "    2026-11-27 06:51:23.7: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:479] Unable to register cuFFT",
    "    06:51:40 kfx.ingest WARNING 2 rows have an empty label",
    f"06:51:49.516 - INFO - Task {C}'ingest'{X} finished with status {G}SUCCESS{X}",
    f"06:51:49.517 - INFO - Executing task {C}'statistics'{X}",
    "    Traceback (most recent call last):",
    '      File "x.py", line 1, in <module>',
    "    components.statistics.logic.StatisticsError: CSV file d.csv: line 11 has 6 cells but the header has",
    "    5 columns; fix or remove the row",
    f"06:51:50.141 - ERROR - Task {C}'statistics'{X} finished with status {R}FAILURE{X}",
]


def test_watcher_prints_one_line_per_step_with_warnings_and_the_error():
    out = io.StringIO()
    w = StepWatcher(out)
    for line in KFP_LOG:
        w.feed(line + "\n")
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:2] == ["ingest", "ok"]
    assert lines[1].strip() == "warning: 2 rows have an empty label"
    assert lines[2].split()[:2] == ["statistics", "FAILED"]
    assert "StatisticsError: CSV file d.csv: line 11 has 6 cells but the header has 5 columns" in lines[2]
    assert len(lines) == 3  # the CUDA noise stays in the log
    assert w.failed.name == "statistics"


def test_last_error_takes_the_last_exception_line_not_kfps():
    lines = ["Traceback (most recent call last):", "ValueError: first", "06:51:50.141 - ERROR - Task 'x' finished"]
    assert last_error(lines) == "ValueError: first"
    assert last_error([*lines, "RuntimeError: Task 'x' finished with status FAILURE"]) == "ValueError: first"
    assert last_error(["no error here"]) == ""


def test_summary_names_the_failing_step_its_error_and_the_split_of_each_anomaly():
    s = RunSummary(
        run_dir="/runs/x",
        succeeded=False,
        failed_step="validate",
        error="step 'validate' failed: DataValidationError: 1 anomaly; run with fail_on_anomalies=False to continue",
        findings=[{"feature": "amount", "kind": "SCHEMA_MISSING_COLUMN", "source": "eval", "description": "gone"}],
        anomaly_count=1,
        log_file="/runs/x/kfx-run.log",
    )
    out = io.StringIO()
    print_summary(s, out)
    text = out.getvalue()
    assert "FAILED at step 'validate'" in text
    assert "DataValidationError: 1 anomaly; run with --no-fail-on-anomalies to continue" in text
    assert "[eval split vs schema] `amount`: SCHEMA_MISSING_COLUMN" in text
    assert "full log:      /runs/x/kfx-run.log" in text


def test_captured_sends_this_process_and_children_to_the_log(tmp_path):
    log = tmp_path / "run.log"
    w = StepWatcher(None)
    with captured(str(log), w) as terminal:
        print("from python")  # sys.stdout, even where a host (pytest) replaced it
        os.write(1, b"from fd 1\n")
        os.write(2, b"from fd 2\n")
        subprocess.run([sys.executable, "-c", "print('from a child')"], check=True)
        assert w.drain(timeout=30)  # every line so far has reached the watcher
        assert terminal.fileno() not in (1, 2)
    text = log.read_text()
    assert "kfx-console-sync" not in text
    assert "from python" in text and "from fd 1" in text and "from fd 2" in text and "from a child" in text
