"""Export with raw-feature signatures (TFX taxi idiom: the TFT layer is tracked by the model) and ``model.json``.

``serving_raw`` and missing values: raw features that the schema marks optional (VarLen) are still taken as dense
``[None]`` tensors; an empty string (string features) or NaN (float features) means "missing" and is dropped before
the transform graph sees it, exactly as if the tf.Example lacked the feature; for int64 features the value
``INT_MISSING`` (-2**63, int64's minimum) means missing. ``model.json`` lists the optional features
(``optional_features``) and these markers (``missing_values``).
"""

from __future__ import annotations

from components._shared import artifacts
from components._shared.artifacts import model as model_layout
from components._shared.log import get_logger, timed
from components._shared.version import __version__
from components.train.args import TrainArgs, to_model_inputs
from components.train.labels import class_names

log = get_logger("train")

#: ``serving_raw``: the value meaning "missing" in an int64 column of an optional (VarLen) raw feature
INT_MISSING = -(2**63)


def serving_feature_keys(tft_output, serving_spec: dict) -> list[str]:
    """Transformed features the TFT graph produces from serving inputs (raw label columns absent)."""
    import tensorflow as tf

    layer = tft_output.transform_features_layer()
    out = layer(tf.io.parse_example(tf.constant([], dtype=tf.string), serving_spec))
    return sorted(out)


def _sparse_of_present(t):
    """A dense [None] column with missing markers -> SparseTensor [None, 1] of the present values."""
    import tensorflow as tf

    if t.dtype == tf.string:
        present = tf.not_equal(t, "")
    elif t.dtype.is_floating:
        present = tf.logical_not(tf.math.is_nan(t))
    else:
        present = tf.not_equal(t, tf.constant(INT_MISSING, t.dtype))
    rows = tf.where(present)  # [n, 1]
    return tf.SparseTensor(
        indices=tf.concat([rows, tf.zeros_like(rows)], axis=1),
        values=tf.boolean_mask(t, present),
        dense_shape=tf.stack([tf.shape(t, out_type=tf.int64)[0], tf.constant(1, tf.int64)]),
    )


def _serving_raw_to_features(raw: dict, raw_spec: dict) -> dict:
    """Dense [None] tensors per raw feature -> what tf.io.parse_example would have produced."""
    import tensorflow as tf

    out = {}
    for name, t in raw.items():
        s = raw_spec[name]
        if isinstance(s, tf.io.VarLenFeature):
            out[name] = _sparse_of_present(t)
        elif isinstance(s, tf.io.FixedLenFeature):
            shape = list(s.shape)
            out[name] = tf.reshape(t, [-1] + shape) if shape else t
        else:  # Sparse/Ragged specs: not producible from one dense column
            raise ValueError(f"raw feature {name} has a {type(s).__name__} spec; serving_raw supports fixed/var-len")
    return out


#: Modules whose layers Keras' ``load_model`` rebuilds from their config alone.
_CONFIG_REVIVABLE = ("tf_keras.", "keras.", "tensorflow_transform.")


def needs_layer_traces(model) -> bool:
    """Whether the SavedModel must carry a traced call function per layer: only when a layer (or the model) is a
    user's own class, which Keras' ``load_model`` could not rebuild from its config.

    Nothing in kfx reads those traces (TFMA, serving and the tests load the signatures), but writing them is most
    of the export (the taxi model: 9.5 s with, 3.7 s without, on a loaded 2-core machine) and of every later load
    (5.9 s vs 1.2 s). Same signatures, weights and predictions either way.
    """
    import tensorflow as tf

    layers = [model, *(m for m in model.submodules if isinstance(m, tf.keras.layers.Layer))]
    return any(not type(layer).__module__.startswith(_CONFIG_REVIVABLE) for layer in layers)


#: Modules whose layers' ``call`` has no Python control flow on tensor values (Keras' built-in layers, TFT's
#: layer, kfx's own layers in ``components.train.model``): tracing them needs no AutoGraph.
_PLAIN_CALL = (*_CONFIG_REVIVABLE, "components.train.")


def signatures_need_autograph(model) -> bool:
    """Whether the serving signatures must be traced with AutoGraph: only when a layer (or the model) is a class of
    the user's own, whose ``call`` may branch or loop on tensor values (AutoGraph turns that into graph ops).

    kfx's signature functions and the layers of :data:`_PLAIN_CALL` are straight-line TensorFlow: AutoGraph would
    only re-parse their Python source (TFT's transform layer included) to produce the same ops, ~1 s per export on
    the taxi model. Same signatures and outputs either way
    (``tests/unit/test_train.py::test_signatures_traced_without_autograph_give_the_same_outputs``).
    """
    import tensorflow as tf

    layers = [model, *(m for m in model.submodules if isinstance(m, tf.keras.layers.Layer))]
    return any(not type(layer).__module__.startswith(_PLAIN_CALL) for layer in layers)


def export_model(model, args: TrainArgs) -> str:
    import tensorflow as tf

    tft_output = args.tf_transform_output
    raw_spec = tft_output.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k not in args.raw_label_keys}
    keys = list(args.feature_keys)
    model.tft_layer = tft_output.transform_features_layer()
    autograph = signatures_need_autograph(model)

    def predict(raw_features):
        transformed = model.tft_layer(raw_features)
        outputs = model(to_model_inputs(transformed, keys), training=False)
        return {artifacts.OUTPUT_KEY: tf.cast(outputs, tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")], autograph=autograph)
    def serve_tf_examples_fn(serialized):
        return predict(tf.io.parse_example(serialized, serving_spec))

    raw_inputs = [tf.TensorSpec(shape=[None], dtype=s.dtype, name=name) for name, s in sorted(serving_spec.items())]

    @tf.function(input_signature=[{t.name: t for t in raw_inputs}], autograph=autograph)
    def serve_raw_fn(raw):
        return predict(_serving_raw_to_features(raw, serving_spec))

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")], autograph=autograph)
    def transform_features_fn(serialized):
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    signatures = {
        artifacts.SERVING_SIGNATURE: serve_tf_examples_fn.get_concrete_function(),
        artifacts.RAW_SIGNATURE: serve_raw_fn.get_concrete_function(),
        artifacts.TRANSFORM_SIGNATURE: transform_features_fn.get_concrete_function(),
    }
    traces = needs_layer_traces(model)
    with timed(log, f"exporting SavedModel to {args.serving_model_dir}" + ("" if traces else " (no layer traces)")):
        model.save(args.serving_model_dir, save_format="tf", signatures=signatures, save_traces=traces)
    return args.serving_model_dir


def _dtype_name(dtype) -> str:
    import tensorflow as tf

    return {tf.int64: "int64", tf.float32: "float32", tf.string: "string"}.get(dtype, dtype.name)


def write_model_meta(args: TrainArgs, raw_spec: dict) -> None:
    """``model.json``: label, task, classes, the serving inputs and their missing-value markers."""
    import tensorflow as tf

    serving = {k: _dtype_name(v.dtype) for k, v in sorted(raw_spec.items()) if k not in args.raw_label_keys}
    model_layout.write_model_meta(
        args.model_dir,
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
            "classes": class_names(args.tf_transform_output, [args.label_key, *args.raw_label_keys], args.num_classes)
            if args.task == "multiclass"
            else [],
            "epochs_run": len(args.history.get("loss", [])),
            "batch_size": args.batch_size,
            "version": __version__,
        },
    )
