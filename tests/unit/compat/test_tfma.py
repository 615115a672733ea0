"""_compat.tfma: TFMA's per-example Mapping tests, the per-slice fanout, keyword signature calls and the batched combine."""

from __future__ import annotations

import collections
import collections.abc
import importlib
import types

import numpy as np
import pytest

from components._shared._compat import tfma as compat
from components._shared._compat.tfma import batched

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


# --- batched metric combine ------------------------------------------------------------------------------------------


def _binary_computations(has_baseline: bool = False):
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.metrics import metric_specs

    from components.evaluate.tfma_config import eval_config, thresholds_for

    thresholds = thresholds_for("binary", None, None, has_baseline)
    config = eval_config("binary", "label", "examples", ["channel"], thresholds, has_baseline)
    config = tfma.utils.update_eval_config_with_defaults(config, has_baseline=has_baseline)
    return config, metric_specs.to_computations(config.metrics_specs, eval_config=config)


def _batch(n: int, seed: int, models: tuple[str, ...] = ("",)) -> dict:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(np.int64)
    preds = {}
    for m in models:
        p = rng.random(n).astype(np.float32)
        p[: min(n, 4)] = np.array([0.5, 1e-7, 0.9999, 0.25], dtype=np.float32)[: min(n, 4)]  # threshold, edges
        preds[m] = p.reshape(n, 1)
    features = {"channel": np.array([[c] for c in rng.choice([b"pos", b"atm", b"online"], n)], dtype=object)}
    prediction = preds[""] if models == ("",) else preds
    return {"features": features, "labels": labels, "predictions": prediction, "example_weights": None}


def _tfma_per_example(combiner, batch: dict):
    """The accumulator TFMA's own per-example path builds: its unbatching, then the combiner's add_input."""
    from tensorflow_model_analysis.extractors import unbatch_extractor
    from tensorflow_model_analysis.metrics import metric_types

    acc = combiner.create_accumulator()
    for example in unbatch_extractor._extract_unbatched_inputs(batch):
        acc = combiner.add_input(acc, metric_types.StandardMetricInputs(example))
    return combiner.extract_output(acc)


def _plain(value):
    """Metric outputs as plain python values (histogram buckets and accumulators by their fields)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__") or hasattr(value, "__slots__") or hasattr(value, "__dict__"):
        fields = getattr(value, "__slots__", None) or list(vars(value))
        return {f: _plain(getattr(value, f)) for f in fields if not f.startswith("__")}
    return float(value) if isinstance(value, int | float | np.number) else value


def _assert_close(a, b, path=""):
    if isinstance(a, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert abs(a - b) <= 1e-9 * max(1.0, abs(a)), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_kfx_binary_metrics_are_all_filled_from_batches():
    """Every combiner of kfx's binary metric set has a batch filler; TFMA renaming one makes this fail loudly."""
    for has_baseline in (False, True):
        config, computations = _binary_computations(has_baseline)
        assert batched.batched_combine_supported(config) and batched.computations_supported(computations)
    kinds = {type(c.combiner).__name__ for c in _binary_computations()[1] if hasattr(c, "combiner")}
    assert kinds == {name for (_, name) in batched._FILLERS}, "each filler is used by kfx's binary metrics"


def test_other_tasks_keep_tfmas_per_example_combine():
    import tensorflow_model_analysis as tfma

    from components.evaluate.tfma_config import eval_config, thresholds_for

    for task in ("multiclass", "regression"):
        config = eval_config(task, "label", "examples", [], thresholds_for(task, None, None, False), False)
        config = tfma.utils.update_eval_config_with_defaults(config)
        assert not batched.batched_combine_supported(config), task


@pytest.mark.parametrize("models", [("",), ("candidate", "baseline")], ids=["one_model", "with_baseline"])
def test_each_filler_builds_the_accumulator_tfmas_add_input_builds(models):
    """Filled from a batch of 600 examples (in two parts, onto a used accumulator) == TFMA's per-example
    add_input over the same examples: buckets and counts exact, sums within 1e-9 relative."""
    from tensorflow_model_analysis.metrics import metric_types

    _, computations = _binary_computations(has_baseline=models != ("",))
    batch = _batch(600, seed=3, models=models)
    parts = [{k: batched._take(v, np.arange(a, b)) for k, v in batch.items()} for a, b in ((0, 250), (250, 600))]
    checked = 0
    for c in computations:
        if not isinstance(c, metric_types.MetricComputation):
            continue
        expected = _plain(_tfma_per_example(c.combiner, batch))
        fill = batched._filler(c.combiner)
        acc = c.combiner.create_accumulator()
        for part in parts:
            acc = fill(c.combiner, acc, metric_types.StandardMetricInputs(part))
        _assert_close(expected, _plain(c.combiner.extract_output(acc)), type(c.combiner).__name__)
        checked += 1
    assert checked == sum(isinstance(c, metric_types.MetricComputation) for c in computations) >= 5


