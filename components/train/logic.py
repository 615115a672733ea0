"""Train: fit a Keras (tf-keras, Keras 2) model on transformed examples and export it for raw-feature serving.

The user's module file may define (like TFX's Trainer):

* ``run_fn(args: TrainArgs)``: full control; call ``args.export(model)`` at the end to write
  the SavedModel with kfx's signatures (or write ``args.serving_model_dir`` yourself).
* ``build_model(args: TrainArgs) -> tf.keras.Model``: kfx fits it and exports it. The model takes
  a dict of transformed features (``args.feature_keys``), each shaped ``[batch, width]``
  (scalars are ``[batch, 1]``), and returns ``[batch, k]``. Compiled by kfx when not compiled.
* neither: a default feed-forward network over every transformed feature
  (``args.hidden_units``; integer features with a vocabulary domain are embedded).

The exported SavedModel (``<model_dir>/saved_model``) embeds the TFT graph (``model.tft_layer``) and
carries the signatures of ``components/_shared/artifacts.py``: ``serving_default`` (serialized raw
tf.Example without label), ``serving_raw`` (one dense ``[None]`` tensor per raw feature) and
``transform_features`` (serialized raw tf.Example with label -> transformed features, for TFMA).

``serving_raw`` and missing values: raw features that the schema marks optional (VarLen) are still
taken as dense ``[None]`` tensors; an empty string (string features) or NaN (float features) means
"missing" and is dropped before the transform graph sees it, exactly as if the tf.Example lacked
the feature; for int64 features the value ``INT_MISSING`` (-2**63, int64's minimum) means missing.
``model.json`` lists the optional features (``optional_features``) and these markers (``missing_values``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared import artifacts
from components._shared.log import get_logger, timed
from components._shared.modules import ModuleFileError, load_module
from components._shared.version import __version__

log = get_logger("train")


def _autograph_skip_tf_keras() -> None:
    """Don't let AutoGraph transpile tf-keras' own code (it skips ``keras``, not ``tf_keras``): saves
    ~15 s of tracing per process on the first ``fit``, exactly as with Keras 2 under its old name."""
    try:
        from tensorflow.python.autograph.core import config

        if not any(getattr(r, "_prefix", None) == "tf_keras" for r in config.CONVERSION_RULES):
            config.CONVERSION_RULES = (config.DoNotConvert("tf_keras"),) + tuple(config.CONVERSION_RULES)
    except Exception:  # noqa: BLE001 - private API; only a speed-up
        pass


from components._shared.tasks import TASKS  # noqa: E402

#: ``serving_raw``: the value meaning "missing" in an int64 column of an optional (VarLen) raw feature
INT_MISSING = -(2**63)


@dataclass
class TrainResult:
    loss: float
    metrics: dict[str, float] = field(default_factory=dict)  # eval split metrics (binary: auc, accuracy, ...)
    train_rows: int = 0
    eval_rows: int = 0
    seconds: float = 0.0


@dataclass
class TrainArgs:
    """Everything a module's ``build_model``/``run_fn`` gets (TFX's FnArgs, kfx-sized)."""

    transformed_examples_dir: str
    transform_graph_dir: str
    model_dir: str
    serving_model_dir: str
    log_dir: str
    label_key: str
    task: str
    epochs: int
    batch_size: int
    learning_rate: float
    hidden_units: list[int]
    num_classes: int
    hyperparameters: dict[str, Any]
    seed: int
    raw_label_keys: list[str]
    tf_transform_output: Any  # tft.TFTransformOutput
    feature_keys: list[str]  # transformed features the model takes (label excluded)
    module: Any = None
    train_rows: int = 0
    eval_rows: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def output_units(self) -> int:
        return self.num_classes if self.task == "multiclass" else 1

    @property
    def output_activation(self) -> str | None:
        return {"binary": "sigmoid", "multiclass": "softmax", "regression": None}[self.task]

    def files(self, split: str) -> list[str]:
        return artifacts.split_files(self.transformed_examples_dir, split)

    def dataset(self, split: str, shuffle: bool | None = None, repeat: bool = False):
        """(features, label) batches of one split of the transformed examples, model-ready shapes."""
        return make_dataset(self, split, shuffle=(split == "train") if shuffle is None else shuffle, repeat=repeat)

    def compile(self, model) -> None:
        compile_model(model, self)

    def export(self, model) -> str:
        """Write ``model`` with kfx's raw-feature signatures to ``serving_model_dir``."""
        return export_model(model, self)


