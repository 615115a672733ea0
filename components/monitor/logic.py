"""The monitoring decision step: realised and estimated quality of a window, the data checks, retrain or not.

``decide_window`` reads the window of the prediction log (labels joined by request id where they have arrived),
learns the CBPE calibrator (below), measures estimated quality (CBPE) on all rows of the window and realised quality
on its labelled rows, overall and per slice. Labels arrive late, so a day's window rarely has any yet: with
``labels_lookback_hours`` longer than the window, realised quality is measured on the labelled rows the same model
logged in those hours up to the window's end (e.g. 168: the last week's predictions whose labels have arrived). It reads the data checks (``components.monitor.checks``) and applies the decision rules
(``components.monitor.decision.decide``). It writes the decision artifact (``decision.json`` + report) and returns
the decision.

**Where CBPE's calibrator is learnt**: on the *labelled* rows the same model (``kfx_model`` + ``kfx_revision`` most
common in the window) logged in the ``calibration_hours`` before the window: the production model's own
probabilities against the labels that have arrived since. It needs no data outside the log, works the same on a
cluster, and follows the model when a new one is rolled out. With fewer than ``min_calibration_rows`` labelled rows
of both classes, CBPE uses the raw probabilities (the report says so): a kfx model's sigmoid outputs are close to
calibrated on its training distribution.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from components._shared.artifacts import anomalies as anomalies_artifact
from components._shared.artifacts import decision as decision_artifact
from components._shared.artifacts import prediction_log as plog
from components._shared.artifacts import register_filesystem
from components._shared.log import get_logger
from components.monitor.assess import Assessment, assess
from components.monitor.cbpe import Calibrator, fit_calibrator
from components.monitor.decision import Decision, Thresholds, decide
from components.monitor.log_statistics import Span, iso, parse_time
from components.monitor.window import Window, from_records

log = get_logger("monitor")


#: what the decision keeps of the data checks' report.json
DATA_KEYS = ("max_drift", "max_skew", "max_psi", "schema_anomaly_count", "features", "findings", "num_examples")


class MonitoringError(RuntimeError):
    """The window cannot be assessed (no predictions, unreadable labels, non-binary outputs)."""


@dataclass
class MonitoringResult:
    decision: Decision
    record: dict[str, Any]  # what decision.json holds

    @property
    def metrics(self) -> dict[str, float]:
        """Flat numbers for the KFP UI's Metrics."""
        q, d = self.record["quality"]["overall"], self.record["data"]
        out = {"retrain": float(self.decision.retrain), "rows": float(self.record["window"]["rows"]),
               "labelled_rows": float(self.record["window"]["labelled"])}  # fmt: skip
        out.update({f"realised_{k}": v for k, v in q["realised"].items() if k in ("auc", "f1", "precision", "recall")})
        out.update(
            {f"estimated_{k}": v for k, v in q["estimated"].items() if k in ("auc", "f1", "precision", "recall")}
        )
        out.update({k: float(d[k]) for k in ("max_drift", "max_skew", "max_psi", "schema_anomaly_count")})
        return out


def _model_key(record: dict[str, Any]) -> tuple[str, str]:
    return str(record.get(plog.MODEL) or ""), str(record.get(plog.REVISION) or "")


def calibrate(
    log_uri: str, span: Span, model: tuple[str, str], labels: dict[str, Any], hours: float, min_rows: int
) -> tuple[Calibrator | None, dict[str, Any]]:
    """The CBPE calibrator of ``model`` from its labelled predictions in the ``hours`` before ``span``."""
    if hours <= 0:
        return None, {"method": "raw probabilities", "note": "calibration_hours = 0", "rows": 0}
    before = Span(span.start - timedelta(hours=hours), span.start)
    records = [r for r in plog.read_window(log_uri, before.start, before.end) if _model_key(r) == model]
    window = from_records(records, labels)
    known = window.labelled
    y, s = window.labels[known].astype(int), window.scores[known]
    info = {"rows": int(known.sum()), "from": iso(before.start), "to": iso(before.end)}
    if known.sum() < min_rows or len(set(y.tolist())) < 2:
        note = (
            f"{int(known.sum())} labelled rows of this model before the window, fewer than {min_rows} of both classes"
        )
        return None, {**info, "method": "raw probabilities", "note": note}
    note = f"isotonic on {int(known.sum())} labelled rows logged {info['from']} .. {info['to']}"
    return fit_calibrator(y, s), {**info, "method": "isotonic calibration", "note": note}


@dataclass
class _Quality:
    window: Window
    assessment: Assessment
    calibration: dict[str, Any]
    served: tuple[str, str]
    realised_from: Span


