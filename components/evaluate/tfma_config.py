"""The TFMA configuration kfx evaluates with: metrics per task, threshold directions and defaults, the EvalConfig.

Value thresholds ``{metric: bound}`` are lower bounds for metrics where higher is better (auc, accuracy, ...) and
upper bounds for the loss/error metrics in :data:`LOWER_IS_BETTER`. Change thresholds (only with a baseline)
``{metric: allowed degradation}`` are in absolute units of the metric. Thresholds gate the overall slice only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from components._shared import artifacts
from components._shared.tasks import BINARY, MULTICLASS, REGRESSION

CANDIDATE = "candidate"
BASELINE = "baseline"

# (TFMA/Keras metric class, metric name, config) per task; names are what thresholds refer to.
METRICS: dict[str, list[tuple[str, str, dict]]] = {
    BINARY: [
        ("ExampleCount", "example_count", {}),
        ("AUC", "auc", {}),
        ("AUCPrecisionRecall", "auc_precision_recall", {}),
        ("BinaryAccuracy", "binary_accuracy", {}),
        ("Precision", "precision", {}),
        ("Recall", "recall", {}),
        ("BinaryCrossEntropy", "binary_crossentropy", {}),
        ("MeanLabel", "mean_label", {}),
        ("MeanPrediction", "mean_prediction", {}),
        ("Calibration", "calibration", {}),
    ],
    MULTICLASS: [
        ("ExampleCount", "example_count", {}),
        ("SparseCategoricalAccuracy", "sparse_categorical_accuracy", {}),
        ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", {}),
    ],
    REGRESSION: [
        ("ExampleCount", "example_count", {}),
        ("MeanSquaredError", "mean_squared_error", {}),
        ("RootMeanSquaredError", "root_mean_squared_error", {}),
        ("MeanAbsoluteError", "mean_absolute_error", {}),
        ("MeanLabel", "mean_label", {}),
        ("MeanPrediction", "mean_prediction", {}),
    ],
}
#: Metrics where a smaller value is better: value thresholds are upper bounds for these.
LOWER_IS_BETTER = frozenset(
    {
        "mean_squared_error",
        "root_mean_squared_error",
        "mean_absolute_error",
        "binary_crossentropy",
        "sparse_categorical_crossentropy",
    }
)
#: Descriptive metrics without a "better" direction: no thresholds on these.
NO_DIRECTION = frozenset({"mean_label", "mean_prediction", "calibration"})

#: Value thresholds used when the caller gives none. binary: AUC 0.5 is a coin toss, so 0.6 asks for a clearly
#: better-than-chance ranking; multiclass and regression have no data-independent floor, so kfx adds a
#: data-derived check instead (``blessing.naive_checks``).
DEFAULT_VALUE_THRESHOLDS: dict[str, dict[str, float]] = {BINARY: {"auc": 0.6}, MULTICLASS: {}, REGRESSION: {}}
#: Change thresholds used with a baseline when the caller gives none (allowed absolute degradation).
DEFAULT_CHANGE_THRESHOLDS: dict[str, dict[str, float]] = {
    BINARY: {"auc": 0.01},
    MULTICLASS: {"sparse_categorical_accuracy": 0.01},
    REGRESSION: {},
}
#: Regression default with a baseline: MSE may not rise by more than this *fraction* of the baseline MSE (an
#: absolute tolerance would depend on the label's units).
DEFAULT_REGRESSION_RELATIVE_CHANGE = 0.01

#: Thresholds of TFMA's confusion-matrix plot (ROC / precision-recall points; the KFP UI gets at most ~50).
ROC_THRESHOLDS = 100
CALIBRATION_BUCKETS = 10
#: The metrics shown first in tables, per task.
MAIN_METRICS = {
    BINARY: ["example_count", "auc", "auc_precision_recall", "binary_accuracy", "precision", "recall"],
    MULTICLASS: ["example_count", "sparse_categorical_accuracy", "sparse_categorical_crossentropy"],
    REGRESSION: ["example_count", "mean_squared_error", "root_mean_squared_error", "mean_absolute_error"],
}


class ThresholdError(ValueError):
    """A threshold on an unknown metric, or not a number."""


@dataclass
class Thresholds:
    """The thresholds one evaluation gates on (after defaults are applied)."""

    value: dict[str, float]
    change: dict[str, float]
    relative_change: dict[str, float] = field(default_factory=dict)
    #: True when the caller gave no value thresholds: the data-derived naive-baseline gate applies.
    naive_gate: bool = False


def thresholds_for(
    task: str, value: dict[str, float] | None, change: dict[str, float] | None, has_baseline: bool
) -> Thresholds:
    """Apply the per-task defaults to the caller's thresholds and check them (ThresholdError when wrong)."""
    out = Thresholds(
        value=dict(DEFAULT_VALUE_THRESHOLDS[task] if value is None else value),
        change=dict(DEFAULT_CHANGE_THRESHOLDS[task] if change is None else change),
        naive_gate=value is None,
    )
    if change is None and task == REGRESSION:
        out.relative_change = {"mean_squared_error": DEFAULT_REGRESSION_RELATIVE_CHANGE}
    _check("value", out.value, task)
    _check("change", out.change, task)
    return out


