"""The decision artifact layout (kind ``decision``; the monitoring pipeline's verdict): file names, writer, reader.

    <dir>/decision.json       {"retrain": bool, "reasons": [...], "observations": [...], "window": {"start", "end",
                               "rows", "labelled"}, "model": {"uri", "source", "revision"}, "quality": {"overall",
                               "slices"}, "data": {"max_drift", "max_skew", "max_psi", "schema_anomaly_count",
                               "features": [...]}, "thresholds": {...}, "calibration": {...}}
    <dir>/decision.html       the self-contained monitoring report (also the step's KFP ``HTML`` output)

``retrain`` is the one field the retraining trigger acts on; ``reasons`` say why (empty when no retraining).
"""

from __future__ import annotations

from typing import Any

from components._shared.artifacts import join, read_json, write_json, write_text

DECISION_FILE = "decision.json"
HTML_FILE = "decision.html"

__all__ = ["DECISION_FILE", "HTML_FILE", "decision_path", "html_path", "read_decision", "write_decision", "write_text"]


def decision_path(decision_dir: str) -> str:
    """``<dir>/decision.json`` (for messages; read it with :func:`read_decision`)."""
    return join(decision_dir, DECISION_FILE)


def html_path(decision_dir: str) -> str:
    """``<dir>/decision.html``: the report kept in the artifact."""
    return join(decision_dir, HTML_FILE)


def write_decision(decision_dir: str, decision: dict[str, Any], html: str) -> dict[str, str]:
    """Write ``decision.json`` and ``decision.html``; returns their paths."""
    if not isinstance(decision.get("retrain"), bool):
        raise ValueError("a decision needs a boolean 'retrain'")
    out = {"decision": decision_path(decision_dir), "html": html_path(decision_dir)}
    write_json(out["decision"], decision)
    write_text(out["html"], html)
    return out


def read_decision(decision_dir: str) -> dict[str, Any]:
    """The ``decision.json`` of a decision artifact (``decision_dir`` may also be the file itself)."""
    import tensorflow as tf

    path = decision_dir if decision_dir.endswith(".json") else decision_path(decision_dir)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"no decision at {decision_dir}: expected {path} (the monitoring decide step's output)")
    return read_json(path)
