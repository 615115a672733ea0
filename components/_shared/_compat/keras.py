"""tf-keras (Keras 2) internals kfx relies on (checked against tf-keras 2.16.0)."""

from __future__ import annotations

from typing import Any


def is_compiled(model: Any) -> bool:
    """Whether ``model.compile(...)`` has been called: tf-keras' private ``Model._is_compiled`` flag.

    tf-keras has no public equivalent (``model.optimizer`` is set by ``compile`` but may be set by hand too).
    Raises AttributeError naming the version checked when the flag is gone, so a tf-keras bump cannot silently
    make kfx re-compile (and so reset) a module's model.
    """
    try:
        return bool(model._is_compiled)
    except AttributeError as e:
        raise AttributeError(
            f"{type(model).__name__} has no _is_compiled (tf-keras private flag, checked with tf-keras 2.16.0): "
            "update components/_shared/_compat/keras.py for this tf-keras version"
        ) from e
