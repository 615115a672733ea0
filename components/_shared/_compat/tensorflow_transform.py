"""TensorFlow Transform internals kfx relies on (checked against tensorflow-transform 1.16.0, tensorflow 2.16.2)."""

from __future__ import annotations

import inspect
from typing import Any

from components._shared._compat import fence


class _FlatCall:
    """A loaded transform graph's ``ConcreteFunction``, called through its flat signature when TFT passes it the
    flattened input tensors (which the structured signature, one dict, can never bind); everything else is the
    function's own."""

    def __init__(self, fn: Any) -> None:
        self._kfx_fn = fn
        params = fn.function_type.parameters.values() if getattr(fn, "function_type", None) is not None else None
        varargs = params is None or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
        self._kfx_structured_args = None if varargs else len(params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kfx_fn, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and self._kfx_structured_args is not None and len(args) > self._kfx_structured_args:
            # ConcreteFunction._call_impl would try the structured signature first, fail with "too many positional
            # arguments" (formatting the repr of every input tensor into the TypeError's message), then take this
            return self._kfx_fn._call_with_flat_signature(args, kwargs)
        return self._kfx_fn(*args, **kwargs)


def flat_transform_calls() -> None:
    """Apply a loaded transform graph without ConcreteFunction's failed structured binding at every call.

    ``tensorflow_transform.saved.saved_transform_io_v2.SavedModelLoader._apply_v2_transform_model`` (the path of
    ``TFTransformOutput.transform_features_layer()``) calls the loaded ``transform_fn`` with the flattened input
    tensors. ``ConcreteFunction._call_impl`` (tensorflow 2.16.2) first binds them to the structured signature (one
    dict), which fails, and its TypeError message holds ``repr`` of every input tensor (their values as text),
    before it falls back to ``_call_with_flat_signature``: ~1/3 of the in-process apply's time on the taxi table.
    This wraps the loader's function (``SavedModelLoader._initialize``, private) so those calls go to the flat
    signature directly: the same function, the same inputs, the same outputs. Idempotent; process-wide. Raises
    ImportError naming the versions when the private API has gone (``tests/unit/compat/
    test_tensorflow_transform.py`` fails loudly then).
    """
    with fence(
        "SavedModelLoader._initialize or ConcreteFunction._call_with_flat_signature is gone (checked with "
        "tensorflow-transform 1.16.0, tensorflow 2.16.2): update components/_shared/_compat/tensorflow_transform.py"
    ):
        from tensorflow.python.eager.polymorphic_function.concrete_function import ConcreteFunction
        from tensorflow_transform.saved import saved_transform_io_v2 as io

        original = io.SavedModelLoader._initialize
        ConcreteFunction._call_with_flat_signature  # noqa: B018  (the fast path must exist)
    if getattr(original, "_kfx_flat", False):
        return

    def _initialize(self, load_v2_in_compat, imported, wrapped, *rest, **kwargs):
        if isinstance(wrapped, ConcreteFunction):
            wrapped = _FlatCall(wrapped)
        return original(self, load_v2_in_compat, imported, wrapped, *rest, **kwargs)

    _initialize._kfx_flat = True  # type: ignore[attr-defined]
    _initialize.__wrapped__ = original  # type: ignore[attr-defined]
    io.SavedModelLoader._initialize = _initialize
