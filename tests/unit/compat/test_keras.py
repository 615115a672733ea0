"""_compat.keras: tf-keras' private ``_is_compiled`` flag still tells a compiled model from a fresh one."""

from __future__ import annotations

import pytest

import components  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared._compat.keras import is_compiled

pytestmark = pytest.mark.unit


def test_is_compiled_follows_compile():
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    assert type(model).__module__.startswith("tf_keras")  # the Keras kfx trains with
    assert is_compiled(model) is False
    model.compile(optimizer="adam", loss="mse")
    assert is_compiled(model) is True


def test_missing_flag_is_a_clear_error():
    with pytest.raises(AttributeError, match="tf-keras private flag"):
        is_compiled(object())