def test_batch_slicer_gives_tfmas_slice_keys_per_example():
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis import constants
    from tensorflow_model_analysis.extractors import slice_key_extractor, unbatch_extractor

    config = tfma.EvalConfig(slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["channel"])])
    batch = _batch(300, seed=5)
    groups = batched.BatchSlicer(config)(batch)
    fn = slice_key_extractor.ExtractSliceKeysFn(config, materialize=False)
    specs = batched._slice_specs(config)
    expected: dict = {}
    for i, example in enumerate(unbatch_extractor._extract_unbatched_inputs(batch)):
        (out,) = fn.process(example, specs)
        key = frozenset(out[constants.SLICE_KEY_TYPES_KEY].tolist())
        expected.setdefault(key, []).append(float(batch["predictions"][i, 0]))
    got = {
        frozenset(g[constants.SLICE_KEY_TYPES_KEY].tolist()): g["predictions"][:, 0].astype(float).tolist()
        for g in groups
    }
    assert got == expected and len(got) == 3, "one batch per channel, each with its rows in order"
    assert sum(len(g["labels"]) for g in groups) == 300


def test_batched_metric_combine_swaps_tfmas_combine_fn_and_restores_it():
    import inspect

    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as evaluator

    source = inspect.getsource(evaluator._ComputeMetricsAndPlots)
    assert "_ComputationsCombineFn(computations=computations)" in source, "TFMA stopped building the combine so"
    original = evaluator._ComputationsCombineFn
    with batched.batched_metric_combine():
        swapped = evaluator._ComputationsCombineFn
        assert swapped is not original and issubclass(swapped, original)
    assert evaluator._ComputationsCombineFn is original
    with batched.batched_metric_combine(enabled=False):
        assert evaluator._ComputationsCombineFn is original


def test_batch_slicer_without_slice_features_gives_the_overall_slice():
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis import constants

    batch = dict(_batch(20, seed=7), features={}, transformed_features={})
    (group,) = batched.BatchSlicer(tfma.EvalConfig(slicing_specs=[tfma.SlicingSpec()]))(batch)
    assert group[constants.SLICE_KEY_TYPES_KEY].tolist() == [()] and len(group["labels"]) == 20


# --- signature calls by keyword ----------------------------------------------------------------------------------


def test_tfma_calls_signatures_positionally_through_get_callable():
    """The path keyword_signature_calls relies on: TFMA looks signatures up with get_callable at call time and
    calls them with one positional tensor of serialized examples."""
    import inspect

    from tensorflow_model_analysis.utils import model_util

    source = inspect.getsource(model_util)
    assert "signature = signature or get_callable(model, signature_name, required)" in source
    assert "outputs = signature(tf.constant(inputs, dtype=tf.string))" in source


def test_keyword_signature_calls_give_the_outputs_of_tfmas_positional_call(tmp_path):
    import tensorflow as tf
    from tensorflow_model_analysis.utils import model_util

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples):
            return {"n": tf.strings.length(examples) * 2}

    module = Doubler()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve})
    model = tf.saved_model.load(str(tmp_path))
    batch = tf.constant([b"a", b"bbb", b""], dtype=tf.string)
    before = model_util.get_callable(model, "serving_default")(batch)  # TF's failed bind, then the flat call
    compat.keyword_signature_calls()
    compat.keyword_signature_calls()  # idempotent
    fn = model_util.get_callable(model, "serving_default")
    assert isinstance(fn, compat.KeywordSignatureCall) and not isinstance(fn._fn, compat.KeywordSignatureCall)
    assert fn.structured_input_signature == model.signatures["serving_default"].structured_input_signature
    after = fn(batch)
    assert after["n"].numpy().tolist() == before["n"].numpy().tolist() == [2, 6, 0]
    assert model_util.get_callable(model) is not None, "no signature name: TFMA's answer unchanged"
