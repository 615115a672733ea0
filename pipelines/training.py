"""The kfx training pipeline: ingest → statistics → schema → validate → transform → train → evaluate.

Nothing is read from the environment at import time: every knob is an explicit pipeline parameter.
validate always succeeds and publishes its evidence; a separate ``gate`` step fails the run on anomalies and
everything downstream runs ``.after`` it (a task dependency, not ``dsl.If``: kfp.local 2.13 has no conditions).
"""

from typing import Any, Dict, List

from kfp import dsl

from components._shared.version import __version__
from components.evaluate.component import evaluate
from components.ingest.component import ingest
from components.schema.component import schema as schema_component
from components.statistics.component import statistics as statistics_component
from components.train.component import train
from components.transform.component import transform
from components.validate.component import gate, validate

PIPELINE_NAME = "kfx-training"
DEFAULT_MODULE = "pipelines.modules.fraud"


def _given(**kwargs: Any) -> dict[str, Any]:
    """KFP takes no None constants: leave unset arguments to the component's default."""
    return {k: v for k, v in kwargs.items() if v is not None}


def training_steps(
    data_uri: Any,
    module_file: Any,
    label_key: Any,
    raw_label_key: Any,
    task: Any,
    schema_uri: Any = "",
    eval_fraction: Any = 0.2,
    slice_features: Any = None,
    value_thresholds: Any = None,
    change_thresholds: Any = None,
    baseline_model_uri: Any = "",
    previous_statistics_uri: Any = "",
    serving_statistics_uri: Any = "",
    categorical_drift_threshold: Any = 0.1,
    numeric_drift_threshold: Any = 0.1,
    fail_on_anomalies: Any = True,
    epochs: Any = 5,
    batch_size: Any = 256,
    learning_rate: Any = 0.001,
    num_classes: Any = 0,
    beam_pipeline_args: Any = None,
) -> dict[str, dsl.PipelineTask]:
    """Add the seven training steps to the pipeline being defined (arguments: pipeline parameters,
    task outputs or constants); returns the tasks by step name. Shared by every kfx pipeline."""
    examples_task = ingest(data_uri=data_uri, eval_fraction=eval_fraction)
    examples_task.set_display_name("ingest")

    beam = _given(beam_pipeline_args=beam_pipeline_args)
    stats_task = statistics_component(examples=examples_task.outputs["examples"], **beam)
    stats_task.set_display_name("statistics")

    schema_task = schema_component(statistics=stats_task.outputs["statistics"], schema_uri=schema_uri)
    schema_task.set_display_name("schema")

    validate_task = validate(
        statistics=stats_task.outputs["statistics"],
        schema=schema_task.outputs["schema"],
        previous_statistics_uri=previous_statistics_uri,
        serving_statistics_uri=serving_statistics_uri,
        categorical_drift_threshold=categorical_drift_threshold,
        numeric_drift_threshold=numeric_drift_threshold,
        label_key=raw_label_key,
    )
    validate_task.set_display_name("validate")

    gate_task = gate(
        passed=validate_task.outputs["passed"],
        message=validate_task.outputs["message"],
        fail_on_anomalies=fail_on_anomalies,
    )
    gate_task.set_display_name("gate")

    transform_task = transform(
        examples=examples_task.outputs["examples"],
        schema=schema_task.outputs["schema"],
        module_file=module_file,
        **beam,
    )
    transform_task.set_display_name("transform")
    transform_task.after(gate_task)  # the validation gate: nothing downstream runs on anomalies

    train_task = train(
        transformed_examples=transform_task.outputs["transformed_examples"],
        transform_graph=transform_task.outputs["transform_graph"],
        module_file=module_file,
        label_key=label_key,
        task=task,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        num_classes=num_classes,
    )
    train_task.set_display_name("train")

    evaluate_task = evaluate(
        model=train_task.outputs["model"],
        examples=examples_task.outputs["examples"],
        baseline_model_uri=baseline_model_uri,
        label_key=label_key,
        task=task,
        num_classes=num_classes,
        **_given(slice_features=slice_features, value_thresholds=value_thresholds, change_thresholds=change_thresholds),
        **beam,
    )
    evaluate_task.set_display_name("evaluate")
    return {
        "ingest": examples_task,
        "statistics": stats_task,
        "schema": schema_task,
        "validate": validate_task,
        "gate": gate_task,
        "transform": transform_task,
        "train": train_task,
        "evaluate": evaluate_task,
    }


@dsl.pipeline(
    name=PIPELINE_NAME,
    description=f"kfx {__version__}: TFDV validation gate, TF Transform, Keras training, TFMA blessing.",
)
def training_pipeline(
    data_uri: str,
    module_file: str = DEFAULT_MODULE,
    label_key: str = "is_fraud",
    raw_label_key: str = "is_fraud",
    task: str = "binary",
    schema_uri: str = "",
    eval_fraction: float = 0.2,
    slice_features: List[str] = [],  # KFP parameter defaults, never mutated
    value_thresholds: Dict[str, float] = {},
    change_thresholds: Dict[str, float] = {},
    baseline_model_uri: str = "",
    previous_statistics_uri: str = "",
    serving_statistics_uri: str = "",
    categorical_drift_threshold: float = 0.1,
    numeric_drift_threshold: float = 0.1,
    fail_on_anomalies: bool = True,
    epochs: int = 5,
    batch_size: int = 256,
    learning_rate: float = 0.001,
    num_classes: int = 0,
    beam_pipeline_args: List[str] = [],
) -> None:
    training_steps(
        data_uri=data_uri,
        module_file=module_file,
        label_key=label_key,
        raw_label_key=raw_label_key,
        task=task,
        schema_uri=schema_uri,
        eval_fraction=eval_fraction,
        slice_features=slice_features,
        value_thresholds=value_thresholds,
        change_thresholds=change_thresholds,
        baseline_model_uri=baseline_model_uri,
        previous_statistics_uri=previous_statistics_uri,
        serving_statistics_uri=serving_statistics_uri,
        categorical_drift_threshold=categorical_drift_threshold,
        numeric_drift_threshold=numeric_drift_threshold,
        fail_on_anomalies=fail_on_anomalies,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        num_classes=num_classes,
        beam_pipeline_args=beam_pipeline_args,
    )


STEPS = ("ingest", "statistics", "schema", "validate", "gate", "transform", "train", "evaluate")
