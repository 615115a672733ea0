"""TensorFlow internals kfx relies on (checked against tensorflow 2.16.2).

Sections: "train" (AutoGraph conversion rules). The serving section (``ConcreteFunction._call_flat``) lives here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# --------------------------------------------------------------------------------------------- train

#: the package AutoGraph must not transpile: tf-keras (Keras 2 under its new name)
TF_KERAS_PREFIX = "tf_keras"


def autograph_skip_tf_keras() -> bool:
    """Don't let AutoGraph transpile tf-keras' own code: saves ~15 s of tracing per process on the first ``fit``.

    TensorFlow's AutoGraph skips the package ``keras`` but not ``tf_keras`` (Keras 2 under its new name); this adds
    a ``DoNotConvert("tf_keras")`` rule in front of ``tensorflow.python.autograph.core.config.CONVERSION_RULES``
    (private; checked with tensorflow 2.16.2). Returns True when the rule is in place (idempotent); False when the
    private API has gone, in which case training still works, only slower to start
    (``tests/unit/compat/test_tensorflow.py`` fails loudly then).
    """
    try:
        from tensorflow.python.autograph.core import config
    except ImportError:
        return False
    rules = tuple(getattr(config, "CONVERSION_RULES", ()))
    if not any(getattr(r, "_prefix", None) == TF_KERAS_PREFIX for r in rules):
        config.CONVERSION_RULES = (config.DoNotConvert(TF_KERAS_PREFIX),) + rules
    return any(getattr(r, "_prefix", None) == TF_KERAS_PREFIX for r in config.CONVERSION_RULES)


# --------------------------------------------------------------------------------------------- serving
# The model server calls the ``serving_raw`` concrete function with pre-built tensors in its flat argument
# order: about 2x cheaper per call than the public structured call (which re-validates and re-flattens the
# keyword arguments every time). Checked against tensorflow-cpu 2.21.0 (and 2.16.2):
# ``ConcreteFunction._call_flat(tensor_inputs, captured_inputs)``.

SERVING_CHECKED = "tensorflow-cpu 2.21.0"


def has_call_flat(fn: Any) -> bool:
    """Whether ``fn`` (a ``ConcreteFunction``) still has the private flat call kfx uses (checked: TF 2.21.0)."""
    return callable(getattr(fn, "_call_flat", None)) and hasattr(fn, "captured_inputs")


def call_flat(fn: Any, tensors: Sequence[Any]) -> Any:
    """Call the concrete function ``fn`` on ``tensors`` given in its flat input order (no structure checks).

    Checked: tensorflow-cpu 2.21.0 and 2.16.2. Raises ``RuntimeError`` naming the checked version when the
    private API is gone; callers check its result
    against the public structured call once (at warm-up) and fall back to that call when this fails.
    """
    if not has_call_flat(fn):
        raise RuntimeError(
            f"ConcreteFunction._call_flat is gone (checked against {SERVING_CHECKED}): use the structured call"
        )
    return fn._call_flat(list(tensors), fn.captured_inputs)


# --------------------------------------------------------------------------------------------- records
# Reading a few TFRecord files with tf.data costs ~1 s of start-up per process, which dominates small splits;
# ``tf.compat.v1.io.tf_record_iterator`` is TF's C++ record reader without it. It is deprecated (public, v1 API),
# and ``tensorflow.python.util.deprecation.silence`` (internal) keeps its warning out of every step's log.
# Checked against tensorflow 2.16.2.


def tf_record_iterator(path: str, options: Any = None) -> Any:
    """The serialized records of one TFRecord file, in order (fast path: the v1 C++ iterator, warning silenced)."""
    import tensorflow as tf
    from tensorflow.python.util import deprecation

    with deprecation.silence():
        yield from tf.compat.v1.io.tf_record_iterator(path, options)
