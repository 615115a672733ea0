"""The on-disk layout of every kfx artifact: the contract between components.

Every artifact is a *directory* at the KFP artifact's ``.path``. Components find
files inside it only through the names below, never by guessing another step's paths.

examples (Dataset, from ingest; also transformed examples from transform)
    <dir>/train/part-*.tfrecord      tf.Example records (uncompressed TFRecord)
    <dir>/eval/part-*.tfrecord
    <dir>/examples.json              {"columns": {name: "int"|"float"|"string"},
                                      "splits": {"train": rows, "eval": rows}, "source": uri}
statistics (Dataset)
    <dir>/<split>/FeatureStats.pb    DatasetFeatureStatisticsList, binary proto
schema (Dataset)
    <dir>/schema.pbtxt               tensorflow_metadata Schema, text proto
anomalies (Dataset)
    <dir>/anomalies.pbtxt            tensorflow_metadata Anomalies, text proto
    <dir>/report.json                kfx's flat list of findings (anomalies, drift, skew, PSI), passed, message
    <dir>/report.html                the self-contained validation report (layout: artifacts/anomalies.py)
transform_graph (Model)
    <dir>/                           a TFTransformOutput directory (transform_fn/,
                                     transformed_metadata/, metadata/ = raw schema)
    <dir>/transform.json             {"raw_label_keys", "optional_features"} (artifacts/transform_graph.py)
model (Model)
    <dir>/saved_model/               Keras SavedModel; signatures below
    <dir>/logs/                      TensorBoard logs
    <dir>/model.json                 {"label_key", "task", "num_classes", "classes", "raw_label_keys",
                                      "features", "optional_features", "epochs_run", "batch_size", "version", ...}
evaluation (Dataset; layout: artifacts/evaluation.py)
    <dir>/tfma/                      tfma.EvalResult output (tfma.load_eval_result)
    <dir>/slices.json                [{"slice": "...", "features": {...}, "metrics": {...}}]
    <dir>/evaluation.json            the whole evaluation: checks, reasons, notes, naive baseline, curves
blessing (Dataset; layout: artifacts/blessing.py)
    <dir>/blessing.json              {"blessed": bool, "reasons": [...], "baseline": uri|None,
                                      "checks": [...], "notes": [...]}

SavedModel signatures (raw features in; the TFT graph is inside the model):
    serving_default     examples: tf.string [None] serialized tf.Example without label
                        -> {"outputs": float32 [None, k]}  (binary: k=1 probability of class 1;
                           multiclass: k=num classes, softmax; regression: k=1 value)
    serving_raw         one tensor per raw feature, shape [None], dtype from the raw schema
                        (int64 / float32 / string) -> same outputs as serving_default
    transform_features  examples: tf.string [None] serialized raw tf.Example (label present)
                        -> transformed features (used by TFMA for the label)
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf  # noqa: F401  (gfile for every URI scheme)

SPLITS = ("train", "eval")

EXAMPLES_META = "examples.json"
STATS_FILE = "FeatureStats.pb"
SCHEMA_FILE = "schema.pbtxt"
ANOMALIES_FILE = "anomalies.pbtxt"
REPORT_FILE = "report.json"
SAVED_MODEL_DIR = "saved_model"
LOGS_DIR = "logs"
MODEL_META = "model.json"
TFMA_DIR = "tfma"
SLICES_FILE = "slices.json"
BLESSING_FILE = "blessing.json"

SERVING_SIGNATURE = "serving_default"
RAW_SIGNATURE = "serving_raw"
TRANSFORM_SIGNATURE = "transform_features"
OUTPUT_KEY = "outputs"


def register_filesystem(uri: str) -> None:
    """Make ``tf.io.gfile`` understand ``uri``'s scheme: TensorFlow has gs:// built in; s3:// (also MinIO)
    comes from tensorflow-io, registered on import (configured by S3_ENDPOINT, AWS_* variables)."""
    if uri.startswith("s3://"):
        from components._shared._compat.tensorflow_io import register_s3

        register_s3()


def split_dir(root: str, split: str) -> str:
    return os.path.join(root, split)


def split_pattern(root: str, split: str) -> str:
    """Glob of the TFRecord files of one split of an examples artifact."""
    return os.path.join(root, split, "part-*.tfrecord")


def split_files(root: str, split: str) -> list[str]:
    files = sorted(tf.io.gfile.glob(split_pattern(root, split)))
    if not files:
        raise FileNotFoundError(f"no '{split}' examples under {root} (expected {split_pattern(root, split)})")
    return files


def write_json(path: str, obj: Any) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path) or ".")
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True, default=str))


def read_json(path: str) -> Any:
    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())
