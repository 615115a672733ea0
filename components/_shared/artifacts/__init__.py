"""The on-disk layout of every kfx artifact: the contract between components.

Every artifact is a *directory* at the KFP artifact's ``.path``. Components find files inside it only through the
layout module of its kind (``components/_shared/artifacts/<module>.py``: its file names, ``read_*`` / ``write_*``),
never by joining names themselves. Kind names are those of ``components/_shared/kinds.py`` (the ``kfx_kind``
metadata every producer stamps). ``tests/unit/test_artifact_contract.py`` checks that this text names every file
name the layout modules define, and that no other module of ``components/`` or ``pipelines/`` spells one.

examples (Dataset, from ingest; layout: artifacts/examples.py)
    <dir>/<split>/part-*.tfrecord      tf.Example records (uncompressed TFRecord), one or more shards per split
                                       (``part-00000.tfrecord``, ...; Beam names them ``part-00000-of-00002.tfrecord``)
    <dir>/<split>/part-*.arrow         optional columnar copy of each shard (ingest writes them): the same rows as
                                       the Arrow batches tfx-bsl decodes the shard into, Arrow IPC file; statistics
                                       reads them instead of decoding when every shard of a split has one
    <dir>/examples.json                {"columns": {name: "int"|"float"|"string"}, "column_order": [...],
                                        "splits": {split: rows}, "shards", "rows", "source": uri,
                                        "source_sha256", ...}
transformed_examples (Dataset, from transform; layout: artifacts/examples.py)
    <dir>/<split>/part-*.tfrecord      transformed tf.Examples, same layout as examples
    <dir>/<split>/part-*.arrow         (the optional columnar copies: transform writes none today)
    <dir>/examples.json                {"columns": transformed feature types, "splits": {split: rows}, "source"}
statistics (Dataset; layout: artifacts/statistics.py)
    <dir>/<split>/FeatureStats.pb      DatasetFeatureStatisticsList, binary proto
    <dir>/_staging/                    a distributed runner's scratch output, removed after the run
schema (Dataset; layout: artifacts/schema.py)
    <dir>/schema.pbtxt                 tensorflow_metadata Schema, text proto
anomalies (Dataset; layout: artifacts/anomalies.py)
    <dir>/anomalies.pbtxt              tensorflow_metadata Anomalies, text proto
    <dir>/report.json                  kfx's flat list of findings (anomalies, drift, skew, PSI), passed, message
    <dir>/report.html                  the self-contained validation report
transform_graph (Model; layout: artifacts/transform_graph.py)
    <dir>/transform_fn/                TF Transform graph (TFTransformOutput; TFT names it)
    <dir>/transformed_metadata/        schema of the transformed features (TFT names it)
    <dir>/metadata/                    the raw schema (TFTransformOutput.raw_feature_spec() reads it)
    <dir>/transform.json               {"raw_label_keys", "optional_features", "lineage"}
    <dir>/.tft_tmp/                    Beam/TFT scratch space of a remote artifact, removed after the run
model (Model; layout: artifacts/model.py; also a pushed model and a resolved baseline)
    <dir>/saved_model/                 Keras SavedModel (saved_model/saved_model.pb); signatures below
    <dir>/logs/                        TensorBoard logs (never pushed)
    <dir>/model.json                   {"label_key", "task", "num_classes", "classes", "raw_label_keys",
                                        "features", "optional_features", "epochs_run", "batch_size", "version", ...}
    <dir>/1/                           instead of saved_model/ in a model pushed for TF Serving (runtime tensorflow)
    <dir>/evidence/statistics/         the training statistics (statistics layout), kept with the model
    <dir>/evidence/schema/             the training schema (schema layout), kept with the model
    <dir>/lineage.json                 what made the model (data URI + hash, rows, URIs, module hash, params, ...)
    <dir>/kfx-push.json                a pushed model's {"digest", "runtime", "source"}, written last
    <dir>/model-ref.json               a baseline that names no model: {"storage_uri": null, "reason"}
evaluation (Dataset; layout: artifacts/evaluation.py)
    <dir>/tfma/                        tfma.EvalResult output (tfma.load_eval_result)
    <dir>/slices.json                  [{"slice": "...", "features": {...}, "metrics": {...}}]
    <dir>/evaluation.json              the whole evaluation: checks, reasons, notes, naive baseline, curves
blessing (Dataset; layout: artifacts/blessing.py)
    <dir>/blessing.json                {"blessed": bool, "reasons": [...], "baseline": uri|None,
                                        "checks": [...], "notes": [...]}
decision (Dataset, from the monitoring pipeline's decide step; layout: artifacts/decision.py)
    <dir>/decision.json                {"retrain": bool, "reasons", "observations", "window", "model", "quality",
                                        "data", "thresholds", "calibration"}
    <dir>/decision.html                the self-contained monitoring report
prediction log (not a KFP artifact: a log root written by the predictor; layout: artifacts/prediction_log.py)
    <root>/date=YYYY-MM-DD/hour=HH/part-<ts>-<writer>-<seq>.tfrecord   logged tf.Examples
    late labels (layout: artifacts/labels.py): a file, or a directory of deliveries *.csv / *.jsonl /
    *.ndjson / *.json, with request_id and label per row; joined to the log on the request id

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
import posixpath
from typing import Any

# TensorFlow (tf.io.gfile, for every URI scheme) is imported where a file is read or written, so that a layout's
# names and pure parsers (e.g. ``artifacts.schema.parse_schema_text`` for the preflight checks) load without it.

SPLITS = ("train", "eval")

SERVING_SIGNATURE = "serving_default"
RAW_SIGNATURE = "serving_raw"
TRANSFORM_SIGNATURE = "transform_features"
OUTPUT_KEY = "outputs"


def join(root: str, *parts: str) -> str:
    """``root``/parts for a local path or any gfile URI (``s3://``, ``gs://``): the one path joiner of the layouts."""
    return posixpath.join(root.rstrip("/"), *parts) if "://" in root else os.path.join(root, *parts)


def register_filesystem(uri: str) -> None:
    """Make ``tf.io.gfile`` understand ``uri``'s scheme: TensorFlow has gs:// built in; s3:// (also MinIO)
    comes from tensorflow-io, registered on import (configured by S3_ENDPOINT, AWS_* variables)."""
    if uri.startswith("s3://"):
        from components._shared._compat.tensorflow_io import register_s3

        register_s3()


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (local or any gfile URI), creating its directory."""
    import tensorflow as tf

    register_filesystem(path)
    tf.io.gfile.makedirs(os.path.dirname(path) or ".")
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)


def write_json(path: str, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str))


def read_json(path: str) -> Any:
    """The JSON file at ``path``: a local path is read directly (no TensorFlow import, so a local run's summary
    loads in milliseconds), any other URI through ``tf.io.gfile``."""
    if "://" not in path:
        with open(path, encoding="utf-8") as f:
            return json.loads(f.read())
    import tensorflow as tf

    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())
