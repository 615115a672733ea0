"""kfx module file for the built-in synthetic card-transaction fraud data (components/datagen/fraud.py).

Like a TFX module file: ``preprocessing_fn`` for the Transform step, ``build_model`` for the Train step.
Train with ``label_key="is_fraud"``, ``task="binary"``.

Raw features may arrive dense (``FixedLenFeature``, always present) or sparse (``VarLenFeature``: the
schema inferred by TFDV marks columns with missing values that way); the helpers below accept both.
Missing numbers become the train mean (0 after z-scoring) plus a 0/1 "missing" indicator; missing
categories become their own token; categories never seen in training fall into an OOV bucket.
"""

import tensorflow as tf
import tensorflow_transform as tft

LABEL_KEY = "is_fraud"
#: raw columns that are not inputs at serving time (excluded from the serving signatures)
RAW_LABEL_KEYS = [LABEL_KEY]

CATEGORICAL = ["merchant_category", "country", "channel", "device_type"]
#: numeric columns with long tails: log1p before z-scoring
LOG_NUMERIC = ["amount", "avg_amount_30d", "account_age_days", "distance_from_home_km", "num_tx_last_24h"]
NUMERIC = ["customer_age", "day_of_week", "card_present"]
#: columns that may be missing: get a missing indicator
MAYBE_MISSING = ["account_age_days", "distance_from_home_km"]
MISSING_TOKEN = "__missing__"


def _xf(name: str) -> str:
    return f"{name}_xf"


def _as_sparse(x):
    """Any [batch] / [batch, 1] / SparseTensor input -> SparseTensor [batch, 1] (absent = missing)."""
    if isinstance(x, tf.SparseTensor):
        return x
    x = tf.reshape(x, [-1, 1])
    return tf.sparse.from_dense(x) if x.dtype == tf.string else _dense_to_sparse_all(x)


def _dense_to_sparse_all(x):
    """A dense [batch, 1] numeric tensor as a SparseTensor keeping every value (zeros included)."""
    n = tf.shape(x, out_type=tf.int64)[0]
    rows = tf.range(n, dtype=tf.int64)
    indices = tf.stack([rows, tf.zeros_like(rows)], axis=1)
    return tf.SparseTensor(indices, tf.reshape(x, [-1]), tf.stack([n, tf.constant(1, tf.int64)]))


def _fill(x, default):
    """SparseTensor [batch, 1] or dense -> dense [batch], ``default`` where missing."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, tf.stack([x.dense_shape[0], tf.constant(1, tf.int64)])),
            default_value=default,
        )
    return tf.reshape(x, [-1])


def _missing(x):
    """1.0 where the value is missing, else 0.0 (dense [batch])."""
    if not isinstance(x, tf.SparseTensor):
        return tf.zeros_like(tf.reshape(tf.cast(x, tf.float32), [-1]))
    present = tf.SparseTensor(x.indices, tf.ones_like(x.values, dtype=tf.float32), x.dense_shape)
    return 1.0 - _fill(present, 0.0)


def _map_values(x, fn):
    return tf.SparseTensor(x.indices, fn(x.values), x.dense_shape)


def preprocessing_fn(inputs):
    """Raw transaction features -> model features (z-scored numbers, vocabulary ids) and the label."""
    out = {}
    for key in LOG_NUMERIC + NUMERIC:
        x = _map_values(_as_sparse(inputs[key]), lambda v: tf.cast(v, tf.float32))
        if key in LOG_NUMERIC:
            x = _map_values(x, lambda v: tf.math.log1p(tf.maximum(v, 0.0)))
        out[_xf(key)] = _fill(tft.scale_to_z_score(x), 0.0)
    for key in MAYBE_MISSING:
        out[f"{key}_missing"] = _missing(inputs[key])

    # the transaction relative to the customer's usual spend
    amount = tf.cast(_fill(inputs["amount"], 0.0), tf.float32)
    avg = tf.cast(_fill(inputs["avg_amount_30d"], 0.0), tf.float32)
    out["amount_ratio_xf"] = tft.scale_to_z_score(tf.math.log1p(amount) - tf.math.log1p(avg))

    # hour of day on a circle: 23h is next to 0h
    hour = tf.cast(_fill(inputs["hour"], 0), tf.float32)
    out["hour_sin"] = tf.sin(2.0 * 3.141592653589793 * hour / 24.0)
    out["hour_cos"] = tf.cos(2.0 * 3.141592653589793 * hour / 24.0)

    for key in CATEGORICAL:
        x = _fill(inputs[key], MISSING_TOKEN)
        x = tf.where(tf.equal(x, ""), MISSING_TOKEN, x)
        out[_xf(key)] = tft.compute_and_apply_vocabulary(x, num_oov_buckets=1, vocab_filename=key)

    out[LABEL_KEY] = tf.cast(_fill(inputs[LABEL_KEY], 0), tf.int64)
    return out


def build_model(args):
    """A small wide-and-deep net: embeddings for categories, dense layers over everything.

    ``args`` is kfx's TrainArgs (feature_keys, hidden_units, tf_transform_output, ...).
    """
    inputs, parts = {}, []
    for key in args.feature_keys:
        if key.removesuffix("_xf") in CATEGORICAL:
            vocab = args.tf_transform_output.num_buckets_for_transformed_feature(key)
            inp = tf.keras.Input(shape=(1,), name=key, dtype=tf.int64)
            emb = tf.keras.layers.Embedding(vocab, max(2, min(8, vocab // 2)), name=f"{key}_emb")(inp)
            parts.append(tf.keras.layers.Flatten(name=f"{key}_flat")(emb))
        else:
            inp = tf.keras.Input(shape=(1,), name=key, dtype=tf.float32)
            parts.append(inp)
        inputs[key] = inp
    x = tf.keras.layers.Concatenate()(parts)
    for units in args.hidden_units:
        x = tf.keras.layers.Dense(units, activation="relu")(x)
        x = tf.keras.layers.Dropout(float(args.hyperparameters.get("dropout", 0.1)))(x)
    output = tf.keras.layers.Dense(1, activation="sigmoid", name="outputs")(x)
    return tf.keras.Model(inputs=inputs, outputs=output, name="fraud_dnn")
