"""Test module file (evaluate tests): the synthetic fraud data with a multiclass and a regression label.

One ``preprocessing_fn`` produces both labels so one Transform run serves both trainings:

* ``channel_id`` (multiclass, 3 classes): the transaction's channel (pos / online / atm) as a vocabulary id;
* ``log_amount`` (regression): log1p of the transaction amount.

Their raw columns (and the fraud label) are not model inputs at serving time (``RAW_LABEL_KEYS``).
No ``build_model``: kfx's default model is used.
"""

import tensorflow as tf
import tensorflow_transform as tft

RAW_LABEL_KEYS = ["is_fraud", "channel", "amount"]
NUMERIC = ["avg_amount_30d", "card_present", "hour", "customer_age", "num_tx_last_24h"]
CATEGORICAL = ["merchant_category", "device_type", "country"]
NUM_CHANNELS = 3


def _dense(x, default):
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, tf.stack([x.dense_shape[0], tf.constant(1, tf.int64)])),
            default_value=default,
        )
    return tf.reshape(x, [-1])


def preprocessing_fn(inputs):
    out = {}
    for key in NUMERIC:
        out[f"{key}_xf"] = tft.scale_to_z_score(tf.cast(_dense(inputs[key], 0), tf.float32))
    for key in CATEGORICAL:
        out[f"{key}_xf"] = tft.compute_and_apply_vocabulary(_dense(inputs[key], ""), num_oov_buckets=1)
    out["channel_id"] = tft.compute_and_apply_vocabulary(_dense(inputs["channel"], ""), vocab_filename="channel")
    out["log_amount"] = tf.math.log1p(tf.maximum(tf.cast(_dense(inputs["amount"], 0.0), tf.float32), 0.0))
    return out