# ---------------------------------------------------------------------------------------------
# Feature plumbing shared by training and the serving signatures (one code path for both).


def to_model_inputs(features: dict, keys: Sequence[str]) -> dict:
    """Transformed features -> what the Keras model takes: dense, rank 2 ([batch, width])."""
    import tensorflow as tf

    out = {}
    for k in keys:
        t = features[k]
        if isinstance(t, tf.SparseTensor):
            default = "" if t.dtype == tf.string else tf.cast(0, t.dtype)
            t = tf.sparse.to_dense(t, default_value=default)
        if isinstance(t, tf.RaggedTensor):
            t = t.to_tensor()
        if t.shape.rank == 1:
            t = tf.expand_dims(t, -1)
        elif t.shape.rank is not None and t.shape.rank > 2:
            t = tf.reshape(t, [tf.shape(t)[0], -1])
        out[k] = t
    return out


def _label_tensor(t, task: str):
    import tensorflow as tf

    if isinstance(t, tf.SparseTensor):
        t = tf.sparse.to_dense(t)
    t = tf.reshape(t, [-1])
    if task == "multiclass":
        return tf.cast(t, tf.int64)
    return tf.expand_dims(tf.cast(t, tf.float32), -1)


def make_dataset(args: TrainArgs, split: str, shuffle: bool = False, repeat: bool = False):
    import tensorflow as tf

    spec = args.tf_transform_output.transformed_feature_spec()
    keys = list(args.feature_keys)

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        label = _label_tensor(parsed[args.label_key], args.task)
        return to_model_inputs(parsed, keys), label

    ds = tf.data.TFRecordDataset(args.files(split))
    if shuffle:
        ds = ds.shuffle(min(10_000, max(args.train_rows, 1)), seed=args.seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(args.batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------------
# The default model and compile.


def _vocab_size(args: TrainArgs, key: str) -> int | None:
    """Size of an integer feature's domain (TFT's compute_and_apply_vocabulary / bucketize set it), else None."""
    schema = args.tf_transform_output.transformed_metadata.schema
    for f in schema.feature:
        if f.name == key and f.HasField("int_domain") and f.int_domain.HasField("max"):
            if f.int_domain.min >= -1 and (f.int_domain.is_categorical or f.int_domain.max < 100_000):
                return int(f.int_domain.max) + 1
    return None


_LAYERS: dict = {}


def _layers() -> dict:
    """Two tiny serializable layers of the default model (Lambda layers don't survive SavedModel export)."""
    if not _LAYERS:
        import tensorflow as tf

        class ShiftIds(tf.keras.layers.Layer):
            """Vocabulary ids -> ids + 1, with TFT's -1 (missing / out of vocabulary) mapped to 0."""

            def call(self, x):
                return tf.maximum(x + 1, 0)

        class ToFloat(tf.keras.layers.Layer):
            def call(self, x):
                return tf.cast(x, tf.float32)

        _LAYERS.update(ShiftIds=ShiftIds, ToFloat=ToFloat)
    return _LAYERS


def default_model(args: TrainArgs):
    """A feed-forward net: float features as they are, vocabulary ints embedded, other ints as floats."""
    import tensorflow as tf

    spec = args.tf_transform_output.transformed_feature_spec()
    inputs, parts = {}, []
    for key in args.feature_keys:
        s = spec[key]
        width = int(math.prod(s.shape)) if isinstance(s, tf.io.FixedLenFeature) and s.shape else 1
        if s.dtype == tf.string:
            log.warning("default model ignores string feature %s (transform it to numbers in preprocessing_fn)", key)
            continue
        inp = tf.keras.Input(shape=(width,), name=key, dtype=s.dtype)
        inputs[key] = inp
        vocab = _vocab_size(args, key) if s.dtype == tf.int64 else None
        if vocab is not None:
            # +1: TFT marks out-of-vocabulary/missing as -1 when no OOV buckets; shift into range.
            shifted = _layers()["ShiftIds"](name=f"{key}_shift")(inp)
            dim = max(2, min(16, int(round(1.6 * (vocab + 1) ** 0.56))))
            emb = tf.keras.layers.Embedding(vocab + 1, dim, name=f"{key}_embedding")(shifted)
            parts.append(tf.keras.layers.Flatten(name=f"{key}_flat")(emb))
        else:
            parts.append(_layers()["ToFloat"](name=f"{key}_float")(inp))
    if not parts:
        raise ValueError("no numeric transformed features to train on: preprocessing_fn must output numbers")
    x = tf.keras.layers.Concatenate(name="features")(parts) if len(parts) > 1 else parts[0]
    for i, units in enumerate(args.hidden_units):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    out = tf.keras.layers.Dense(args.output_units, activation=args.output_activation, name="outputs")(x)
    return tf.keras.Model(inputs=inputs, outputs=out, name="kfx_default")


def serving_feature_keys(tft_output, serving_spec: dict) -> list[str]:
    """Transformed features the TFT graph produces from serving inputs (raw label columns absent)."""
    import tensorflow as tf

    layer = tft_output.transform_features_layer()
    out = layer(tf.io.parse_example(tf.constant([], dtype=tf.string), serving_spec))
    return sorted(out)


def compile_model(model, args: TrainArgs) -> None:
    import tensorflow as tf

    opt = tf.keras.optimizers.Adam(learning_rate=args.learning_rate, jit_compile=False)
    if args.task == "binary":
        loss = tf.keras.losses.BinaryCrossentropy()
        metrics = [tf.keras.metrics.BinaryAccuracy(name="accuracy"), tf.keras.metrics.AUC(name="auc")]
    elif args.task == "multiclass":
        loss = tf.keras.losses.SparseCategoricalCrossentropy()
        metrics = [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    else:
        loss = tf.keras.losses.MeanSquaredError()
        metrics = [tf.keras.metrics.MeanAbsoluteError(name="mae"), tf.keras.metrics.RootMeanSquaredError(name="rmse")]
    model.compile(optimizer=opt, loss=loss, metrics=metrics)


# ---------------------------------------------------------------------------------------------
# Export with raw-feature signatures (TFX taxi idiom: the TFT layer is tracked by the model).


def _serving_raw_to_features(raw: dict, raw_spec: dict) -> dict:
    """Dense [None] tensors per raw feature -> what tf.io.parse_example would have produced."""
    import tensorflow as tf

    out = {}
    for name, t in raw.items():
        s = raw_spec[name]
        if isinstance(s, tf.io.VarLenFeature):
            if t.dtype == tf.string:
                present = tf.not_equal(t, "")
            elif t.dtype.is_floating:
                present = tf.logical_not(tf.math.is_nan(t))
            else:
                present = tf.not_equal(t, tf.constant(INT_MISSING, t.dtype))
            rows = tf.where(present)  # [n, 1]
            indices = tf.concat([rows, tf.zeros_like(rows)], axis=1)
            out[name] = tf.SparseTensor(
                indices=indices,
                values=tf.boolean_mask(t, present),
                dense_shape=tf.stack([tf.shape(t, out_type=tf.int64)[0], tf.constant(1, tf.int64)]),
            )
        elif isinstance(s, tf.io.FixedLenFeature):
            shape = list(s.shape)
            out[name] = tf.reshape(t, [-1] + shape) if shape else t
        else:  # Sparse/Ragged specs: not producible from one dense column
            raise ValueError(f"raw feature {name} has a {type(s).__name__} spec; serving_raw supports fixed/var-len")
    return out


def export_model(model, args: TrainArgs) -> str:
    import tensorflow as tf

    tft_output = args.tf_transform_output
    raw_spec = tft_output.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k not in args.raw_label_keys}
    keys = list(args.feature_keys)
    model.tft_layer = tft_output.transform_features_layer()

    def predict(raw_features):
        transformed = model.tft_layer(raw_features)
        outputs = model(to_model_inputs(transformed, keys), training=False)
        return {artifacts.OUTPUT_KEY: tf.cast(outputs, tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized):
        return predict(tf.io.parse_example(serialized, serving_spec))

    raw_inputs = [tf.TensorSpec(shape=[None], dtype=s.dtype, name=name) for name, s in sorted(serving_spec.items())]

    @tf.function(input_signature=[{t.name: t for t in raw_inputs}])
    def serve_raw_fn(raw):
        return predict(_serving_raw_to_features(raw, serving_spec))

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized):
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    signatures = {
        artifacts.SERVING_SIGNATURE: serve_tf_examples_fn.get_concrete_function(),
        artifacts.RAW_SIGNATURE: serve_raw_fn.get_concrete_function(),
        artifacts.TRANSFORM_SIGNATURE: transform_features_fn.get_concrete_function(),
    }
    with timed(log, f"exporting SavedModel to {args.serving_model_dir}"):
        model.save(args.serving_model_dir, save_format="tf", signatures=signatures)
    return args.serving_model_dir


def _dtype_name(dtype) -> str:
    import tensorflow as tf

    return {tf.int64: "int64", tf.float32: "float32", tf.string: "string"}.get(dtype, dtype.name)


# ---------------------------------------------------------------------------------------------


def run_training(
    transformed_examples_dir: str,
    transform_graph_dir: str,
    module_file: str,
    model_dir: str,
    label_key: str,
    task: str = "binary",
    epochs: int = 5,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    hidden_units: Sequence[int] = (64, 32),
    num_classes: int = 0,
    hyperparameters: dict | None = None,
    seed: int = 0,
) -> TrainResult:
    """Train on transformed examples and export ``<model_dir>/saved_model`` (+ ``logs/``, ``model.json``).

    ``label_key`` names the label among the *transformed* features. ``task``: "binary" (sigmoid,
    label 0/1), "multiclass" (softmax over ``num_classes``, label = int class id) or "regression".
    ``hyperparameters`` is passed to the module untouched (``args.hyperparameters``).
    """
    start = time.perf_counter()
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if task == "multiclass" and num_classes < 2:
        raise ValueError(f"task 'multiclass' needs num_classes >= 2, got {num_classes}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got epochs={epochs}, batch_size={batch_size}")
    module = load_module(module_file)
    if not any(callable(getattr(module, fn, None)) for fn in ("run_fn", "build_model")):
        log.info("module file %s defines neither run_fn nor build_model: using kfx's default model", module_file)

    import tensorflow as tf
    import tensorflow_transform as tft

    for split in artifacts.SPLITS:
        artifacts.split_files(transformed_examples_dir, split)  # clear error if a split is missing
    tft_output = tft.TFTransformOutput(transform_graph_dir)
    try:
        transformed_spec = tft_output.transformed_feature_spec()
        raw_spec = tft_output.raw_feature_spec()
    except Exception as e:  # noqa: BLE001
        raise FileNotFoundError(
            f"transform graph {transform_graph_dir} is incomplete (need transform_fn/, transformed_metadata/ and "
            f"metadata/ = raw schema): {e}"
        ) from e
    if label_key not in transformed_spec:
        raise ValueError(
            f"label '{label_key}' is not a transformed feature; preprocessing_fn outputs: {', '.join(sorted(transformed_spec))}"
        )
    raw_label_keys = list(getattr(module, "RAW_LABEL_KEYS", None) or ([label_key] if label_key in raw_spec else []))
    unknown = [k for k in raw_label_keys if k not in raw_spec]
    if unknown:
        raise ValueError(f"module file {module_file}: RAW_LABEL_KEYS {unknown} are not raw features")

    serving_spec = {k: v for k, v in raw_spec.items() if k not in raw_label_keys}
    at_serving = serving_feature_keys(tft_output, serving_spec)
    feature_keys = list(getattr(module, "FEATURE_KEYS", None) or [k for k in at_serving if k != label_key])
    needs_label = sorted(set(transformed_spec) - set(at_serving) - {label_key})
    if needs_label:
        log.info("not model inputs (they need raw label columns %s): %s", raw_label_keys, ", ".join(needs_label))
    missing = [k for k in feature_keys if k not in at_serving]
    if missing:
        raise ValueError(
            f"module file {module_file}: FEATURE_KEYS {missing} are not computable at serving time "
            f"(unknown, or derived from the raw label columns {raw_label_keys})"
        )
    meta_path = os.path.join(transformed_examples_dir, artifacts.EXAMPLES_META)
    rows = artifacts.read_json(meta_path).get("splits", {}) if tf.io.gfile.exists(meta_path) else {}

    tf.io.gfile.makedirs(model_dir)
    args = TrainArgs(
        transformed_examples_dir=transformed_examples_dir,
        transform_graph_dir=transform_graph_dir,
        model_dir=model_dir,
        serving_model_dir=os.path.join(model_dir, artifacts.SAVED_MODEL_DIR),
        log_dir=os.path.join(model_dir, artifacts.LOGS_DIR),
        label_key=label_key,
        task=task,
        epochs=int(epochs),
        batch_size=int(batch_size),
        learning_rate=float(learning_rate),
        hidden_units=[int(u) for u in hidden_units],
        num_classes=int(num_classes),
        hyperparameters=dict(hyperparameters or {}),
        seed=int(seed),
        raw_label_keys=raw_label_keys,
        tf_transform_output=tft_output,
        feature_keys=feature_keys,
        module=module,
        train_rows=int(rows.get("train", 0)),
        eval_rows=int(rows.get("eval", 0)),
    )
    tf.keras.utils.set_random_seed(args.seed)
    _autograph_skip_tf_keras()

    run_fn = getattr(module, "run_fn", None)
    if callable(run_fn):
        with timed(log, f"run_fn from {module_file}") as t:
            returned = run_fn(args)
            t["rows"] = args.train_rows
        if not tf.io.gfile.exists(os.path.join(args.serving_model_dir, "saved_model.pb")):
            raise ModuleFileError(
                f"module file {module_file}: run_fn did not export a model (call args.export(model) at its end)"
            )
        if isinstance(returned, tf.keras.Model):
            result = _evaluate(returned, args)
        else:  # run_fn returned nothing: report what it recorded in args.history, if anything
            last = {k: v[-1] for k, v in args.history.items() if v and not k.startswith("val_")}
            result = TrainResult(
                loss=float(last.pop("loss", float("nan"))),
                metrics=last,
                train_rows=args.train_rows,
                eval_rows=args.eval_rows,
            )
    else:
        build = getattr(module, "build_model", None)
        model = build(args) if callable(build) else default_model(args)
        if not getattr(model, "_is_compiled", False):
            compile_model(model, args)
        train_ds = args.dataset("train")
        eval_ds = args.dataset("eval")
        callbacks = [tf.keras.callbacks.TensorBoard(log_dir=args.log_dir, update_freq="epoch")]
        with timed(log, f"fitting {model.name} ({task}, label {label_key}) for {epochs} epochs") as t:
            history = model.fit(train_ds, validation_data=eval_ds, epochs=args.epochs, callbacks=callbacks, verbose=0)
            t["rows"] = args.train_rows * args.epochs
        args.history = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        result = _evaluate(model, args)
        export_model(model, args)

    _write_model_meta(args, tft_output, raw_spec)
    result.seconds = time.perf_counter() - start
    log.info("training done in %.1fs: loss %.4f, %s", result.seconds, result.loss, result.metrics)
    return result


def _evaluate(model, args: TrainArgs) -> TrainResult:
    """Final loss/metrics of ``model`` on the transformed eval split."""
    if not getattr(model, "_is_compiled", False):
        compile_model(model, args)
    with timed(log, "evaluating on eval split") as t:
        values = model.evaluate(args.dataset("eval"), return_dict=True, verbose=0)
        t["rows"] = args.eval_rows
    return TrainResult(
        loss=float(values.pop("loss")),
        metrics={k: float(v) for k, v in values.items()},
        train_rows=args.train_rows,
        eval_rows=args.eval_rows,
    )


def _write_model_meta(args: TrainArgs, tft_output, raw_spec: dict) -> None:
    import tensorflow as tf

    serving = {k: _dtype_name(v.dtype) for k, v in sorted(raw_spec.items()) if k not in args.raw_label_keys}
    artifacts.write_json(
        os.path.join(args.model_dir, artifacts.MODEL_META),
        {
            "label_key": args.label_key,
            "task": args.task,
            "num_classes": args.num_classes if args.task == "multiclass" else (2 if args.task == "binary" else 0),
            "raw_label_keys": args.raw_label_keys,
            "features": serving,
            "optional_features": sorted(
                k for k, v in raw_spec.items() if k in serving and not isinstance(v, tf.io.FixedLenFeature)
            ),
            "missing_values": {"string": "", "float32": "NaN", "int64": INT_MISSING},
            "transformed_features": list(args.feature_keys),
            "signatures": [artifacts.SERVING_SIGNATURE, artifacts.RAW_SIGNATURE, artifacts.TRANSFORM_SIGNATURE],
            "version": __version__,
        },
    )
