"""Building blocks of the rehearsal scenarios: data on the S3 test double, one train_and_deploy run, cluster facts.

Small data (the synthetic fraud generator, a few thousand rows) and few epochs, so a run takes a minute or two.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from typing import Any

from tests.rehearsal.cluster import NAMESPACE, ROOT, Rehearsal
from tests.rehearsal.runner import RunResult

MODEL_NAME = "fraud"
DATA_PREFIX = "s3://mlpipeline/rehearsal/data"
MODULE_URI = "s3://mlpipeline/rehearsal/modules/fraud.py"
STORAGE_URI = "s3://mlpipeline/kfx-models"
ROWS = 6000
EPOCHS = 8
SCHEMA_URI = "s3://mlpipeline/rehearsal/schemas/fraud.pbtxt"


def generate_csv(path: str, seed: int, rows: int = ROWS) -> str:
    """The synthetic fraud CSV (``python -m components.datagen``), written on this machine."""
    subprocess.run([sys.executable, "-m", "components.datagen", "--rows", str(rows), "--seed", str(seed),
                    "--out", path], check=True, cwd=ROOT, capture_output=True)  # fmt: skip
    return path


def rewrite_csv(src: str, dst: str, shuffle_labels: bool = False, drop_column: str | None = None) -> str:
    """A damaged copy: labels shuffled (a model trained on it learns nothing), or one column missing."""
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    fields = [k for k in rows[0] if k != drop_column]
    if shuffle_labels:
        labels = [r["is_fraud"] for r in rows]
        random.Random(7).shuffle(labels)
        for r, label in zip(rows, labels, strict=True):
            r["is_fraud"] = label
    with open(dst, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return dst


def put_data(rehearsal: Rehearsal, local_csv: str) -> str:
    """Upload a CSV to the S3 test double; returns its s3:// URI."""
    return rehearsal.put_file(local_csv, f"{DATA_PREFIX}/{os.path.basename(local_csv)}")


def put_module(rehearsal: Rehearsal) -> str:
    """The fraud module file on the S3 test double, as a user keeps module files next to the data."""
    return rehearsal.put_file(os.path.join(ROOT, "pipelines", "modules", "fraud.py"), MODULE_URI)


def put_schema(rehearsal: Rehearsal) -> str:
    """The curated fraud schema on the S3 test double (what a missing column is checked against)."""
    return rehearsal.put_file(os.path.join(ROOT, "pipelines", "schemas", "fraud.pbtxt"), SCHEMA_URI)


def train_and_deploy(rehearsal: Rehearsal, data_uri: str, kill_when: dict[str, Any] | None = None,
                     **overrides: Any) -> RunResult:  # fmt: skip
    """One rehearsed run of the committed ``train_and_deploy.yaml``."""
    args = {"data_uri": data_uri, "model_name": MODEL_NAME, "namespace": NAMESPACE, "storage_uri": STORAGE_URI,
            "module_file": put_module(rehearsal), "epochs": EPOCHS, **overrides}  # fmt: skip
    return rehearsal.run("train_and_deploy", args, kill_when=kill_when)


def served(rehearsal: Rehearsal) -> dict | None:
    """The InferenceService as the Kubernetes API test double holds it (None when absent)."""
    return rehearsal.kube.get(NAMESPACE, MODEL_NAME)


def storage_uri_of(isvc: dict) -> str:
    return isvc["spec"]["predictor"]["model"]["storageUri"]


def traffic(isvc: dict) -> list[dict]:
    """The predictor's traffic split (revision, percent) as the controller reports it."""
    items = isvc.get("status", {}).get("components", {}).get("predictor", {}).get("traffic") or []
    return [{"revision": t["revisionName"], "percent": int(t.get("percent") or 0)} for t in items]


def s3_text(rehearsal: Rehearsal, uri: str) -> str:
    """Every object under ``uri`` (an artifact), concatenated as text (for "does the report mention X")."""
    parts = [rehearsal.s3.read(f"{uri.rstrip('/')}/{key}").decode(errors="replace") for key in rehearsal.s3.keys(uri)]
    if not parts and rehearsal.s3.exists(uri):
        parts = [rehearsal.s3.read(uri).decode(errors="replace")]
    return "\n".join(parts)


