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


def steps_per_execution(model: Any) -> int | None:
    """The steps ``fit``/``evaluate`` run per call of the compiled train/test function: tf-keras' private
    ``Model._steps_per_execution`` variable (set by ``compile``; checked with tf-keras 2.16.0). None when not compiled.
    """
    v = getattr(model, "_steps_per_execution", None)
    return None if v is None else int(v.numpy())


def set_steps_per_execution(model: Any, steps: int) -> bool:
    """Set the steps per call of ``fit``/``evaluate`` on a compiled model, as ``compile(steps_per_execution=...)``
    does, without re-compiling (which would reset a module's compile). Only while the model has no train/test
    function yet (tf-keras builds the multi-step loop into them when first made; an existing single-step function would
    then be stepped as if it ran ``steps``). Returns whether it was set. Raises AttributeError naming the version
    checked when the private variable is gone (tf-keras 2.16.0)."""
    v = getattr(model, "_steps_per_execution", None)
    if v is None:
        raise AttributeError(
            f"{type(model).__name__} has no _steps_per_execution (tf-keras private variable, checked with tf-keras "
            "2.16.0): update components/_shared/_compat/keras.py for this tf-keras version"
        )
    if getattr(model, "train_function", None) is not None or getattr(model, "test_function", None) is not None:
        return False
    v.assign(steps)
    return True


def restore_steps_per_execution(model: Any, steps: int) -> None:
    """Put back the steps per call after a ``fit`` that :func:`set_steps_per_execution` changed: the train/test
    functions that fit built loop over the variable's value, so they run ``steps`` a call from then on."""
    model._steps_per_execution.assign(steps)
