"""TensorFlow internals kfx relies on (checked against tensorflow 2.16.2).

Sections: "train" (AutoGraph conversion rules). The serving section (``ConcreteFunction._call_flat``) lives here too.
"""

from __future__ import annotations

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
