"""``KfxModel`` in this process: the fast call path is the one taken, its fallback gives the same answers,
micro-batching combines concurrent requests, and both model layouts (kfx, TF Serving) load."""

from __future__ import annotations

import asyncio
import shutil

import numpy as np
import pytest

from components._shared._compat import tensorflow as tf_compat
from components._shared.artifacts.model import MODEL_META, SAVED_MODEL_DIR, TF_SERVING_VERSION
from components.serving.model import FLAT, STRUCTURED, KfxModel

from .conftest import MODEL_NAME

pytestmark = pytest.mark.serving


@pytest.fixture(scope="module")
def model(served_model: dict) -> KfxModel:
    m = KfxModel(MODEL_NAME, served_model["model_dir"], max_batch_size=64)
    assert m.load() and m.ready
    return m


def test_the_fast_flat_call_is_the_path_taken(model: KfxModel, served_model: dict):
    assert model.call_path == FLAT, "serving_raw is called through the slow structured call: see the server log"
    before = dict(model.calls)
    out = model.predict_instances(served_model["instances"][:8])
    np.testing.assert_allclose(out, served_model["predictions"][:8], atol=1e-5)
    assert model.calls[STRUCTURED] == before[STRUCTURED]
    assert model.calls[FLAT] + model.calls["examples"] > before[FLAT] + before["examples"]


def test_without_the_private_call_the_model_falls_back_to_the_same_answers(
    served_model: dict, monkeypatch: pytest.MonkeyPatch
):
    def gone(fn, tensors):
        raise RuntimeError("ConcreteFunction._call_flat is gone")

    monkeypatch.setattr(tf_compat, "call_flat", gone)
    m = KfxModel(MODEL_NAME, served_model["model_dir"])
    m.load()
    assert m.call_path == STRUCTURED
    np.testing.assert_allclose(m.predict_instances(served_model["instances"]), served_model["predictions"], atol=1e-5)


def test_concurrent_requests_share_one_tensorflow_call(model: KfxModel, served_model: dict):
    rows = served_model["instances"]
    expected = np.array(served_model["predictions"])

    async def burst(n: int) -> list:
        return await asyncio.gather(*(model.predict({"instances": [rows[i % len(rows)]]}) for i in range(n)))

    calls = model.batcher.calls
    answers = asyncio.run(burst(40))
    for i, a in enumerate(answers):
        np.testing.assert_allclose(a["predictions"], expected[[i % len(rows)]], atol=1e-5)
    # all 40 queued before the worker ran: one call per path (raw rows, rows needing tf.Examples)
    assert model.batcher.calls - calls <= 2
    model.batcher.stop()


def test_serves_the_tf_serving_layout_too(served_model: dict, tmp_path):
    src = served_model["model_dir"]
    shutil.copytree(f"{src}/{SAVED_MODEL_DIR}", tmp_path / TF_SERVING_VERSION)
    shutil.copy(f"{src}/{MODEL_META}", tmp_path / MODEL_META)
    m = KfxModel(MODEL_NAME, str(tmp_path))
    m.load()
    np.testing.assert_allclose(m.predict_instances(served_model["instances"]), served_model["predictions"], atol=1e-5)


def test_a_directory_without_a_savedmodel_names_both_layouts(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SavedModel in") as e:
        KfxModel(MODEL_NAME, str(tmp_path)).load()
    assert SAVED_MODEL_DIR in str(e.value) and "TF Serving" in str(e.value)
