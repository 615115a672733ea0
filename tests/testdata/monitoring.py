"""A real prediction log for monitoring tests: a trained kfx model (tests/testdata/chain.py) with its training
evidence, simulated days of card transactions (components/datagen/stream.py) scored by the model through its
``serving_default`` signature, written with the real ``PredictionLogWriter``, and their late labels.

    model_dir = served_model(workdir)                 # chain model + evidence/statistics + evidence/schema
    ids = log_day(log_uri, model_dir, day_table, start=datetime(2026, 11, 1, tzinfo=UTC))
    write_labels(labels_csv, ids, day_table["is_fraud"])
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from components._shared.artifacts import model as model_layout
from components._shared.artifacts import prediction_log as plog
from components.datagen.fraud import LABEL
from tests.testdata.chain import build_chain

MODEL_NAME, REVISION = "fraud", "r1"


def served_model(workdir: str, n_rows: int = 2000, epochs: int = 5) -> str:
    """A trained fraud model whose directory also keeps its training statistics and schema (as deploy pushes it)."""
    dirs = build_chain(workdir, n_rows=n_rows, epochs=epochs)
    model_dir = dirs["model"]
    for source, target in ((dirs["statistics"], model_layout.evidence_statistics_dir(model_dir)),
                           (dirs["schema"], model_layout.evidence_schema_dir(model_dir))):  # fmt: skip
        if not os.path.isdir(target):
            shutil.copytree(source, target)
    return model_dir


def _records(df: pd.DataFrame, prefix: str, start: datetime, hours: float) -> list[plog.Record]:
    raw = df.drop(columns=[LABEL])
    features = raw.astype(object).where(raw.notna(), None).to_dict("records")  # pd.NA / NaN: a missing value
    t0, step = int(start.timestamp() * 1e6), int(hours * 3600e6 / max(len(df), 1))
    return [plog.Record(f"{prefix}-{i}", row, [0.0], MODEL_NAME, REVISION, t0 + i * step)
            for i, row in enumerate(features)]  # fmt: skip


def score(model_dir: str, records: Sequence[plog.Record]) -> np.ndarray:
    """The model's probability for each record (serving_default on the serialized tf.Examples)."""
    import tensorflow as tf

    model = tf.saved_model.load(model_layout.saved_model_dir(model_dir))
    fn = model.signatures["serving_default"]
    out = fn(examples=tf.constant([plog.encode(r) for r in records]))
    return np.asarray(out["outputs"]).reshape(len(records), -1)[:, 0]


def log_day(
    log_uri: str, model_dir: str, df: pd.DataFrame, start: datetime, prefix: str, hours: float = 24.0
) -> list[str]:
    """Score ``df`` with the model and log one prediction per row, spread over ``hours`` from ``start``."""
    records = _records(df, prefix, start, hours)
    for r, p in zip(records, score(model_dir, records), strict=True):
        r.prediction = [float(p)]
    writer = plog.PredictionLogWriter(log_uri)
    writer.log(records)
    writer.close()
    assert not writer.errors, writer.errors
    return [r.request_id for r in records]


def write_labels(path: str, ids: Sequence[str], labels: Sequence[int], append: bool = True) -> str:
    new = not os.path.exists(path) or not append
    with open(path, "a" if append else "w", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["request_id", "label"])
        w.writerows([i, int(y)] for i, y in zip(ids, labels, strict=True))
    return path


def day_start(day: int, origin: datetime) -> datetime:
    return origin + timedelta(days=day)
