"""TensorFlow Model Analysis internals kfx relies on (checked against tensorflow-model-analysis 0.47.1)."""

from __future__ import annotations

import collections.abc
import importlib
import typing

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
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            raise ImportError(
                f"{name} is gone (checked with tensorflow-model-analysis 0.47.1): update "
                "components/_shared/_compat/tfma.py (fast_mapping_checks)"
            ) from e
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
                "0.47.1): update components/_shared/_compat/tfma.py (fast_mapping_checks)"
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
    try:
        module = importlib.import_module(_FANOUT_MODULE)
        current = getattr(module, _FANOUT_NAME)
    except (ImportError, AttributeError) as e:
        raise ImportError(
            f"{_FANOUT_MODULE}.{_FANOUT_NAME} is gone (checked with tensorflow-model-analysis 0.47.1): update "
            "components/_shared/_compat/tfma.py (per_slice_hot_key_fanout)"
        ) from e
    if not _fanout_default:
        _fanout_default.append(current)
    setattr(module, _FANOUT_NAME, _fanout_default[0] if enabled else None)