def rollout_in_progress(rehearsal: Rehearsal, serving_uri: str) -> bool:
    """True once a deploy has written a new model into the spec but not promoted it (canaryTrafficPercent < 100):
    the moment to kill a deploy pod. (The traffic split itself lasts ~0.1 s with the API test double.)"""
    isvc = served(rehearsal)
    if isvc is None or storage_uri_of(isvc) == serving_uri:
        return False
    return isvc["spec"]["predictor"].get("canaryTrafficPercent") not in (None, 100)


def canary_in_progress(rehearsal: Rehearsal) -> bool:
    """True while a new revision gets some but not all traffic (the moment to kill a deploy pod)."""
    isvc = served(rehearsal)
    split = [t for t in traffic(isvc) if t["percent"] > 0] if isvc else []
    return len(split) == 2 and all(0 < t["percent"] < 100 for t in split)


# -- monitoring: a prediction log of the served model on the S3 test double, one monitoring run
LOG_URI = "s3://mlpipeline/rehearsal/prediction-log"
LABELS_URI = "s3://mlpipeline/rehearsal/labels/labels.csv"
LOG_ORIGIN = "2026-11-01T00:00:00+00:00"
LOG_ROWS = 1000


def log_day(n: int) -> str:
    """The ISO-8601 start of day ``n`` of the rehearsed prediction log."""
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(LOG_ORIGIN) + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


def put_prediction_log(rehearsal: Rehearsal, local_dir: str, revision: str) -> dict[int, str]:
    """Days 1 and 2 of traffic like the training data, day 3 with covariate drift (``components/datagen/stream.py``),
    written with kfx's own ``PredictionLogWriter`` and uploaded to ``LOG_URI``; the late labels of every row to
    ``LABELS_URI``. Scores are synthetic (drawn from the label, AUC ~0.99): the log's features and labels are what
    the checks read, the scores what the quality estimate reads. Returns day -> ISO start."""
    from datetime import datetime

    import numpy as np

    from components._shared.artifacts import prediction_log as plog
    from components.datagen.fraud import LABEL
    from components.datagen.stream import day_table

    tables = {1: day_table(1, LOG_ROWS, seed=9), 2: day_table(2, LOG_ROWS, seed=9),
              3: day_table(12, LOG_ROWS, "covariate", shift_day=10, seed=9)}  # fmt: skip
    writer = plog.PredictionLogWriter(os.path.join(local_dir, "log"))
    labels = ["request_id,label"]
    for n, df in tables.items():
        y = df[LABEL].to_numpy()
        scores = np.clip(0.12 + 0.6 * y + np.random.default_rng(n).normal(0, 0.15, len(df)), 0.001, 0.999)
        raw = df.drop(columns=[LABEL])
        rows = raw.astype(object).where(raw.notna(), None).to_dict("records")
        t0, step = int(datetime.fromisoformat(log_day(n)).timestamp() * 1e6), int(86_400e6 / len(df))
        records = [plog.Record(f"d{n}-{i}", r, [float(s)], MODEL_NAME, revision, t0 + i * step)
                   for i, (r, s) in enumerate(zip(rows, scores, strict=True))]  # fmt: skip
        writer.log(records)
        labels += [f"{r.request_id},{label}" for r, label in zip(records, y, strict=True)]
    writer.close()
    assert not writer.errors, writer.errors
    rehearsal.s3.upload(os.path.join(local_dir, "log"), LOG_URI)
    with open(os.path.join(local_dir, "labels.csv"), "w") as f:
        f.write("\n".join(labels) + "\n")
    rehearsal.put_file(os.path.join(local_dir, "labels.csv"), LABELS_URI)
    return {n: log_day(n) for n in tables}


def monitoring(rehearsal: Rehearsal, window_start: str, window_end: str, kfp_host: str, **overrides: Any) -> RunResult:
    """One rehearsed run of the committed ``monitoring.yaml`` on the InferenceService ``NAMESPACE/MODEL_NAME``."""
    args = {"log_uri": LOG_URI, "labels_uri": LABELS_URI, "window_start": window_start, "window_end": window_end,
            "model_name": MODEL_NAME, "namespace": NAMESPACE, "kfp_host": kfp_host, "calibration_hours": 24.0,
            "train_arguments": {"data_uri": f"{DATA_PREFIX}/{{window_end_date}}.csv", "model_name": MODEL_NAME,
                                "namespace": NAMESPACE, "storage_uri": STORAGE_URI, "module_file": MODULE_URI},
            **overrides}  # fmt: skip
    return rehearsal.run("monitoring", args)


def s3_json(rehearsal: Rehearsal, uri: str) -> Any:
    import json

    return json.loads(rehearsal.s3.read(uri))
