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
