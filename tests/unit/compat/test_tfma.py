"""_compat.tfma: TFMA's per-example Mapping tests use collections.abc, with the same answers and metrics."""

from __future__ import annotations

import collections
import collections.abc
import importlib
import types

import numpy as np
import pytest

from components._shared._compat import tfma as compat

pytestmark = pytest.mark.unit


def test_tfma_modules_test_against_collections_abc_after_the_shortcut():
    compat.fast_mapping_checks()
    assert compat.fast_mapping_checks() == 0, "idempotent"
    for name in compat.MODULES:
        module = importlib.import_module(name)
        assert getattr(module, "Mapping", collections.abc.Mapping) is collections.abc.Mapping
    from tensorflow_model_analysis.metrics import metric_util

    assert metric_util.Mapping is collections.abc.Mapping, "the hot path (to_label_prediction_example_weight)"


def test_answers_are_those_of_the_typing_aliases():
    import typing

    from tensorflow_model_analysis.metrics import metric_types

    values = [
        {},
        {"a": 1},
        collections.OrderedDict(),
        types.MappingProxyType({}),
        metric_types.StandardMetricInputs(labels=np.array([1.0])),
        np.array([1.0]),
        [1],
        (1,),
        None,
        1.0,
        "s",
    ]
    for v in values:
        for alias, (slow, fast) in compat.ALIASES.items():
            assert isinstance(v, slow) == isinstance(v, fast), (alias, type(v))
    assert typing.Mapping.__origin__ is collections.abc.Mapping


def test_metrics_are_unchanged_by_the_shortcut():
    """to_label_prediction_example_weight gives the same tuples with the aliases and with collections.abc."""
    from tensorflow_model_analysis.metrics import metric_types, metric_util

    inputs = [
        metric_types.StandardMetricInputs(labels=np.array([1.0]), predictions=np.array([0.7]), example_weights=None),
        metric_types.StandardMetricInputs(
            labels={"out": np.array([0.0])}, predictions={"out": np.array([0.2])}, example_weights={"out": 2.0}
        ),
    ]

    def run(output_name):
        return [
            [
                tuple(np.asarray(x).tolist() for x in t)
                for t in metric_util.to_label_prediction_example_weight(
                    i, output_name=output_name if isinstance(i.label, dict) else "", example_weighted=True
                )
            ]
            for i in inputs
        ]

    compat.fast_mapping_checks()
    fast = run("out")
    try:
        for name in compat.MODULES:  # back to TFMA's own typing aliases
            module = importlib.import_module(name)
            for alias, (slow_type, fast_type) in compat.ALIASES.items():
                if getattr(module, alias, None) is fast_type:
                    setattr(module, alias, slow_type)
        slow = run("out")
    finally:
        compat.fast_mapping_checks()
    assert fast == slow
    assert fast[0] == [([1.0], [0.7], [1.0])]


def test_per_slice_hot_key_fanout_is_the_constant_tfma_builds_the_combine_with():
    import inspect

    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as evaluator

    source = inspect.getsource(evaluator)
    assert "with_hot_key_fanout(\n            _COMBINE_PER_SLICE_KEY_HOT_KEY_FANOUT" in source, "TFMA stopped using it"
    try:
        compat.per_slice_hot_key_fanout(False)
        assert evaluator._COMBINE_PER_SLICE_KEY_HOT_KEY_FANOUT is None
    finally:
        compat.per_slice_hot_key_fanout(True)
    assert evaluator._COMBINE_PER_SLICE_KEY_HOT_KEY_FANOUT == 8, "TFMA 0.47.1's value is restored"
