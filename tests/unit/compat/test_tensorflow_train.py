"""_compat.tensorflow (train section): the AutoGraph rule that keeps tf-keras' code out of AutoGraph."""

from __future__ import annotations

import pytest

import components  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared._compat.tensorflow import autograph_skip_tf_keras

pytestmark = pytest.mark.unit


def test_tf_keras_code_is_not_converted_by_autograph():
    """The fast path: after the hook, AutoGraph treats tf-keras functions as allowlisted (called as they are)."""
    import tf_keras
    from tensorflow.python.autograph.impl import conversion

    assert autograph_skip_tf_keras() is True
    assert autograph_skip_tf_keras() is True  # idempotent
    from tensorflow.python.autograph.core import config

    assert sum(getattr(r, "_prefix", None) == "tf_keras" for r in config.CONVERSION_RULES) == 1
    assert conversion.is_allowlisted(tf_keras.layers.Dense.call)
    assert conversion.is_allowlisted(tf_keras.Model.train_step)
