"""KFP wrapper of evaluate: TFMA metrics overall/per slice, thresholds vs a baseline -> blessing."""

from typing import Dict, List, NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def evaluate(
    model: Input[Model],
    examples: Input[Dataset],
    evaluation: Output[Dataset],
    blessing: Output[Dataset],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
    baseline_model_uri: str = "",
    label_key: str = "",
    task: str = "",
    slice_features: Optional[List[str]] = None,  # noqa: UP045  (the KFP convention)
    value_thresholds: Optional[Dict[str, float]] = None,  # noqa: UP045
    change_thresholds: Optional[Dict[str, float]] = None,  # noqa: UP045
    num_classes: int = 0,
    beam_pipeline_args: Optional[List[str]] = None,  # noqa: UP045
) -> NamedTuple("EvaluateOutputs", [("blessed", bool)]):
    """Evaluate the model with TFMA (overall + per slice), check thresholds vs a baseline, bless or not."""
    import math
    from collections import namedtuple

    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components.evaluate.logic import evaluate_model

    # Empty label/task/thresholds mean "the defaults" (model.json; per-task thresholds), since a
    # pipeline parameter can't be None.
    result = evaluate_model(
        model.path,
        examples.path,
        evaluation.path,
        blessing.path,
        html_path=report.path,
        label_key=label_key or None,
        task=task or None,
        slice_features=list(slice_features or []),
        value_thresholds=dict(value_thresholds) if value_thresholds else None,
        change_thresholds=dict(change_thresholds) if change_thresholds else None,
        baseline_model_dir=baseline_model_uri or None,
        num_classes=num_classes,
        beam_pipeline_args=list(beam_pipeline_args or []),
    )
    for name, value in sorted(result.overall.items()):
        if value is not None and math.isfinite(value):
            metrics.log_metric(name, float(value))
    if result.roc:
        classification_metrics.log_roc_curve(result.roc["fpr"], result.roc["tpr"], result.roc["thresholds"])
    if result.confusion_matrix:
        classification_metrics.log_confusion_matrix(
            result.confusion_matrix["categories"], result.confusion_matrix["matrix"]
        )
    for artifact in (evaluation, blessing):
        artifact.metadata["blessed"] = result.blessed
        artifact.metadata["task"] = result.task
    blessing.metadata["reasons"] = result.reasons
    blessing.metadata["baseline"] = result.baseline or ""
    evaluation.metadata["example_count"] = result.example_count
    return namedtuple("EvaluateOutputs", ["blessed"])(result.blessed)
