"""kfx's default model (a feed-forward net over every transformed feature) and the compile every model gets."""

from __future__ import annotations

import math

from components._shared.log import get_logger
from components.train.args import TrainArgs

log = get_logger("train")


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


def _input_part(args: TrainArgs, key: str, spec, inputs: dict):
    """The Keras input of one transformed feature and what the network reads from it (None: not usable)."""
    import tensorflow as tf

    width = int(math.prod(spec.shape)) if isinstance(spec, tf.io.FixedLenFeature) and spec.shape else 1
    if spec.dtype == tf.string:
        log.warning("default model ignores string feature %s (transform it to numbers in preprocessing_fn)", key)
        return None
    inp = tf.keras.Input(shape=(width,), name=key, dtype=spec.dtype)
    inputs[key] = inp
    vocab = _vocab_size(args, key) if spec.dtype == tf.int64 else None
    if vocab is None:
        return _layers()["ToFloat"](name=f"{key}_float")(inp)
    # +1: TFT marks out-of-vocabulary/missing as -1 when no OOV buckets; shift into range.
    shifted = _layers()["ShiftIds"](name=f"{key}_shift")(inp)
    dim = max(2, min(16, int(round(1.6 * (vocab + 1) ** 0.56))))
    emb = tf.keras.layers.Embedding(vocab + 1, dim, name=f"{key}_embedding")(shifted)
    return tf.keras.layers.Flatten(name=f"{key}_flat")(emb)


def default_model(args: TrainArgs):
    """A feed-forward net: float features as they are, vocabulary ints embedded, other ints as floats."""
    import tensorflow as tf

    spec = args.tf_transform_output.transformed_feature_spec()
    inputs: dict = {}
    parts = [p for p in (_input_part(args, key, spec[key], inputs) for key in args.feature_keys) if p is not None]
    if not parts:
        raise ValueError("no numeric transformed features to train on: preprocessing_fn must output numbers")
    x = tf.keras.layers.Concatenate(name="features")(parts) if len(parts) > 1 else parts[0]
    for i, units in enumerate(args.hidden_units):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    out = tf.keras.layers.Dense(args.output_units, activation=args.output_activation, name="outputs")(x)
    return tf.keras.Model(inputs=inputs, outputs=out, name="kfx_default")


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
