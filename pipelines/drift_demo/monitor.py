"""One day of monitoring for the drift demo: realised and estimated quality, input drift, the retraining decision.

:func:`monitor_day` is the one place the demo asks "is the served model still healthy?". It drives the plain-Python
monitor logic of ``components/monitor`` (window, realised quality, CBPE, decision) on the real prediction log and
the labels file; drift is measured here against the production model's training data (PSI on deciles for continuous
features, L-infinity distance of frequencies for categorical and small-integer ones). When the monitoring pipeline
(``pipelines/monitoring.py``, run through kfp.local) lands, this function is what switches to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from components._shared.artifacts import prediction_log as plog
from components.datagen.fraud import CATEGORICAL, LABEL, NUMERIC
from components.monitor.cbpe import Calibrator, estimate_quality
from components.monitor.decision import Decision, Thresholds, decide
from components.monitor.quality import Quality, realised_quality
from components.monitor.window import from_records

#: numeric features with at most this many distinct values are compared as categories (PSI misreads point masses)
DISCRETE_VALUES = 30


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
    drift: dict[str, float] = field(default_factory=dict)  # feature -> PSI or L-inf vs training data
    max_psi: float = 0.0
    max_linf: float = 0.0
    decision: Decision = field(default_factory=lambda: Decision(False))


def _records(log_uri: str, start: datetime, end: datetime) -> list[dict]:
    return plog.read_window(log_uri, start, end)


def _psi(ref: np.ndarray, cur: np.ndarray, eps: float = 1e-4) -> float:
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1]))
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1) / max(ref.size, 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1) / max(cur.size, 1)
    r, c = np.maximum(r, eps), np.maximum(c, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def _linf(ref: pd.Series, cur: pd.Series) -> float:
    r = ref.astype(str).value_counts(normalize=True)
    c = cur.astype(str).value_counts(normalize=True)
    return float(r.sub(c, fill_value=0.0).abs().max())


def input_drift(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[dict[str, float], float, float]:
    """{feature: distance} of ``current`` vs ``reference`` (missing values left out), max PSI, max L-inf."""
    out, max_psi, max_linf = {}, 0.0, 0.0
    for f in CATEGORICAL + NUMERIC:
        if f not in current:
            continue
        ref, cur = reference[f].dropna(), current[f].dropna()
        if ref.empty or cur.empty:
            continue
        if f in NUMERIC and ref.nunique() > DISCRETE_VALUES:
            out[f] = _psi(ref.to_numpy(dtype=float), cur.to_numpy(dtype=float))
            max_psi = max(max_psi, out[f])
        else:
            out[f] = _linf(ref, cur)
            max_linf = max(max_linf, out[f])
    return out, max_psi, max_linf


def _realised(log_uri: str, labels: dict, start: datetime) -> tuple[Quality | None, str, int]:
    """Realised quality of the day starting at ``start`` (labels joined by request id), its revision, rows."""
    records = _records(log_uri, start, start + timedelta(days=1))
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
    revision: str,
    calibrator: Calibrator,
    reference: pd.DataFrame,
    thresholds: Thresholds,
) -> DayReport:
    """Monitor simulated ``day`` (``start`` = its midnight UTC) for the model served as ``revision``.

    Estimated quality: CBPE on the day's rows. Realised quality: the day ``label_delay`` days back, whose labels
    arrived today; it counts for the decision only when ``revision`` served that day (a model is judged on its own
    predictions). Drift: the day's inputs against ``reference`` (the production model's training data)."""
    records = _records(log_uri, start, start + timedelta(days=1))
    window = from_records(records, {})
    estimated = estimate_quality(window.scores, calibrator)
    current = pd.DataFrame([{k: r.get(k) for k in CATEGORICAL + NUMERIC} for r in records])
    drift, max_psi, max_linf = input_drift(reference.drop(columns=[LABEL], errors="ignore"), current)
    report = DayReport(day, revision, len(window), estimated, None, None, drift=drift, max_psi=max_psi)
    report.max_linf = max_linf
    if day >= label_delay:
        labels = plog.read_labels(labels_uri)
        report.realised, report.realised_revision, _ = _realised(log_uri, labels, start - timedelta(days=label_delay))
        report.realised_day = day - label_delay
    own = report.realised if report.realised_revision == revision else None
    report.decision = decide(thresholds, own, estimated, max_drift=max_linf, max_psi=max_psi)
    return report


def realised_of_day(log_uri: str, labels_uri: str, start: datetime) -> tuple[Quality | None, str]:
    """Realised quality of the day starting at ``start`` with every label that has arrived, and who served it."""
    quality, revision, _ = _realised(log_uri, plog.read_labels(labels_uri), start)
    return quality, revision
