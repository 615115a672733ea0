"""kfx module file for the Chicago taxi trips table (after TFX's chicago_taxi_pipeline example).

Label: ``big_tipper`` = tips > 20% of the fare, derived inside ``preprocessing_fn`` from the raw
``tips`` column, which is therefore a raw label key (not an input at serving time). Train with
``label_key="big_tipper"``, ``task="binary"``.

This module uses ``run_fn`` (full control, like TFX's Trainer) to show that path; ``build_model``
alone would do.
"""

import tensorflow as tf
import tensorflow_transform as tft

LABEL_KEY = "big_tipper"
RAW_LABEL_KEYS = ["tips"]

#: z-scored numbers
DENSE_FLOAT = ["trip_miles", "fare", "trip_seconds"]
#: bucketized into quantiles
BUCKET = ["pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude"]
BUCKET_COUNT = 10
#: categorical (ids / strings) through a vocabulary
VOCAB = [
    "payment_type",
    "company",
    "trip_start_hour",
    "trip_start_day",
    "trip_start_month",
    "pickup_census_tract",
    "dropoff_census_tract",
    "pickup_community_area",
    "dropoff_community_area",
]
VOCAB_SIZE = 1000
OOV_SIZE = 10


def _xf(key: str) -> str:
    return f"{key}_xf"


def _fill(x, default):
    """SparseTensor [batch, 1] (missing values) or dense [batch] / [batch, 1] -> dense [batch]."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, tf.stack([x.dense_shape[0], tf.constant(1, tf.int64)])),
            default_value=default,
        )
    return tf.reshape(x, [-1])


def _fill_numeric(x):
    return tf.cast(_fill(x, tf.cast(0, x.dtype)), tf.float32)


def _as_text(x):
    """A column as strings (ints/floats typed by ingest become category tokens); missing -> ''."""
    if x.dtype == tf.string:
        return _fill(x, "")
    present = x.values if isinstance(x, tf.SparseTensor) else None
    if present is not None:
        return _fill(tf.SparseTensor(x.indices, tf.strings.as_string(x.values), x.dense_shape), "")
    return tf.strings.as_string(tf.reshape(x, [-1]))


def preprocessing_fn(inputs):
    out = {}
    for key in DENSE_FLOAT:
        out[_xf(key)] = tft.scale_to_z_score(_fill_numeric(inputs[key]))
    for key in BUCKET:
        out[_xf(key)] = tft.bucketize(_fill_numeric(inputs[key]), BUCKET_COUNT)
    for key in VOCAB:
        out[_xf(key)] = tft.compute_and_apply_vocabulary(
            _as_text(inputs[key]), top_k=VOCAB_SIZE, num_oov_buckets=OOV_SIZE, vocab_filename=key
        )
    fare = _fill_numeric(inputs["fare"])
    tips = _fill_numeric(inputs["tips"])
    out[LABEL_KEY] = tf.where(tf.math.is_nan(fare), tf.zeros_like(fare, tf.int64), tf.cast(tips > fare * 0.2, tf.int64))
    return out


def build_model(args):
    """Wide (one-hot of buckets and vocabularies) and deep (embeddings + z-scored numbers)."""
    inputs, deep, wide = {}, [], []
    for key in args.feature_keys:
        if key.removesuffix("_xf") in DENSE_FLOAT:
            inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.float32)
            deep.append(inputs[key])
            continue
        inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.int64)
        buckets = args.tf_transform_output.num_buckets_for_transformed_feature(key)
        wide.append(tf.keras.layers.CategoryEncoding(num_tokens=buckets, output_mode="one_hot")(inputs[key]))
        emb = tf.keras.layers.Embedding(buckets, min(8, max(2, buckets // 4)))(inputs[key])
        deep.append(tf.keras.layers.Flatten()(emb))
    x = tf.keras.layers.Concatenate()(deep)
    for units in args.hidden_units:
        x = tf.keras.layers.Dense(units, activation="relu")(x)
    x = tf.keras.layers.Concatenate()([x] + wide)
    output = tf.keras.layers.Dense(1, activation="sigmoid", name="outputs")(x)
    return tf.keras.Model(inputs=inputs, outputs=output, name="taxi_wide_deep")


def run_fn(args):
    """Full control: build, compile, fit, export with kfx's raw-feature signatures.

    ``args.fit`` is kfx's fit: train split, eval split as validation data, early stopping on the eval loss after
    at most ``args.epochs`` epochs, TensorBoard logs; it records ``args.history``. Call ``model.fit`` yourself with
    ``callbacks=args.callbacks()`` for the same stopping rule.
    """
    model = build_model(args)
    args.compile(model)
    args.fit(model)
    args.export(model)
    return model
