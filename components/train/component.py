"""KFP wrapper of train: transformed examples + transform graph + module_file -> model + metrics."""

from typing import Dict, List, Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def train(
    transformed_examples: Input[Dataset],
    transform_graph: Input[Model],
    module_file: str,
    label_key: str,
    model: Output[Model],
    metrics: Output[Metrics],
    task: str = "binary",
    epochs: int = 50,  # the maximum: early stopping on the eval loss
    batch_size: int = 256,  # the maximum: small data gets smaller batches
    learning_rate: float = 0.001,
    hidden_units: Optional[List[int]] = None,  # noqa: UP045  (kfp reads typing.Optional)
    num_classes: int = 0,  # multiclass: 0 infers it from the label's vocabulary / values
    seed: int = 0,
    hyperparameters: Optional[Dict[str, float]] = None,  # noqa: UP045  (module-specific, e.g. {"dropout": 0.2})
    raw_label_key: str = "",  # the raw label column: never a serving input
    pipeline_name: str = "",  # lineage: the pipeline, and KFP's run (pipelines pass dsl.PIPELINE_JOB_* placeholders)
    run_name: str = "",
    run_id: str = "",
) -> None:
    """Train the module file's Keras model; export a SavedModel serving raw features (TFT graph inside)."""
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.train.logic import run_training

    check_inputs("train", transformed_examples=transformed_examples, transform_graph=transform_graph)
    result = run_training(
        transformed_examples.path,
        transform_graph.path,
        module_file,
        model.path,
        label_key=label_key,
        task=task,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        hidden_units=hidden_units or [64, 32],
        num_classes=num_classes,
        hyperparameters=hyperparameters or {},
        seed=seed,
        raw_label_key=raw_label_key,
        run={
            "transform_graph_uri": transform_graph.uri,
            "model_uri": model.uri,
            "pipeline_name": pipeline_name,
            "run_name": run_name,
            "run_id": run_id,
        },
    )
    stamp_outputs("train", model=model)
    model.metadata.update(result.lineage)  # the same values as <model>/lineage.json
    model.metadata.update({"label_key": label_key, "task": task, "module_file": module_file})
    model.metadata.update({"epochs_run": result.epochs_run, "batch_size": result.batch_size})
    metrics.log_metric("loss", result.loss)
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    for name in ("train_rows", "eval_rows", "epochs_run", "batch_size"):
        metrics.log_metric(name, float(getattr(result, name)))
