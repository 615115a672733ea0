"""The Chicago taxi case of issue 7: columns present in every *train* row but missing in some *eval* rows.

The taxi table's first two rows lack ``pickup_community_area``/``pickup_latitude``/``pickup_longitude`` (the only two
rows that do). With ``seed=46`` the hash split sends both to eval, so train never shows those columns missing.
"""

from __future__ import annotations

import os

import components  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)

SEED = 46
ROWS = 400
PICKUP = ("pickup_community_area", "pickup_latitude", "pickup_longitude")


def taxi_subset(taxi_csv: str, root: str) -> dict[str, str]:
    """First ``ROWS`` taxi rows -> ingest (seed 46) -> statistics of both splits; returns the directories."""
    from components.ingest.logic import ingest_csv
    from components.schema.presence import optional_in_data
    from components.statistics.logic import compute_statistics, load_statistics

    csv = os.path.join(root, "taxi_head.csv")
    with open(taxi_csv) as src, open(csv, "w") as dst:
        for i, line in enumerate(src):
            if i > ROWS:
                break
            dst.write(line)
    dirs = {"csv": csv, "examples": os.path.join(root, "examples"), "statistics": os.path.join(root, "statistics")}
    ingest_csv(csv, dirs["examples"], eval_fraction=0.2, seed=SEED)
    compute_statistics(dirs["examples"], dirs["statistics"])
    # the precondition of the case: pickup_* missing in eval only
    assert not set(PICKUP) & optional_in_data([load_statistics(dirs["statistics"], "train")])
    assert set(PICKUP) <= optional_in_data([load_statistics(dirs["statistics"], "eval")])
    return dirs


#: A small preprocessing_fn over the taxi columns of the case (fast: one analyzer per column, no vocabularies).
MODULE = """
import tensorflow as tf
import tensorflow_transform as tft

PICKUP = ("pickup_community_area", "pickup_latitude", "pickup_longitude")


def _dense(x):
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(x, default_value=tf.cast(0, x.dtype))
    return tf.cast(tf.reshape(x, [-1]), tf.float32)


def preprocessing_fn(inputs):
    out = {f"{k}_xf": tft.scale_to_z_score(_dense(inputs[k])) for k in PICKUP + ("fare",)}
    out["tips"] = _dense(inputs["tips"])
    return out
"""


def write_module(root: str) -> str:
    path = os.path.join(root, "pickup_module.py")
    with open(path, "w") as f:
        f.write(MODULE)
    return path
