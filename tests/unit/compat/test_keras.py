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


def test_steps_per_execution_set_only_before_the_functions_exist():
    import numpy as np
    import tensorflow as tf

    from components._shared._compat.keras import (
        restore_steps_per_execution,
        set_steps_per_execution,
        steps_per_execution,
    )

    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    assert steps_per_execution(model) is None
    model.compile(optimizer="adam", loss="mse")
    assert steps_per_execution(model) == 1
    assert set_steps_per_execution(model, 4) is True and steps_per_execution(model) == 4
    x, y = np.ones((10, 2), np.float32), np.ones((10, 1), np.float32)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(2), epochs=1, verbose=0)
    assert model.optimizer.iterations.numpy() == 5  # the multi-step loop: 4 + 1 steps
    assert set_steps_per_execution(model, 8) is False  # its functions exist
    restore_steps_per_execution(model, 1)
    assert steps_per_execution(model) == 1
    with pytest.raises(AttributeError, match="tf-keras private variable"):
        set_steps_per_execution(object(), 2)
