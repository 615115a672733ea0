"""The drift demo's production steps: train (kfp.local), deploy (push + evidence), calibrate, labels, fresh data.

* :func:`train` runs kfx's training pipeline through kfp.local (``pipelines.run.run_local``), with the production
  model as the baseline it must beat.
* :func:`deploy` pushes a blessed model to a versioned folder of the local "production" storage
  (``components.deploy.storage.push_model``) with its lineage and training evidence.
* :func:`reference_calibrator` learns CBPE's calibration from the model's scores on the run's eval split.
* :func:`release_labels` appends a day's ground truth to the labels file (keyed by request id), ``delay`` days late.
* :func:`labelled_csv` builds the retraining data from the prediction log joined with the labels that arrived.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from components._shared.artifacts import prediction_log as plog
from components.datagen.fraud import COLUMNS, LABEL
from components.monitor.cbpe import Calibrator, fit_calibrator


def train(root: str, data_csv: str, baseline: str, epochs: int, change_threshold: float) -> Any:
    """Run the training pipeline on ``data_csv`` (kfp.local); ``baseline``: the production model ("" = none).

    With a baseline, the candidate is blessed only when its AUC on its own eval split (the fresh data) drops no more
    than ``change_threshold`` below the production model's. Returns ``pipelines.run.RunSummary``."""
    from pipelines.run import arguments_from, build_parser, run_local

    flags = ["--root", root, "--data", os.path.abspath(data_csv), "--epochs", str(epochs)]
    if baseline:
        flags += ["--baseline", os.path.abspath(baseline), "--change-threshold", f"auc={change_threshold}"]
    arguments = arguments_from(build_parser().parse_args(flags))
    with open(os.devnull, "w") as quiet:
        return run_local(root, arguments, progress=quiet)


def deploy(summary: Any, production_root: str, version: str) -> str:
    """Push the run's model to ``<production_root>/<version>`` as deploy pushes it: with its lineage and its training
    statistics and schema as ``evidence/`` (what the monitoring steps read); returns that directory."""
    from components.deploy.storage import push_model

    target = os.path.join(os.path.abspath(production_root), version)
    push_model(
        summary.model_dir,
        target,
        statistics_dir=summary.artifacts["statistics/statistics"],
        schema_dir=summary.artifacts["schema/schema"],
    )
    return target


def reference_calibrator(model_dir: str, examples_dir: str, label: str = LABEL) -> Calibrator:
    """CBPE's calibration: isotonic fit of the eval split's labels on ``model_dir``'s scores for those rows."""
    import tensorflow as tf

    from components._shared import artifacts
    from components._shared.artifacts import examples as examples_layout
    from components._shared.artifacts.model import saved_model_dir

    serve = tf.saved_model.load(saved_model_dir(model_dir)).signatures[artifacts.SERVING_SIGNATURE]
    scores, labels = [], []
    for batch in tf.data.TFRecordDataset(examples_layout.split_files(examples_dir, "eval")).batch(1024):
        scores.append(serve(examples=batch)[artifacts.OUTPUT_KEY].numpy()[:, 0])
        for serialized in batch.numpy():
            feature = tf.train.Example.FromString(serialized).features.feature[label]
            labels.append(float((feature.int64_list.value or feature.float_list.value)[0]))
    return fit_calibrator(np.asarray(labels), np.concatenate(scores))


def release_labels(labels_csv: str, request_ids: Sequence[str], labels: Sequence[int]) -> None:
    """Append ``request_id,label`` rows (the header once): ground truth arriving late."""
    new = not os.path.exists(labels_csv)
    with open(labels_csv, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["request_id", "label"])
        w.writerows(zip(request_ids, (int(v) for v in labels), strict=True))


def labelled_csv(log_uri: str, labels_csv: str, start: datetime, days: int, out_csv: str) -> int:
    """The logged rows of ``days`` days from ``start`` whose labels have arrived, as a training CSV; row count."""
    labels = plog.read_labels(labels_csv)
    rows = []
    for r in plog.read_window(log_uri, start, start + timedelta(days=days)):
        label = labels.get(str(r[plog.REQUEST_ID]))
        if label is not None:
            rows.append({**{c: r.get(c) for c in COLUMNS if c != LABEL}, LABEL: int(label)})
    df = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("account_age_days",):
        df[c] = df[c].astype("Int64")
    os.makedirs(os.path.dirname(os.path.abspath(out_csv)), exist_ok=True)
    df.to_csv(out_csv, index=False, lineterminator="\n")
    return len(df)


def score_table(model_dir: str, table: pd.DataFrame, label: str = LABEL) -> np.ndarray:
    """The model's scores for a table of raw rows, in-process (its tf.Example signature; missing values left out)."""
    import tensorflow as tf

    from components._shared import artifacts
    from components._shared.artifacts.model import saved_model_dir

    serve = tf.saved_model.load(saved_model_dir(model_dir)).signatures[artifacts.SERVING_SIGNATURE]
    rows = table.drop(columns=[label], errors="ignore").astype(object).where(table.notna(), None)
    encoded = [plog.encode(plog.Record("", {k: _plain(v) for k, v in r.items()}, [])) for r in rows.to_dict("records")]
    out = [
        serve(examples=tf.constant(encoded[i : i + 1024]))[artifacts.OUTPUT_KEY].numpy()[:, 0]
        for i in range(0, len(encoded), 1024)
    ]
    return np.concatenate(out)


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
