"""TFMA's per-slice metric combine fed with batches of one slice (checked against tensorflow-model-analysis 0.47.1).

``BatchSlicer`` stands in for TFMA's unbatch and slice-key stages; ``batched_metric_combine`` has TFMA's evaluator
build its per-slice combine with a subclass of its own combine fn that fills TFMA's own accumulators from each
batch's numpy arrays. Part of the ``_compat.tfma`` fence: TFMA internals only here, pinned by
``tests/unit/compat/test_tfma.py``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

from components._shared._compat import fence

#: TFMA's evaluator module, the combine fn kfx subclasses and the keys its preprocess stage writes (internal).
_EVALUATOR_MODULE = "tensorflow_model_analysis.evaluators.metrics_plots_and_validations_evaluator"
_COMBINE_FN_NAME = "_ComputationsCombineFn"
_DEFAULT_INPUT_KEY_NAME = "_DEFAULT_COMBINER_INPUT_KEY"
_INPUTS_KEY_NAME = "_COMBINER_INPUTS_KEY"
#: The TFMA combiners kfx fills from whole batches: (module, class) -> filler name in this module.
_FILLERS = {
    ("tensorflow_model_analysis.metrics.example_count", "_ExampleCountCombiner"): "_fill_example_count",
    ("tensorflow_model_analysis.metrics.calibration_histogram", "_CalibrationHistogramCombiner"): "_fill_histogram",
    ("tensorflow_model_analysis.metrics.binary_confusion_matrices", "_BinaryConfusionMatrixCombiner"): "_fill_matrix",
    ("tensorflow_model_analysis.metrics.cross_entropy_metrics", "_BinaryCrossEntropyCombiner"): "_fill_cross_entropy",
    ("tensorflow_model_analysis.metrics.calibration", "_WeightedLabelsPredictionsExamplesCombiner"): "_fill_weighted",
}


def _evaluator_module() -> Any:
    with fence(
        f"{_EVALUATOR_MODULE}.{_COMBINE_FN_NAME} and its input keys are gone (checked with "
        "tensorflow-model-analysis 0.47.1): update components/_shared/_compat/tfma/batched.py"
    ):
        module = importlib.import_module(_EVALUATOR_MODULE)
        for name in (_COMBINE_FN_NAME, _DEFAULT_INPUT_KEY_NAME, _INPUTS_KEY_NAME):
            getattr(module, name)
    return module


def _filler(combiner: Any) -> Any:
    """The batch filler for ``combiner`` when kfx has one for its class and its settings, else None."""
    cls = type(combiner)
    name = _FILLERS.get((cls.__module__, cls.__name__))
    if name is None:
        return None
    if getattr(combiner, "_example_weighted", False) or getattr(combiner, "_class_weights", None):
        return None
    if getattr(combiner, "_aggregation_type", None) is not None:
        return None
    key = getattr(combiner, "_key", None) or getattr(combiner, "_metric_key", None)
    if key is not None and (key.sub_key is not None or key.output_name):
        return None
    if name == "_fill_example_count" and combiner._output_name:
        return None
    if name == "_fill_matrix":
        from tensorflow_model_analysis.metrics import metric_util

        if combiner._example_id_key or combiner._extract_label_prediction_and_weight is not (
            metric_util.to_label_prediction_example_weight
        ):
            return None
    if name == "_fill_cross_entropy" and (combiner._from_logits or combiner._label_smoothing):
        return None
    return globals()[name]


def batched_combine_supported(eval_config: Any) -> bool:
    """True when every metric computation of ``eval_config`` (TFMA's ``metric_specs.to_computations``) is a TFMA
    combiner kfx fills from whole batches (binary metrics without example weights, class weights, sub keys or
    aggregation) and reads only TFMA's standard metric inputs."""
    from tensorflow_model_analysis.metrics import metric_specs

    return computations_supported(metric_specs.to_computations(eval_config.metrics_specs, eval_config=eval_config))


def computations_supported(computations: Any) -> bool:
    """:func:`batched_combine_supported` for TFMA metric computations."""
    from tensorflow_model_analysis.metrics import metric_types

    for c in computations:
        if not isinstance(c, metric_types.MetricComputation):
            continue  # derived computations read the combiners' outputs
        if c.preprocessors and not (
            len(c.preprocessors) == 1 and type(c.preprocessors[0]) is metric_types.StandardMetricInputsPreprocessor
        ):
            return False
        if _filler(c.combiner) is None:
            return False
    return True


def _arrays(combiner: Any, inputs: Any) -> tuple[Any, Any]:
    """The batch's labels (as given) and predictions (as given) of the combiner's model, one value per example."""
    import numpy as np

    key = getattr(combiner, "_key", None) or getattr(combiner, "_metric_key", None)
    model = key.model_name if key is not None else combiner._model_name
    label, prediction = inputs.label, inputs.prediction
    if model:
        label = label[model] if isinstance(label, dict) and model in label else label
        prediction = prediction[model]
    label, prediction = np.asarray(label), np.asarray(prediction)
    n = len(prediction)
    if label.size != n or prediction.size != n:
        raise ValueError(
            f"kfx's batched TFMA combine expects one label and one prediction per example, got shapes "
            f"{label.shape} and {prediction.shape} (tensorflow-model-analysis 0.47.1)"
        )
    return label.reshape(n), prediction.reshape(n)


def _fill_example_count(combiner: Any, accumulator: Any, inputs: Any) -> Any:
    import numpy as np

    # TFMA adds np.sum(np.array(1.0)) per example
    return accumulator + np.float64(len(_arrays_any(inputs)))


def _arrays_any(inputs: Any) -> Any:
    import numpy as np

    prediction = inputs.prediction
    if isinstance(prediction, dict):
        prediction = next(iter(prediction.values()))
    return np.asarray(prediction)


def _fractional(label: Any, prediction: Any) -> tuple[Any, Any, Any]:
    """TFMA's ``_yield_fractional_labels`` for a batch (weights 1): labels 0/1, predictions, weights; zero weights
    dropped; label l gives (0, p, 1 - l) then (1, p, l)."""
    import numpy as np

    label64 = label.astype(np.float64)
    if np.any((label64 < 0.0) | (label64 > 1.0)):
        raise ValueError(f"label must be within [0, 1]: labels={label[(label64 < 0.0) | (label64 > 1.0)][:5]}")
    w0, w1 = (1.0 - label64), label64
    labels = np.stack([np.zeros_like(label64), np.ones_like(label64)], axis=1).reshape(-1)
    weights = np.stack([w0, w1], axis=1).reshape(-1)
    predictions = np.repeat(prediction, 2)
    keep = weights != 0.0
    return labels[keep], predictions[keep], weights[keep]


def _fill_histogram(combiner: Any, accumulator: Any, inputs: Any) -> Any:
    import numpy as np
    from tensorflow_model_analysis.metrics.calibration_histogram import Bucket

    label, prediction = _arrays(combiner, inputs)
    if combiner._fractional_labels:
        label, prediction, weight = _fractional(label, prediction)
    else:
        label, weight = label.astype(np.float64), np.ones(len(label))
    prediction = prediction.astype(np.float64)  # TFMA: float(prediction)
    value = prediction if combiner._prediction_based_bucketing else label
    index = ((value - combiner._left) / combiner._range * combiner._num_buckets) + 1
    index = np.where(index < 0, 0, np.where(index >= combiner._num_buckets + 1, combiner._num_buckets + 1, index))
    index = index.astype(np.int64)  # TFMA: int(...) truncates; values here are >= 0
    ids, where = np.unique(index, return_inverse=True)
    labels = np.bincount(where, weights=label * weight)
    predictions = np.bincount(where, weights=prediction * weight)
    examples = np.bincount(where, weights=weight)
    for i, bucket_id in enumerate(ids.tolist()):
        bucket = accumulator.get(bucket_id)
        if bucket is None:
            accumulator[bucket_id] = Bucket(bucket_id, float(labels[i]), float(predictions[i]), float(examples[i]))
        else:
            bucket.weighted_labels += float(labels[i])
            bucket.weighted_predictions += float(predictions[i])
            bucket.weighted_examples += float(examples[i])
    return accumulator


def _fill_matrix(combiner: Any, accumulator: Any, inputs: Any) -> Any:
    import numpy as np

    label, prediction = _arrays(combiner, inputs)
    if combiner._enable_fractional_labels:
        label, prediction, weight = _fractional(label, prediction)
    else:
        weight = np.ones(len(label))
    # TFMA's own batch-capable matrix update (it loops over the given labels), with the values TFMA passes it
    return combiner._binary_confusion_matrices.add_input(
        accumulator=accumulator,
        labels=label.astype(np.float64).tolist(),
        predictions=prediction.astype(np.float64).tolist(),
        example_weights=weight.tolist(),
        example_id=None,
    )


def _fill_cross_entropy(combiner: Any, accumulator: Any, inputs: Any) -> Any:
    import numpy as np

    label, prediction = _arrays(combiner, inputs)
    # TFMA per example: -label * log(p) - (1 - label) * log(1 - p), in the arrays' own dtypes, times weight 1
    per_example = -np.multiply(label, np.log(prediction)) - np.multiply((1 - label), np.log(1 - prediction))
    accumulator.total_cross_entropy += float(np.sum(per_example.astype(np.float64)))
    accumulator.total_example_weights += float(len(label))
    return accumulator


def _fill_weighted(combiner: Any, accumulator: Any, inputs: Any) -> Any:
    import numpy as np

    label, prediction = _arrays(combiner, inputs)
    accumulator.total_weighted_examples += float(len(label))
    if len(label):
        accumulator.total_weighted_labels += float(np.sum(label.astype(np.float64)))
        accumulator.total_weighted_predictions += float(np.sum(prediction.astype(np.float64)))
    return accumulator


def batched_combine_fn_class() -> Any:
    """A subclass of TFMA's per-slice ``_ComputationsCombineFn`` whose elements are batches of examples.

    TFMA (internal, checked with tensorflow-model-analysis 0.47.1) combines metrics one example at a time: every
    (example, slice) pair goes through each combiner's ``add_input``, which converts the label, prediction and
    weight through ``metric_util.to_label_prediction_example_weight`` (~300 us per eval row for kfx's binary
    metric set). Here each element carries a batch of examples of one slice (``tfma_extract``'s batched slicing)
    and each combiner's accumulator is filled from the batch's numpy arrays, into the accumulator TFMA's own
    ``add_input`` would build: the same buckets, matrices and sums (floats summed in another order). Merge,
    compact and extract_output are TFMA's. Only for computations ``batched_combine_supported`` accepts.
    """
    module = _evaluator_module()
    base = getattr(module, _COMBINE_FN_NAME)
    default_key = getattr(module, _DEFAULT_INPUT_KEY_NAME)
    inputs_key = getattr(module, _INPUTS_KEY_NAME)

    class BatchedComputationsCombineFn(base):
        def add_input(self, accumulator: Any, element: Any) -> Any:
            if any(item is not None for item in element[inputs_key]):
                raise ValueError("kfx's batched TFMA combine got a computation with its own preprocessor")
            batches = element[default_key]
            results = []
            for combiner, acc in zip(self._combiners, accumulator, strict=True):
                fill = _filler(combiner)
                for inputs in batches:
                    acc = fill(combiner, acc, inputs)
                results.append(acc)
            return tuple(results)

    BatchedComputationsCombineFn.__qualname__ = BatchedComputationsCombineFn.__name__
    return BatchedComputationsCombineFn


_batched_class: list[Any] = []


@contextlib.contextmanager
def batched_metric_combine(enabled: bool = True) -> Iterator[None]:
    """While open (and ``enabled``), TFMA's evaluator builds its per-slice combine with the batched combine fn
    (``batched_combine_fn_class``). Read when TFMA builds the pipeline: wrap ``run_model_analysis``. The extracts
    must then be batches of one slice each (``components/evaluate/tfma_extract.py``). Raises ImportError naming
    the version when TFMA's combine fn or its keys are gone."""
    if not enabled:
        yield
        return
    module = _evaluator_module()
    original = getattr(module, _COMBINE_FN_NAME)
    if not _batched_class:
        _batched_class.append(batched_combine_fn_class())
    setattr(module, _COMBINE_FN_NAME, _batched_class[0])
    try:
        yield
    finally:
        setattr(module, _COMBINE_FN_NAME, original)


def _slice_specs(eval_config: Any) -> list[Any]:
    """The slice specs TFMA's ``SliceKeyExtractor`` builds from ``eval_config`` (same order, same dedup)."""
    from tensorflow_model_analysis.slicer import slicer_lib as slicer

    specs = [slicer.SingleSliceSpec(spec=spec) for spec in eval_config.slicing_specs]
    for cross in eval_config.cross_slicing_specs:
        for spec in [cross.baseline_spec, *cross.slicing_specs]:
            single = slicer.SingleSliceSpec(spec=spec)
            if single not in specs:
                specs.append(single)
    return specs or [slicer.SingleSliceSpec()]


def _freeze(value: Any) -> Any:
    """A hashable copy of one example's (pruned) slice features, equal exactly when the values are."""
    import numpy as np

    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, np.ndarray):
        return ("nd", value.dtype.str, value.shape, tuple(value.ravel().tolist()))
    if isinstance(value, list | tuple):
        return ("seq", tuple(_freeze(v) for v in value))
    return ("v", type(value).__name__, value)


