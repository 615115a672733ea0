"""The kfx training pipeline: ingest → statistics → schema → validate → gate → transform → train → evaluate.

Nothing is read from the environment at import time: every knob is an explicit pipeline parameter.
The parameters are defined once, in ``components._shared.params.TrainingParams``: the pipeline's signature
and each step's arguments are derived from it. validate always succeeds and publishes its evidence; a
separate ``gate`` step fails the run on anomalies and everything downstream runs ``.after`` it (a task
dependency, not ``dsl.If``: kfp.local 2.13 has no conditions), unchanged on kfp.local and on a cluster.
"""

from collections.abc import Mapping
from typing import Any

from kfp import dsl

from components._shared.params import DEFAULT_MODULE, step_arguments
from components._shared.version import __version__
from components.evaluate.component import evaluate, import_baseline
from components.ingest.component import ingest
from components.schema.component import schema as schema_component
from components.statistics.component import statistics as statistics_component
from components.train.component import train
from components.transform.component import transform
from components.validate.component import gate, validate
from pipelines.params import with_training_params

PIPELINE_NAME = "kfx-training"
__all__ = ["DEFAULT_MODULE", "PIPELINE_NAME", "STEPS", "run_arguments", "training_pipeline", "training_steps"]


def training_steps(
    params: Mapping[str, Any],
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    pipeline_name: str = PIPELINE_NAME,
    **overrides: Any,
) -> dict[str, dsl.PipelineTask]:
    """Add the training steps to the pipeline being defined; returns the tasks by step name.

    ``params`` holds the ``TrainingParams`` values (pipeline parameters, task outputs or constants; ``overrides``
    replace some, e.g. a baseline resolved by an earlier task). Each step gets the parameters the dataclass
    routes to it (``step_arguments``), plus ``extra[step]``: arguments that are not training parameters, e.g.
    ``{"evaluate": {"baseline_model": resolve_task.outputs["baseline"]}}``. Shared by every kfx pipeline.

    The train step records the model's lineage: ``pipeline_name`` (the calling pipeline's name) and KFP's run name
    and id, as placeholders KFP (and kfp.local) substitutes at run time."""
    values = {**params, **overrides}

    def given(step: str) -> dict[str, Any]:
        return {**step_arguments(step, values), **(extra or {}).get(step, {})}

    examples_task = ingest(**given("ingest")).set_display_name("ingest")
    examples = examples_task.outputs["examples"]
    stats_task = statistics_component(examples=examples, **given("statistics")).set_display_name("statistics")
    statistics = stats_task.outputs["statistics"]
    schema_task = schema_component(statistics=statistics, **given("schema")).set_display_name("schema")
    schema = schema_task.outputs["schema"]

    validate_task = validate(statistics=statistics, schema=schema, **given("validate")).set_display_name("validate")
    verdict = {"passed": validate_task.outputs["passed"], "message": validate_task.outputs["message"]}
    gate_task = gate(**verdict, **given("gate")).set_display_name("gate")  # nothing downstream runs on anomalies

    transform_task = transform(
        examples=examples, schema=schema, statistics=statistics, **given("transform")
    ).set_display_name("transform")
    transform_task.after(gate_task)

    train_task = train(
        transformed_examples=transform_task.outputs["transformed_examples"],
        transform_graph=transform_task.outputs["transform_graph"],
        **{**run_arguments(pipeline_name), **given("train")},
    ).set_display_name("train")

    evaluate_args = given("evaluate")
    if "baseline_model" not in evaluate_args:  # a Model artifact from a resolver step wins; else import the URI
        baseline_task = import_baseline(**given("import_baseline")).set_display_name("baseline")
        evaluate_args["baseline_model"] = baseline_task.outputs["baseline"]
    evaluate_task = evaluate(model=train_task.outputs["model"], examples=examples, **evaluate_args).set_display_name(
        "evaluate"
    )
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


def run_arguments(pipeline_name: str) -> dict[str, str]:
    """The train step's lineage arguments: the pipeline's name, KFP's run name and run id (placeholders)."""
    return {
        "pipeline_name": pipeline_name,
        "run_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        "run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    }


@dsl.pipeline(
    name=PIPELINE_NAME,
    description=f"kfx {__version__}: TFDV validation gate, TF Transform, Keras training, TFMA blessing.",
)
@with_training_params
def training_pipeline(params: dict[str, Any]) -> None:
    """The kfx training pipeline (its parameters: ``components._shared.params.TrainingParams``)."""
    training_steps(params)


STEPS = ("ingest", "statistics", "schema", "validate", "gate", "transform", "train", "import-baseline", "evaluate")
