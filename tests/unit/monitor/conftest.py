"""A small real prediction log for the monitoring logic tests (no model: scores are drawn from the labels).

Training evidence: TFDV statistics + an inferred schema of a "training" day (label included), kept in a model
directory's evidence folders as deploy pushes them. Serving log: days 1 and 2 from the same distribution, day 3 with
covariate drift (components/datagen/stream.py), all written with the real PredictionLogWriter; labels for every row.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import components  # noqa: F401
from components._shared.artifacts import model as model_layout
from components._shared.artifacts import prediction_log as plog
from components.datagen.fraud import LABEL
from components.datagen.stream import day_table

ORIGIN = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = 1200


def day(n: int) -> datetime:
    return ORIGIN + timedelta(days=n)


def _records(df, prefix: str, start: datetime, with_label: bool, seed: int) -> list[plog.Record]:
    rng = np.random.default_rng(seed)
    y = df[LABEL].to_numpy()
    scores = np.clip(0.12 + 0.6 * y + rng.normal(0, 0.15, len(df)), 0.001, 0.999)
    raw = df if with_label else df.drop(columns=[LABEL])
    rows = raw.astype(object).where(raw.notna(), None).to_dict("records")
    step = int(86_400e6 / len(df))
    t0 = int(start.timestamp() * 1e6)
    return [plog.Record(f"{prefix}-{i}", r, [float(s)], "fraud", "r1", t0 + i * step)
            for i, (r, s) in enumerate(zip(rows, scores, strict=True))]  # fmt: skip


def write_log(root: str, records: list[plog.Record]) -> None:
    writer = plog.PredictionLogWriter(root)
    writer.log(records)
    writer.close()
    assert not writer.errors


@pytest.fixture(scope="session")
def monitor_env(tmp_path_factory):
    import tensorflow_data_validation as tfdv

    from components._shared.artifacts.schema import write_schema
    from components._shared.artifacts.statistics import write_statistics
    from components.monitor.log_statistics import Span, span_statistics

    base = tmp_path_factory.mktemp("monitor")
    train_log, log_uri, model_dir = str(base / "train-log"), str(base / "log"), str(base / "model")
    write_log(train_log, _records(day_table(0, 3000, seed=5), "t", day(0), True, 0))
    stats = span_statistics(train_log, Span(day(0), day(1)), None, "train")
    write_statistics(model_layout.evidence_statistics_dir(model_dir), "train", stats)
    write_schema(tfdv.infer_schema(stats), model_layout.evidence_schema_dir(model_dir))
    model_layout.write_model_meta(model_dir, {"label_key": LABEL, "raw_label_keys": [LABEL], "task": "binary"})
    labels = ["request_id,label"]
    tables = {1: day_table(1, ROWS, seed=5), 2: day_table(2, ROWS, seed=5),
              3: day_table(12, ROWS, "covariate", shift_day=10, seed=5)}  # fmt: skip
    for n, df in tables.items():
        records = _records(df, f"d{n}", day(n), False, n)
        write_log(log_uri, records)
        labels += [f"{r.request_id},{y}" for r, y in zip(records, df[LABEL], strict=True)]
    labels_uri = str(base / "labels.csv")
    with open(labels_uri, "w") as f:
        f.write("\n".join(labels) + "\n")
    return {"log_uri": log_uri, "model_dir": model_dir, "labels_uri": labels_uri, "base": str(base),
            "features": sorted(c for c in tables[1].columns if c != LABEL)}  # fmt: skip


@pytest.fixture
def out(tmp_path):
    return lambda name: os.path.join(str(tmp_path), name)
