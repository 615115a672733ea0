"""A sample of (label, prediction) pairs of the eval split, for the regression views TFMA has no plot for
(predicted vs actual, residuals) and for the naive baseline (the label variance = MSE of predicting the mean)."""

from __future__ import annotations

from typing import Any

from components._shared import artifacts
from components._shared.artifacts import examples as examples_layout

#: Rows read for the label variance and the plots (the first rows of the eval split, in file order).
MAX_ROWS = 5000
#: Points kept for the plots.
MAX_POINTS = 250


def regression_sample(saved_model: str, examples_dir: str, label_key: str, label_from: str) -> dict[str, Any]:
    """{"label": [...], "prediction": [...]} for up to MAX_POINTS rows, and the label variance over MAX_ROWS rows."""
    import numpy as np
    import tensorflow as tf

    records = tf.data.TFRecordDataset(examples_layout.split_files(examples_dir, "eval")).take(MAX_ROWS).batch(512)
    model = tf.saved_model.load(saved_model)
    serve = model.signatures[artifacts.SERVING_SIGNATURE]
    transform = model.signatures.get(artifacts.TRANSFORM_SIGNATURE)
    labels, preds = [], []
    for batch in records:
        preds.append(serve(examples=batch)[artifacts.OUTPUT_KEY].numpy().reshape(-1))
        if label_from == "transform_features" and transform is not None:
            labels.append(transform(examples=batch)[label_key].numpy().reshape(-1))
        else:
            labels.append(np.array([_raw_value(r, label_key) for r in batch.numpy()]))
    y = np.concatenate(labels).astype(float) if labels else np.zeros(0)
    p = np.concatenate(preds).astype(float) if preds else np.zeros(0)
    keep = np.isfinite(y) & np.isfinite(p)
    y, p = y[keep], p[keep]
    idx = np.unique(np.linspace(0, len(y) - 1, min(len(y), MAX_POINTS)).astype(int)) if len(y) else []
    return {
        "label": y[idx].tolist(),
        "prediction": p[idx].tolist(),
        "label_variance": float(np.var(y)) if len(y) > 1 else None,
        "rows": int(len(y)),
    }


def _raw_value(record: bytes, key: str) -> float:
    import tensorflow as tf

    feature = tf.train.Example.FromString(record).features.feature.get(key)
    if feature is None:
        return float("nan")
    values = list(feature.float_list.value) or list(feature.int64_list.value)
    return float(values[0]) if values else float("nan")
