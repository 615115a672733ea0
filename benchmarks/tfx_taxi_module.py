"""TFX module file for the TFX peer benchmark: kfx's taxi features and model (``pipelines/modules/taxi.py``), in
TFX's Transform/Trainer contract (``preprocessing_fn``, ``run_fn(fn_args)``), exported as TFX's taxi example does.

Runs in the TFX environment (``.venv-tfx``). TFX packages this file into a wheel, so kfx's module is found through
``KFX_TAXI_MODULE`` (set by ``benchmarks/tfx_peer.py``), not by a path relative to this file.
"""

import importlib.util
import os

import tensorflow as tf
import tensorflow_transform as tft  # noqa: F401  (the taxi module's preprocessing_fn uses it)
from tfx_bsl.public import tfxio

BATCH_SIZE = 256
HIDDEN_UNITS = [64, 32]
LEARNING_RATE = 1e-3


def _kfx_taxi():
    spec = importlib.util.spec_from_file_location("kfx_taxi_module", os.environ["KFX_TAXI_MODULE"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TAXI = _kfx_taxi()
LABEL_KEY = _TAXI.LABEL_KEY


def preprocessing_fn(inputs):
    """kfx's taxi preprocessing_fn, unchanged."""
    return _TAXI.preprocessing_fn(inputs)


class _Args:
    """What kfx's ``build_model`` reads from its args."""

    def __init__(self, tf_transform_output):
        self.tf_transform_output = tf_transform_output
        keys = tf_transform_output.transformed_feature_spec().keys()
        self.feature_keys = sorted(k for k in keys if k != LABEL_KEY)
        self.hidden_units = HIDDEN_UNITS


def _as_column(features):
    return {k: tf.reshape(v, [-1, 1]) for k, v in features.items()}


def _input_fn(file_pattern, data_accessor, tf_transform_output, feature_keys):
    ds = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=BATCH_SIZE, label_key=LABEL_KEY),
        tf_transform_output.transformed_metadata.schema,
    )
    return ds.map(lambda x, y: (_as_column({k: x[k] for k in feature_keys}), y))


def _signatures(model, tf_transform_output, feature_keys):
    model.tft_layer = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized):
        raw = tf.io.parse_example(serialized, tf_transform_output.raw_feature_spec())
        transformed = model.tft_layer(raw)
        return {"outputs": model(_as_column({k: transformed[k] for k in feature_keys}))}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized):
        raw = tf.io.parse_example(serialized, tf_transform_output.raw_feature_spec())
        return model.tft_layer(raw)

    return {
        "serving_default": serve_tf_examples_fn.get_concrete_function(),
        "transform_features": transform_features_fn.get_concrete_function(),
    }


def run_fn(fn_args):
    """kfx's taxi model, compiled and trained as kfx trains it (Adam 1e-3, batch 256, 5 epochs over train)."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    args = _Args(tf_transform_output)
    train = _input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output, args.feature_keys)
    evals = _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, args.feature_keys)
    model = _TAXI.build_model(args)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss=tf.keras.losses.BinaryCrossentropy(),
        metrics=[tf.keras.metrics.BinaryAccuracy(name="accuracy"), tf.keras.metrics.AUC(name="auc")],
    )
    epochs = int(os.environ.get("KFX_TFX_EPOCHS", "5"))
    model.fit(
        train,
        steps_per_epoch=max(1, fn_args.train_steps // epochs),
        epochs=epochs,
        validation_data=evals,
        validation_steps=fn_args.eval_steps,
        verbose=0,
    )
    model.save(
        fn_args.serving_model_dir,
        save_format="tf",
        signatures=_signatures(model, tf_transform_output, args.feature_keys),
    )
