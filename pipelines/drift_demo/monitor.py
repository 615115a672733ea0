"""One day of monitoring for the drift demo: the monitoring pipeline's decision, plus per-day quality for the chart.

:func:`monitor_day` is the one place the demo asks "is the served model still healthy?". It runs the monitoring
pipeline's steps (``pipelines/monitoring.py``: window statistics, data checks against the production model's training
evidence and the previous window, realised + CBPE-estimated quality, the decision) on a window of the real prediction
log that ends with the day and reaches back to the newest labelled day, so realised quality can decide:

* ``mode="in-process"`` (default): ``pipelines.monitoring_local.monitor_in_process``, the same steps' logic in this
  process (a few seconds a day; the same decision as the kfp.local run, which h/monitor's tests compare);
* ``mode="kfp"``: ``pipelines.monitoring_local.run_monitoring``, the compiled pipeline through kfp.local (about a
  minute a day on 2 cores).

For the chart it also measures, per day, the CBPE estimate on the day's own rows (made that day, before any label)
and the realised quality of the day whose labels arrived today (``components/monitor``: window, quality, cbpe).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from components._shared.artifacts import prediction_log as plog
from components.monitor.cbpe import Calibrator, estimate_quality
from components.monitor.decision import Decision, Thresholds
from components.monitor.quality import Quality, realised_quality
from components.monitor.window import from_records

MODES = ("in-process", "kfp")


@dataclass
class DayReport:
    """What the monitor saw on one simulated day."""

    day: int
    revision: str
    rows: int
    estimated: Quality  # CBPE on the day's rows (no labels yet)
    realised_day: int | None  # the day whose labels arrived today
    realised: Quality | None  # realised quality of that day (the model that served it)
    realised_revision: str = ""
    data: dict[str, float] = field(default_factory=dict)  # max_drift, max_skew, max_psi of the monitored window
    decision: Decision = field(default_factory=lambda: Decision(False))
    decision_dir: str = ""


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_pipeline(mode: str, out_dir: str, **arguments: Any) -> dict[str, Any]:
    """The monitoring pipeline's decision for one window: ({decision.json}, decision artifact dir)."""
    from pipelines import monitoring_local

    if mode == "kfp":
        run = monitoring_local.run_monitoring(out_dir, **arguments)
        if not run.succeeded:
            raise RuntimeError(f"the monitoring pipeline failed: {run.error}")
    elif mode == "in-process":
        run = monitoring_local.monitor_in_process(out_dir, **arguments)
    else:
        raise ValueError(f"monitor mode must be one of {', '.join(MODES)}, got {mode!r}")
    return {**run.decision, "decision_dir": run.decision_dir}


def _realised(log_uri: str, labels: dict, start: datetime) -> tuple[Quality | None, str, int]:
    """Realised quality of the day starting at ``start`` (labels joined by request id), its revision, rows."""
    records = plog.read_window(log_uri, start, start + timedelta(days=1))
    window = from_records(records, labels)
    known = window.labelled
    if not known.any():
        return None, "", 0
    revisions = {str(r.get(plog.REVISION)) for r in records}
    quality = realised_quality(window.labels[known].astype(int), window.scores[known])
    return quality, ",".join(sorted(revisions)), int(known.sum())


def monitor_day(
    log_uri: str,
    labels_uri: str,
    day: int,
    start: datetime,
    label_delay: int,
    model_dir: str,
    revision: str,
    calibrator: Calibrator,
    thresholds: Thresholds,
    out_dir: str,
    mode: str = "in-process",
) -> DayReport:
    """Monitor simulated ``day`` (``start`` = its midnight UTC) for the production model ``model_dir`` (``revision``).

    The pipeline's window is ``[day - label_delay, day + 1)``: its labelled rows are those of the day whose labels
    arrived today. ``calibrator`` (learnt on the model's eval split) makes the chart's per-day CBPE estimate."""
    end = start + timedelta(days=1)
    records = plog.read_window(log_uri, start, end)
    report = DayReport(
        day, revision, len(records), estimate_quality(from_records(records, {}).scores, calibrator), None, None
    )
    if day >= label_delay:
        labels = plog.read_labels(labels_uri)
        report.realised, report.realised_revision, _ = _realised(log_uri, labels, start - timedelta(days=label_delay))
        report.realised_day = day - label_delay
    limits = {
        "tau": thresholds.tau,
        "min_labelled_rows": thresholds.min_labelled_rows,
        "max_drift": thresholds.max_drift,
        "max_skew": thresholds.max_skew,
        "max_psi": thresholds.max_psi,
        "metric": thresholds.metric,
    }
    decision = run_pipeline(
        mode,
        os.path.join(out_dir, f"day-{day:03d}"),
        log_uri=log_uri,
        model_uri=model_dir,
        labels_uri=labels_uri,
        window_start=_iso(start - timedelta(days=min(day, label_delay))),
        window_end=_iso(end),
        **limits,
    )
    report.decision = Decision(
        bool(decision["retrain"]), list(decision.get("reasons", [])), list(decision.get("observations", []))
    )
    report.data = {k: float(decision.get("data", {}).get(k) or 0.0) for k in ("max_drift", "max_skew", "max_psi")}
    report.decision_dir = decision["decision_dir"]
    return report


def realised_of_day(log_uri: str, labels_uri: str, start: datetime) -> tuple[Quality | None, str]:
    """Realised quality of the day starting at ``start`` with every label that has arrived, and who served it."""
    quality, revision, _ = _realised(log_uri, plog.read_labels(labels_uri), start)
    return quality, revision
