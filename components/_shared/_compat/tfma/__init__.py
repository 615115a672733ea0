"""TensorFlow Model Analysis internals kfx relies on (checked against tensorflow-model-analysis 0.47.1).

This package holds per-example shortcuts (mapping checks, the per-slice fanout, signature calls); ``batched`` holds
the batched metric combine and its slicer (re-exported here)."""

from __future__ import annotations

import collections.abc
import importlib
import typing
from typing import Any

from components._shared._compat import fence
from components._shared._compat.tfma.batched import (  # noqa: F401  (re-exported)
    BatchSlicer,
    batched_combine_supported,
    batched_metric_combine,
)

#: TFMA modules on the per-example metric path and the ``typing`` aliases they test values against.
MODULES = (
    "tensorflow_model_analysis.metrics.metric_util",
    "tensorflow_model_analysis.metrics.metric_types",
    "tensorflow_model_analysis.utils.util",
)
ALIASES = {
    "Mapping": (typing.Mapping, collections.abc.Mapping),
    "MutableMapping": (typing.MutableMapping, collections.abc.MutableMapping),
}


def fast_mapping_checks() -> int:
    """Make TFMA's per-example ``isinstance(value, Mapping)`` tests use ``collections.abc`` directly.

    TFMA's metric modules (``tfma.metrics.metric_util``, ``metric_types``, ``tfma.utils.util``; internal, checked
    with tensorflow-model-analysis 0.47.1) import ``Mapping``/``MutableMapping`` from ``typing`` and test every
    label, prediction and weight of every example against them, several times per metric: ``isinstance`` on a
    ``typing`` alias goes through ``typing``'s ``__instancecheck__``/``__subclasscheck__`` in Python (~5 µs), on
    the ``collections.abc`` class it names it is a C call. The answer is the same by definition (the alias
    delegates to that class), so metrics are unchanged. Replaces the module globals (types in annotations are
    untouched); idempotent, process-wide; returns how many were replaced. On a distributed runner the workers'
    TFMA keeps the aliases (same results, TFMA's own speed). Raises ImportError naming the version when a module
    is gone or no longer uses the alias (then this shortcut is no longer the path taken).
    """
    replaced = 0
    for name in MODULES:
        with fence(
            f"{name} is gone (checked with tensorflow-model-analysis 0.47.1): update "
            "components/_shared/_compat/tfma/__init__.py (fast_mapping_checks)"
        ):
            module = importlib.import_module(name)
        found = False
        for alias, (slow, fast) in ALIASES.items():
            value = getattr(module, alias, None)
            if value is slow:
                setattr(module, alias, fast)
                replaced += 1
                found = True
            elif value is fast:
                found = True
        if not found:
            raise ImportError(
                f"{name} no longer tests values against typing.Mapping (checked with tensorflow-model-analysis "
                "0.47.1): update components/_shared/_compat/tfma/__init__.py (fast_mapping_checks)"
            )
    return replaced


#: TFMA's per-slice combine spreads each slice over this many keys first (module constant of
#: ``tensorflow_model_analysis.evaluators.metrics_plots_and_validations_evaluator``; 8 in 0.47.1).
_FANOUT_MODULE = "tensorflow_model_analysis.evaluators.metrics_plots_and_validations_evaluator"
_FANOUT_NAME = "_COMBINE_PER_SLICE_KEY_HOT_KEY_FANOUT"
_fanout_default: list[object] = []


