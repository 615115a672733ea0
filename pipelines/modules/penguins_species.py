"""A minimal **multiclass** kfx module: the penguin species from its measurements (``tests/testdata/penguins.py``).

Train with ``label_key="species_id"``, ``task="multiclass"``, ``raw_label_key="species"``; ``num_classes`` is
inferred from the label's vocabulary (3). The module contract: ``pipelines/modules/README.md``.
"""

import tensorflow as tf
import tensorflow_transform as tft

LABEL_KEY = "species_id"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]


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
    # the label: class ids 0..k-1 from the species names (no OOV bucket: every species is a class)
    out[LABEL_KEY] = tft.compute_and_apply_vocabulary(_dense(inputs["species"], ""), vocab_filename="species")
    return out


def build_model(args):
    """Numbers as they are, categories one-hot; softmax over ``args.num_classes`` (``args.output_units``)."""
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
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="penguin_species")
