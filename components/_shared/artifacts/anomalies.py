"""The anomalies artifact layout (kind ``anomalies``; the validate step's output): its file names, writer and reader.

    <dir>/anomalies.pbtxt     tensorflow_metadata Anomalies, text proto: one merged proto of every check
                              (splits vs schema, drift, skew, serving vs schema, PSI)
    <dir>/report.json         kfx's flat summary: {"passed", "message", "anomaly_count", "max_drift", "max_skew",
                              "max_psi", "num_examples", "findings": [...], "drift": [...], "skew": [...],
                              "psi", "psi_serving", "thresholds", ...}
    <dir>/report.html         the self-contained validation report (also the step's KFP ``HTML`` output)

The validate step writes all three whether or not the data passed (a failed task publishes nothing on a cluster,
so validate always succeeds and a separate gate step stops the run).
"""

from __future__ import annotations

import os
from typing import Any

from components._shared.artifacts import read_json, write_json, write_text

ANOMALIES_FILE = "anomalies.pbtxt"
REPORT_FILE = "report.json"
HTML_FILE = "report.html"

__all__ = ["ANOMALIES_FILE", "HTML_FILE", "REPORT_FILE", "read_report", "write_anomalies", "write_text"]


def paths(anomalies_dir: str) -> dict[str, str]:
    """The three files of an anomalies artifact: ``anomalies``, ``report``, ``html``."""
    return {
        "anomalies": os.path.join(anomalies_dir, ANOMALIES_FILE),
        "report": os.path.join(anomalies_dir, REPORT_FILE),
        "html": os.path.join(anomalies_dir, HTML_FILE),
    }


def write_anomalies(anomalies_dir: str, anomalies_pbtxt: str, report: dict[str, Any], html: str) -> dict[str, str]:
    """Write the artifact's three files; returns their paths (as :func:`paths`)."""
    import tensorflow as tf

    out = paths(anomalies_dir)
    tf.io.gfile.makedirs(anomalies_dir)
    write_text(out["anomalies"], anomalies_pbtxt)
    write_json(out["report"], report)
    write_text(out["html"], html)
    return out


def read_report(anomalies_dir: str) -> dict[str, Any]:
    """The ``report.json`` of an anomalies artifact."""
    return read_json(os.path.join(anomalies_dir, REPORT_FILE))