def _take(value: Any, rows: Any) -> Any:
    import numpy as np

    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _take(v, rows) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value[rows]
    if isinstance(value, list):
        return [value[i] for i in rows.tolist()]
    raise TypeError(f"kfx's batched TFMA slicing cannot select rows of a {type(value).__name__}")


class BatchSlicer:
    """Callable for ``beam.FlatMap``: TFMA's unbatch + slice-key stages for one batched extract, as batches.

    Each example gets its slice keys from TFMA's own ``ExtractSliceKeysFn`` (run on TFMA's own unbatched view of
    its slice features, ``unbatch_extractor._extract_unbatched_inputs``; internal, checked with
    tensorflow-model-analysis 0.47.1; examples with equal slice features share the answer). The batch is then cut
    into one batched extract per distinct set of slice keys: labels, predictions, example weights and features of
    those rows, with TFMA's slice keys under ``SLICE_KEY_TYPES_KEY``. For ``batched_metric_combine`` only.
    """

    #: Keys the metrics read, carried row-selected into each slice batch.
    CARRIED = ("labels", "predictions", "example_weights", "features", "transformed_features")

    def __init__(self, eval_config: Any) -> None:
        self.eval_config = eval_config
        self._state: tuple[Any, Any, Any] | None = None

    def _setup(self) -> tuple[Any, Any, Any]:
        if self._state is None:
            from tensorflow_model_analysis.extractors import slice_key_extractor, unbatch_extractor

            fn = slice_key_extractor.ExtractSliceKeysFn(self.eval_config, materialize=False)
            self._state = (unbatch_extractor._extract_unbatched_inputs, fn, _slice_specs(self.eval_config))
        return self._state

    def __getstate__(self) -> dict[str, Any]:
        return {"eval_config": self.eval_config, "_state": None}

    def __call__(self, extracts: dict[str, Any]) -> list[dict[str, Any]]:
        import numpy as np
        from tensorflow_model_analysis import constants

        unbatch, slice_fn, specs = self._setup()
        sliced = {k: extracts[k] for k in ("features", "transformed_features") if extracts.get(k) is not None}
        n = len(np.asarray(extracts["predictions"] if not isinstance(extracts["predictions"], dict) else
                           next(iter(extracts["predictions"].values()))))  # fmt: skip
        rows = unbatch(sliced) or [{} for _ in range(n)]  # no slice features: TFMA slices on {} per example
        if len(rows) != n:
            raise ValueError(f"kfx's batched TFMA slicing: {len(rows)} feature rows for {n} predictions")
        memo: dict[Any, Any] = {}
        groups: dict[Any, list[int]] = {}
        for i, row in enumerate(rows):
            frozen = _freeze(row)
            keys = memo.get(frozen)
            if keys is None:
                (out,) = slice_fn.process(row, specs)
                keys = memo[frozen] = out[constants.SLICE_KEY_TYPES_KEY]
                memo[("id", id(keys))] = keys
            groups.setdefault(id(keys), []).append(i)
        result = []
        for ident, members in groups.items():
            index = np.asarray(members)
            batch = {k: _take(extracts[k], index) for k in self.CARRIED if k in extracts}
            batch[constants.SLICE_KEY_TYPES_KEY] = memo[("id", ident)]
            result.append(batch)
        return result
