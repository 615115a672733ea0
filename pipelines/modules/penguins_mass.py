"""A minimal **regression** kfx module: a penguin's body mass from its other measurements (``tests/testdata/penguins.py``).

Train with ``label_key="body_mass_kg"``, ``task="regression"``, ``raw_label_key="body_mass_g"``. The model predicts
kilograms (a target of order 1 trains well with the default learning rate). The module contract:
``pipelines/modules/README.md``.
"""

import tensorflow as tf
import tensorflow_transform as tft

LABEL_KEY = "body_mass_kg"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
CATEGORICAL = ["species", "island", "sex"]


def _dense(x, default):
    """A raw column -> dense [batch]: columns with missing values arrive as SparseTensor [batch, 1]."""
    if isinstance(x, tf.SparseTensor):
        n = x.dense_shape[0]
        x = tf.sparse.to_dense(tf.SparseTensor(x.indices, x.values, tf.stack([n, 1])), default_value=default)
    return tf.reshape(x, [-1])


def _z_score(x):
    """Numbers -> z-scores over the train split; a missing value becomes 0 (the train mean)."""
    if isinstance(x, tf.SparseTensor):
        return _dense(
            tft.scale_to_z_score(tf.SparseTensor(x.indices, tf.cast(x.values, tf.float32), x.dense_shape)), 0.0
        )
    return tft.scale_to_z_score(tf.cast(tf.reshape(x, [-1]), tf.float32))


def preprocessing_fn(inputs):
    out = {f"{key}_xf": _z_score(inputs[key]) for key in NUMERIC}
    for key in CATEGORICAL:
        out[f"{key}_xf"] = tft.compute_and_apply_vocabulary(_dense(inputs[key], ""), num_oov_buckets=1)
    mass = inputs["body_mass_g"]
    out[LABEL_KEY] = tf.cast(_dense(mass, tf.cast(0, mass.dtype)), tf.float32) / 1000.0
    return out


def build_model(args):
    """Numbers as they are, categories one-hot; one linear output (``args.output_units`` = 1, no activation)."""
    inputs, parts = {}, []
    for key in args.feature_keys:
        if key.removesuffix("_xf") in CATEGORICAL:
            inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.int64)
            size = args.tf_transform_output.num_buckets_for_transformed_feature(key)
            parts.append(tf.keras.layers.CategoryEncoding(num_tokens=size, output_mode="one_hot")(inputs[key]))
        else:
            inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.float32)
            parts.append(inputs[key])
    x = tf.keras.layers.Concatenate()(parts)
    for units in args.hidden_units:
        x = tf.keras.layers.Dense(units, activation="relu")(x)
    outputs = tf.keras.layers.Dense(args.output_units, activation=args.output_activation, name="outputs")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="penguin_mass")