def per_slice_hot_key_fanout(enabled: bool) -> None:
    """Turn TFMA's hot-key fanout of the per-slice metric combine off (``enabled=False``) or back to TFMA's value.

    TFMA combines metrics per slice with ``beam.CombinePerKey(...).with_hot_key_fanout(8)`` (the constant
    ``_COMBINE_PER_SLICE_KEY_HOT_KEY_FANOUT``; internal, checked with tensorflow-model-analysis 0.47.1): on a
    cluster this spreads the "Overall" slice over 8 workers. On Beam's in-process DirectRunner there is one worker
    to spread over, and the fanout's Flatten keeps Beam from pre-combining inside the stage that reads the data:
    every (example, slice) pair is pickled into a buffer and unpickled again (taxi, 300k eval rows: evaluate's CPU
    time 175 s with the fanout, 148 s without). Without it the runner combines as it reads. The metrics are the
    same combiners over the same examples (only the order of float additions changes). Read when TFMA builds the
    pipeline: call it before ``run_model_analysis``. Raises ImportError naming the version when the constant is gone.
    """
    with fence(
        f"{_FANOUT_MODULE}.{_FANOUT_NAME} is gone (checked with tensorflow-model-analysis 0.47.1): update "
        "components/_shared/_compat/tfma/__init__.py (per_slice_hot_key_fanout)"
    ):
        module = importlib.import_module(_FANOUT_MODULE)
        current = getattr(module, _FANOUT_NAME)
    if not _fanout_default:
        _fanout_default.append(current)
    setattr(module, _FANOUT_NAME, _fanout_default[0] if enabled else None)


# --- Signature calls by keyword (checked against tensorflow-model-analysis 0.47.1, tensorflow 2.16.2) ---------------
_MODEL_UTIL_MODULE = "tensorflow_model_analysis.utils.model_util"
_GET_CALLABLE = "get_callable"
_get_callable_original: list[Any] = []


class KeywordSignatureCall:
    """A SavedModel signature that takes its one input positionally, as TFMA calls it, bound by keyword."""

    def __init__(self, fn: Any, name: str) -> None:
        self._fn = fn
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs:
            return self._fn(**{self._name: args[0]})
        return self._fn(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._fn, attr)


def _keyword_input(fn: Any) -> str | None:
    """The one keyword input of a signature function (``structured_input_signature == ((), {name: spec})``)."""
    signature = getattr(fn, "structured_input_signature", None)
    if not (isinstance(signature, tuple) and len(signature) == 2):
        return None
    args, kwargs = signature
    if args or not isinstance(kwargs, dict) or len(kwargs) != 1:
        return None
    return next(iter(kwargs))


def keyword_signature_calls() -> None:
    """Make TFMA call one-input SavedModel signatures by keyword.

    TFMA's model stages (``tfma.utils.model_util``'s ``_batch_reducible_process``; internal, checked with
    tensorflow-model-analysis 0.47.1 and tensorflow 2.16.2) call a signature that takes serialized examples
    positionally: ``signature(tf.constant(inputs))``. A SavedModel signature binds only by keyword, so TensorFlow
    first fails to bind, formats a TypeError that prints the whole batch of serialized examples (~24 ms per
    1,000 rows, for each of kfx's two signatures, ``transform_features`` and ``serving_default``), then calls
    the flat signature with the same tensor. ``get_callable`` here wraps such a signature so the positional call
    is made by its keyword: the same concrete function on the same tensor, the same outputs. Idempotent,
    process-wide. Raises ImportError naming the version when ``get_callable`` is gone.
    """
    with fence(
        f"{_MODEL_UTIL_MODULE}.{_GET_CALLABLE} is gone (checked with tensorflow-model-analysis 0.47.1): update "
        "components/_shared/_compat/tfma/__init__.py (keyword_signature_calls)"
    ):
        module = importlib.import_module(_MODEL_UTIL_MODULE)
        current = getattr(module, _GET_CALLABLE)
    if _get_callable_original and current is not _get_callable_original[0]:
        return  # already wrapped
    _get_callable_original.append(current)
    original = current

    def get_callable(model: Any, signature_name: str | None = None, required: bool = True) -> Any:
        fn = original(model, signature_name, required)
        name = _keyword_input(fn) if fn is not None and signature_name else None
        return KeywordSignatureCall(fn, name) if name else fn

    module.get_callable = get_callable
