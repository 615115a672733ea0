"""KFP wrapper of evaluate: TFMA metrics overall/per slice, thresholds vs a baseline -> blessing and report."""

from typing import Dict, List, NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def evaluate(
    model: Input[Model],
    examples: Input[Dataset],
    baseline_model: Input[Model],
    evaluation: Output[Dataset],
    blessing: Output[Dataset],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
    label_key: str = "",
    task: str = "",
    slice_features: Optional[List[str]] = None,  # noqa: UP045  (the KFP convention)
    value_thresholds: Optional[Dict[str, float]] = None,  # noqa: UP045
    change_thresholds: Optional[Dict[str, float]] = None,  # noqa: UP045
    num_classes: int = 0,
    beam_pipeline_args: Optional[List[str]] = None,  # noqa: UP045
) -> NamedTuple("EvaluateOutputs", [("blessed", bool)]):
    """Evaluate the model with TFMA (overall + per slice), check thresholds vs the baseline, bless or not.

    ``baseline_model``: from ``import_baseline`` or ``resolve_baseline``; ``metadata["present"] == False`` means none.
    ``label_key``/``task``/``num_classes``: empty = the model's ``model.json``; if given they must agree with it.
    """
    import math
    from collections import namedtuple

    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.evaluate.inputs import baseline_location
    from components.evaluate.logic import evaluate_model

    check_inputs("evaluate", model=model, examples=examples, baseline_model=baseline_model)
    stamp_outputs("evaluate", evaluation=evaluation, blessing=blessing)
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
        baseline_model_dir=baseline_location(baseline_model.uri, baseline_model.path, baseline_model.metadata),
        num_classes=num_classes,
        beam_pipeline_args=list(beam_pipeline_args or []),
    )
    for name, value in sorted(result.overall.items()):
        if value is not None and math.isfinite(value):
            metrics.log_metric(name, float(value))
    roc, cm = result.kfp_roc(), result.confusion_matrix
    if roc:
        classification_metrics.log_roc_curve(roc["fpr"], roc["tpr"], roc["thresholds"])
    if cm:
        classification_metrics.log_confusion_matrix(cm["categories"], cm["matrix"])
    for artifact in (evaluation, blessing):
        artifact.metadata.update(blessed=result.blessed, task=result.task, notes=result.notes)
    blessing.metadata.update(reasons=result.reasons, baseline=result.baseline or "")
    evaluation.metadata["example_count"] = result.example_count
    return namedtuple("EvaluateOutputs", ["blessed"])(result.blessed)


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def import_baseline(baseline: Output[Model], uri: str = ""):
    """A baseline ``Model`` artifact pointing at ``uri`` (kfx or TF Serving layout; local, s3:// or gs://).

    ``uri=""``: no baseline (``metadata["present"] = False``). A ``uri`` holding no SavedModel fails here, naming it.
    """
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.artifacts import model as model_layout
    from components._shared.kinds import stamp_outputs

    stamp_outputs("import_baseline", baseline=baseline)
    model_layout.point_at_model(baseline, uri)