def _with_realised(current: Assessment, labelled: Assessment) -> Assessment:
    """``current``'s estimates with the realised quality (and labelled counts) of ``labelled``, slice by slice."""
    by_name = {s.slice: s for s in [labelled.overall, *labelled.slices]}
    for s in [current.overall, *current.slices]:
        other = by_name.get(s.slice)
        s.realised, s.labelled = (other.realised, other.labelled) if other else (None, 0)
    return current


def assess_quality(
    log_uri: str, span: Span, labels: dict[str, Any], slice_features: Sequence[str], decision_threshold: float,
    calibration_hours: float, labels_lookback_hours: float, min_calibration_rows: int = 200, min_slice_rows: int = 50,
) -> _Quality:  # fmt: skip
    """Estimated quality (CBPE) of the window; realised quality on its labelled rows, or with
    ``labels_lookback_hours`` longer than the window, on the labelled rows the same model logged in the
    ``labels_lookback_hours`` up to the window's end (labels arrive late: a day's window rarely has any yet)."""
    records = plog.read_window(log_uri, span.start, span.end)
    if not records:
        raise MonitoringError(f"no prediction was logged under {log_uri} between {iso(span.start)} and {iso(span.end)}")
    window = from_records(records, labels, slice_features)
    if np.isnan(window.scores).any():
        raise MonitoringError("some logged predictions have no output: the log is not of a binary classifier")
    served = Counter(_model_key(r) for r in records).most_common(1)[0][0]
    calibrator, calibration = calibrate(log_uri, span, served, labels, calibration_hours, min_calibration_rows)
    quality = assess(window, calibrator, decision_threshold, slice_features, min_slice_rows)
    realised_from = span
    if labels_lookback_hours * 3600 > (span.end - span.start).total_seconds():
        realised_from = Span(span.end - timedelta(hours=labels_lookback_hours), span.end)
        older = [r for r in plog.read_window(log_uri, realised_from.start, span.end) if _model_key(r) == served]
        labelled = assess(from_records(older, labels, slice_features), calibrator, decision_threshold, slice_features,
                          min_slice_rows)  # fmt: skip
        quality = _with_realised(quality, labelled)
    return _Quality(window, quality, calibration, served, realised_from)


def decide_window(
    log_uri: str,
    window_start: str,
    window_end: str,
    anomalies_dir: str,
    decision_dir: str,
    thresholds: Thresholds,
    labels_uri: str = "",
    slice_features: Sequence[str] = (),
    decision_threshold: float = 0.5,
    calibration_hours: float = 168.0,
    labels_lookback_hours: float = 0.0,
    model: dict[str, str] | None = None,
    html_path: str | None = None,
) -> MonitoringResult:
    """Assess the window ``[window_start, window_end)`` of the log and write the decision artifact."""
    from components.monitor.report_html import decision_page

    span = Span(parse_time(window_start, "window_start"), parse_time(window_end, "window_end"))
    for uri in (log_uri, labels_uri):
        register_filesystem(uri)  # s3:// through tensorflow-io
    labels = plog.read_labels(labels_uri) if labels_uri else {}
    q = assess_quality(log_uri, span, labels, slice_features, decision_threshold, calibration_hours,
                       labels_lookback_hours)  # fmt: skip
    overall = q.assessment.overall
    data = anomalies_artifact.read_report(anomalies_dir)
    decision = decide(thresholds, overall.realised, overall.estimated, data["max_drift"], data["max_skew"],
                      data["max_psi"], data["schema_anomaly_count"], data.get("worst"))  # fmt: skip
    decision.observations += data.get("notes", [])
    record = {
        **decision.as_dict(),
        "window": {
            **span.as_dict(),
            "rows": len(q.window),
            "labelled": overall.labelled,
            "realised_from": iso(q.realised_from.start),
        },  # fmt: skip
        "model": {**(model or {}), "logged_as": "/".join(q.served)},
        "quality": {"overall": overall.as_dict(), "slices": [s.as_dict() for s in q.assessment.slices]},
        "data": {k: data.get(k) for k in DATA_KEYS},
        "thresholds": dict(vars(thresholds)),
        "calibration": q.calibration,
    }
    page = decision_page(record, thresholds)
    decision_artifact.write_decision(decision_dir, record, page)
    if html_path:
        decision_artifact.write_text(html_path, page)
    log.info("decision: %s", "RETRAIN (" + "; ".join(decision.reasons) + ")" if decision.retrain else "no retraining")
    return MonitoringResult(decision, record)
