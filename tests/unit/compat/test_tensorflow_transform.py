"""_compat.tensorflow_transform: the loaded transform graph is called through its flat signature, same outputs."""

from __future__ import annotations

import numpy as np
import pytest

import components  # noqa: F401
from components._shared._compat.tensorflow_transform import flat_transform_calls

pytestmark = pytest.mark.unit


def _preprocessing_fn(inputs):
    import tensorflow_transform as tft

    return {
        "x_z": tft.scale_to_z_score(inputs["x"]),
        "x_bucket": tft.bucketize(inputs["x"], 3),
        "s_id": tft.compute_and_apply_vocabulary(inputs["s"]),
    }


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """A real transform graph: TF Transform's analysis on Beam over 40 rows."""
    import tensorflow as tf
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    root = tmp_path_factory.mktemp("tft_compat")
    spec = {"x": tf.io.FixedLenFeature([], tf.float32), "s": tf.io.FixedLenFeature([], tf.string)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    rows = [{"x": float(i) * 0.37, "s": f"tok{i % 5}".encode()} for i in range(40)]
    with tft_beam.Context(temp_dir=str(root / "tmp"), force_tf_compat_v1=False):
        transform_fn = (rows, metadata) | tft_beam.AnalyzeDataset(_preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(root / "tg"))
    return str(root / "tg")


def _apply(graph_dir: str) -> dict[str, np.ndarray]:
    import tensorflow as tf
    import tensorflow_transform as tft

    layer = tft.TFTransformOutput(graph_dir).transform_features_layer()
    x = tf.constant(np.arange(50, dtype=np.float32) * 0.41)
    s = tf.constant([f"tok{i % 7}".encode() for i in range(50)])
    return {k: v.numpy() for k, v in layer({"x": x, "s": s}).items()}


def test_flat_calls_skip_the_failing_structured_binding_and_give_the_same_outputs(graph, monkeypatch):
    from tensorflow.python.eager.polymorphic_function.concrete_function import ConcreteFunction
    from tensorflow_transform.saved import saved_transform_io_v2 as io

    structured = ConcreteFunction._call_with_structured_signature
    calls = []

    def counting(self, args, kwargs):
        calls.append(len(args))
        return structured(self, args, kwargs)

    monkeypatch.setattr(ConcreteFunction, "_call_with_structured_signature", counting)
    original = getattr(io.SavedModelLoader._initialize, "__wrapped__", io.SavedModelLoader._initialize)
    monkeypatch.setattr(io.SavedModelLoader, "_initialize", original)  # TFT as shipped
    before = _apply(graph)
    assert [n for n in calls if n > 1], "TFT no longer calls the graph with flat inputs: remove flat_transform_calls"

    calls.clear()
    flat_transform_calls()
    flat_transform_calls()  # idempotent
    assert getattr(io.SavedModelLoader._initialize, "_kfx_flat", False)
    after = _apply(graph)
    assert not [n for n in calls if n > 1], "the structured binding is still tried first: the fast path is not taken"
    assert before.keys() == after.keys()
    for key in before:
        assert before[key].tobytes() == after[key].tobytes(), key