def _check(kind: str, thresholds: dict[str, float], task: str) -> None:
    known = {name for _, name, _ in METRICS[task]} - NO_DIRECTION
    for name, bound in thresholds.items():
        if name not in known:
            raise ThresholdError(
                f"{kind} threshold on unknown metric '{name}' for task '{task}'; choose from {sorted(known)}"
            )
        if not isinstance(bound, int | float) or math.isnan(float(bound)):
            raise ThresholdError(f"{kind} threshold for '{name}' must be a number, got {bound!r}")
        if kind == "change" and bound < 0:
            raise ThresholdError(f"change threshold for '{name}' is an allowed degradation and must be >= 0")


def _model_spec(name: str, is_baseline: bool, label_key: str, label_from: str, has_baseline: bool) -> Any:
    import tensorflow_model_analysis as tfma

    spec = tfma.ModelSpec(
        name=name if has_baseline else "",
        signature_name=artifacts.SERVING_SIGNATURE,
        prediction_key=artifacts.OUTPUT_KEY,
        label_key=label_key,
        model_type=tfma.TF_GENERIC,
        is_baseline=is_baseline,
    )
    if label_from == "transform_features":
        spec.preprocessing_function_names.append(artifacts.TRANSFORM_SIGNATURE)
    return spec


def _threshold(name: str, thresholds: Thresholds, has_baseline: bool) -> Any:
    import tensorflow_model_analysis as tfma

    thr = tfma.MetricThreshold()
    lower_better = name in LOWER_IS_BETTER
    direction = tfma.MetricDirection.LOWER_IS_BETTER if lower_better else tfma.MetricDirection.HIGHER_IS_BETTER
    if name in thresholds.value:
        bound = {"value": float(thresholds.value[name])}
        vt = (
            tfma.GenericValueThreshold(upper_bound=bound)
            if lower_better
            else tfma.GenericValueThreshold(lower_bound=bound)
        )
        thr.value_threshold.CopyFrom(vt)
    for key, table in (("absolute", thresholds.change), ("relative", thresholds.relative_change)):
        if has_baseline and name in table and not thr.HasField("change_threshold"):
            allowed = float(table[name])
            change = tfma.GenericChangeThreshold(
                direction=direction, **{key: {"value": allowed if lower_better else -allowed}}
            )
            thr.change_threshold.CopyFrom(change)
    return thr


def _plot_configs(task: str) -> list[Any]:
    import tensorflow_model_analysis as tfma

    if task == BINARY:
        return [
            tfma.MetricConfig(class_name="ConfusionMatrixPlot", config=json.dumps({"num_thresholds": ROC_THRESHOLDS})),
            tfma.MetricConfig(class_name="ConfusionMatrixAtThresholds", config=json.dumps({"thresholds": [0.5]})),
            tfma.MetricConfig(class_name="CalibrationPlot", config=json.dumps({"num_buckets": CALIBRATION_BUCKETS})),
        ]
    if task == MULTICLASS:
        return [tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot")]
    return []


def eval_config(
    task: str,
    label_key: str,
    label_from: str,
    slice_features: Sequence[str],
    thresholds: Thresholds,
    has_baseline: bool,
) -> Any:
    """The tfma.EvalConfig: candidate (+ baseline) specs, the task's metrics and plots, overall + per-feature slices."""
    import tensorflow_model_analysis as tfma

    specs = [_model_spec(CANDIDATE, False, label_key, label_from, has_baseline)]
    if has_baseline:
        specs.append(_model_spec(BASELINE, True, label_key, label_from, has_baseline))
    configs = []
    for class_name, name, cfg in METRICS[task]:
        mc = tfma.MetricConfig(class_name=class_name, config=json.dumps(cfg) if cfg else "")
        thr = _threshold(name, thresholds, has_baseline)
        if thr.HasField("value_threshold") or thr.HasField("change_threshold"):
            # Thresholds gate the overall slice only; small slices are reported, not gated.
            mc.per_slice_thresholds.append(
                tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=thr)
            )
        configs.append(mc)
    configs += _plot_configs(task)
    slicing = [tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[f]) for f in slice_features]
    return tfma.EvalConfig(
        model_specs=specs,
        metrics_specs=[tfma.MetricsSpec(metrics=configs, model_names=[s.name for s in specs])],
        slicing_specs=slicing,
    )
