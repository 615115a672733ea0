"""The TFMA extractors kfx evaluates with: TFMA's defaults, with the batched extracts pruned to what the metrics
and slices read before TFMA splits them into one extract per example.

TFMA's default extractors carry every raw feature, every output of the ``transform_features`` signature and the
serialized tf.Example of each row through its per-example stages: splitting a batch into per-example extracts
converts each of those values one at a time (~37 values a row on the taxi table, ~30 % of the evaluate step's
per-row time). The metrics read only the labels, predictions and example weights (already extracted, batched,
before the split) and the slicer only the features named by the slicing specs, so the pruned extracts give the
same slices and the same metrics (tests/unit/test_evaluate_extracts.py compares both paths).

Public TFMA API only (``tfma.default_extractors``, ``tfma.extractors.Extractor``); works on any Beam runner
(this module is pickled by value, so workers without kfx installed run the prune stage too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Extract keys (``tfma.constants``) with per-feature dicts to prune, and the raw serialized inputs to drop.
FEATURES_KEY = "features"
TRANSFORMED_FEATURES_KEY = "transformed_features"
DROPPED_KEYS = ("input",)
#: The stage kfx adds before TFMA's unbatching.
PRUNE_STAGE_NAME = "KfxPruneExtracts"
#: False: TFMA's default extractors unchanged (the path kfx took before; tests compare both).
PRUNE = True
#: The transform that replaces TFMA's unbatch + slice-key stages when metrics are combined from batches (its stage
#: keeps the name of TFMA's slice-key stage: TFMA's evaluator runs after it by that name).
SLICE_BATCHES_STAGE_NAME = "KfxSliceBatches"
#: False: never combine from batches (the per-example path kfx took before; tests compare both).
BATCHED = True


def slice_feature_keys(eval_config: Any) -> frozenset[str]:
    """Every feature the slicing specs of ``eval_config`` name (keys and key=value specs; cross slices included)."""
    names: set[str] = set()
    specs = list(eval_config.slicing_specs)
    for cross in eval_config.cross_slicing_specs:
        specs.append(cross.baseline_spec)
        specs.extend(cross.slicing_specs)
    for spec in specs:
        names.update(spec.feature_keys)
        names.update(spec.feature_values.keys())
    return frozenset(names)


def _keep(features: Any, names: frozenset[str], model_names: Iterable[str]) -> Any:
    """``features`` with only ``names``; a dict keyed by model name (multi-model transformed features) per model."""
    if not isinstance(features, Mapping):
        return features
    models = [m for m in model_names if m and isinstance(features.get(m), Mapping)]
    if models and set(features) <= set(models):
        return {m: _keep(features[m], names, ()) for m in features}
    return {k: v for k, v in features.items() if k in names}


class PruneExtracts:
    """Callable for ``beam.Map``: a batched extract with only what TFMA's slicer and metrics read."""

    def __init__(self, names: frozenset[str], model_names: tuple[str, ...]) -> None:
        self.names = names
        self.model_names = model_names

    def __call__(self, extracts: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in extracts.items() if k not in DROPPED_KEYS}
        for key in (FEATURES_KEY, TRANSFORMED_FEATURES_KEY):
            if out.get(key) is not None:
                out[key] = _keep(out[key], self.names, self.model_names)
        return out


def _prune_stage(eval_config: Any) -> Any:
    import sys

    import apache_beam as beam
    import tensorflow_model_analysis as tfma

    from components._shared._compat.beam import pickle_by_value

    # Beam ships the prune callable with its code: a distributed runner's workers need not have kfx installed.
    pickle_by_value(sys.modules[__name__])
    prune = PruneExtracts(slice_feature_keys(eval_config), tuple(s.name for s in eval_config.model_specs))
    return tfma.extractors.Extractor(stage_name=PRUNE_STAGE_NAME, ptransform=beam.Map(prune))


def batched_combine(eval_config: Any, distributed: bool) -> bool:
    """True when evaluate combines metrics from batches of examples (``_compat.tfma.batched_metric_combine``): on a
    local runner, :data:`BATCHED` and :data:`PRUNE` on, every metric of ``eval_config`` one kfx fills from batches, and none of the
    options that count examples per element (minimum slice size, confidence intervals, query keys)."""
    if distributed or not BATCHED or not PRUNE:
        return False
    from components._shared._compat.tfma import batched_combine_supported

    options = eval_config.options
    if options.min_slice_size.value > 1 or options.compute_confidence_intervals.value:
        return False
    if any(spec.query_key for spec in eval_config.metrics_specs):
        return False
    if any(spec.example_weight_key or spec.example_weight_keys for spec in eval_config.model_specs):
        return False
    return batched_combine_supported(eval_config)


def _slice_batches_stage(eval_config: Any, stage_name: str) -> Any:
    import apache_beam as beam
    import tensorflow_model_analysis as tfma

    from components._shared._compat.tfma import BatchSlicer

    ptransform = SLICE_BATCHES_STAGE_NAME >> beam.FlatMap(BatchSlicer(eval_config))
    return tfma.extractors.Extractor(stage_name=stage_name, ptransform=ptransform)


def extractors(eval_config: Any, eval_shared_model: Any, prune: bool | None = None, batched: bool = False) -> list[Any]:
    """TFMA's default extractors for ``eval_config`` (with TFMA's defaults applied) and the model(s), with the
    prune stage before the unbatching (``prune=False``, or :data:`PRUNE` false: TFMA's defaults unchanged).

    ``batched``: TFMA's unbatch and slice-key stages are replaced by one stage that cuts each batch into batches of
    one slice (for ``_compat.tfma.batched_metric_combine``, see :func:`batched_combine`)."""
    import tensorflow_model_analysis as tfma

    defaults = tfma.default_extractors(eval_config=eval_config, eval_shared_model=eval_shared_model, config_version=2)
    if not (PRUNE if prune is None else prune):
        return defaults
    unbatch = tfma.extractors.UnbatchExtractor().stage_name
    at = next((i for i, e in enumerate(defaults) if e.stage_name == unbatch), None)
    if at is None:  # a TFMA without the unbatch stage: nothing to prune before
        return defaults
    rest = defaults[at:]
    if batched:
        slice_keys = tfma.extractors.SliceKeyExtractor(eval_config=eval_config).stage_name
        if [e.stage_name for e in rest[:2]] != [unbatch, slice_keys]:
            raise ValueError(f"TFMA's extractors after {unbatch} changed: {[e.stage_name for e in rest]}")
        rest = [_slice_batches_stage(eval_config, slice_keys), *rest[2:]]
    return defaults[:at] + [_prune_stage(eval_config)] + rest
