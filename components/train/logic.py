"""Train: fit a Keras (tf-keras, Keras 2) model on transformed examples and export it for raw-feature serving.

The user's module file may define (like TFX's Trainer; the full contract: ``pipelines/modules/README.md``):

* ``run_fn(args: TrainArgs)``: full control; call ``args.export(model)`` at the end to write
  the SavedModel with kfx's signatures (or write ``args.serving_model_dir`` yourself).
* ``build_model(args: TrainArgs) -> tf.keras.Model``: kfx fits it and exports it. The model takes
  a dict of transformed features (``args.feature_keys``), each shaped ``[batch, width]``
  (scalars are ``[batch, 1]``), and returns ``[batch, k]``. Compiled by kfx when not compiled.
* neither: a default feed-forward network over every transformed feature
  (``args.hidden_units``; integer features with a vocabulary domain are embedded).

The exported SavedModel (``<model_dir>/saved_model``) embeds the TFT graph (``model.tft_layer``) and
carries the signatures of ``components/_shared/artifacts``: ``serving_default`` (serialized raw
tf.Example without label), ``serving_raw`` (one dense ``[None]`` tensor per raw feature) and
``transform_features`` (serialized raw tf.Example with label -> transformed features, for TFMA).

Sibling modules: ``args`` (TrainArgs, datasets), ``labels`` (raw label keys, number of classes), ``model`` (default
model, compile), ``fit`` (batch size, early stopping, evaluation), ``export`` (signatures, ``model.json``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared import artifacts
from components._shared import lineage as lineage_lib
from components._shared._compat.tensorflow import autograph_skip_tf_keras
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts import model as model_layout
from components._shared.artifacts.transform_graph import read_transform_meta
from components._shared.log import get_logger, timed
from components._shared.modules import ModuleFileError, load_module
from components._shared.tasks import TASKS
from components.train import labels
from components.train.args import TrainArgs, make_dataset, to_model_inputs
from components.train.export import INT_MISSING, export_model, serving_feature_keys, write_model_meta
from components.train.fit import TrainResult, effective_batch_size, evaluate, fit, recorded_result
from components.train.labels import LabelError
from components.train.model import compile_model, default_model

__all__ = [
    "INT_MISSING",
    "LabelError",
    "TrainArgs",
    "TrainResult",
    "compile_model",
    "default_model",
    "export_model",
    "make_dataset",
    "run_training",
    "to_model_inputs",
]

log = get_logger("train")


def _check_parameters(task: str, num_classes: int, epochs: int, batch_size: int) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if num_classes < 0 or (task == "multiclass" and num_classes == 1):
        raise ValueError(f"num_classes must be 0 (infer from the label) or >= 2, got {num_classes}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got epochs={epochs}, batch_size={batch_size}")


def _open_transform_output(transform_graph_dir: str):
    import tensorflow_transform as tft

    tft_output = tft.TFTransformOutput(transform_graph_dir)
    try:
        return tft_output, tft_output.transformed_feature_spec(), tft_output.raw_feature_spec()
    except Exception as e:  # noqa: BLE001 - TFT raises several types for a missing/partial directory
        raise FileNotFoundError(
            f"transform graph {transform_graph_dir} is incomplete (need transform_fn/, transformed_metadata/ and "
            f"metadata/ = raw schema): {e}"
        ) from e


def _feature_keys(module, module_file: str, tft_output, raw_spec: dict, label_key: str, raw_keys: list[str]):
    """Transformed features the model takes: the module's FEATURE_KEYS, else all computable at serving time."""
    serving_spec = {k: v for k, v in raw_spec.items() if k not in raw_keys}
    at_serving = serving_feature_keys(tft_output, serving_spec)
    keys = list(getattr(module, "FEATURE_KEYS", None) or [k for k in at_serving if k != label_key])
    needs_label = sorted(set(tft_output.transformed_feature_spec()) - set(at_serving) - {label_key})
    if needs_label:
        log.info("not model inputs (they need raw label columns %s): %s", raw_keys, ", ".join(needs_label))
    missing = [k for k in keys if k not in at_serving]
    if missing:
        raise ValueError(
            f"module file {module_file}: FEATURE_KEYS {missing} are not computable at serving time "
            f"(unknown, or derived from the raw label columns {raw_keys})"
        )
    return keys


def _rows(transformed_examples_dir: str) -> dict:
    return examples_layout.read_meta(transformed_examples_dir, required=False).get("splits", {})


def run_training(
    transformed_examples_dir: str,
    transform_graph_dir: str,
    module_file: str,
    model_dir: str,
    label_key: str,
    task: str = "binary",
    epochs: int = 50,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    hidden_units: Sequence[int] = (64, 32),
    num_classes: int = 0,
    hyperparameters: dict | None = None,
    seed: int = 0,
    raw_label_key: str = "",
    run: dict[str, str] | None = None,
) -> TrainResult:
    """Train on transformed examples and export ``<model_dir>/saved_model`` (+ ``logs/``, ``model.json``).

    Args:
      transformed_examples_dir: transform's transformed examples artifact.
      transform_graph_dir: transform's transform graph artifact.
      module_file: the user's module (see ``pipelines/modules/README.md``).
      model_dir: output model artifact.
      label_key: the label among the *transformed* features.
      task: "binary" (sigmoid, label 0/1), "multiclass" (softmax, label = int class id 0..k-1) or "regression".
      epochs: the maximum number of epochs; fit stops earlier when the eval loss stops improving.
      batch_size: the maximum batch size; small data gets smaller batches (``fit.effective_batch_size``).
      learning_rate: Adam's learning rate.
      hidden_units: layer sizes of the default model (and ``args.hidden_units`` for the module).
      num_classes: multiclass classes; 0 infers them from the label's vocabulary or values; a given value is
        checked against the data.
      hyperparameters: passed to the module untouched (``args.hyperparameters``).
      seed: random seed of weights and shuffling.
      raw_label_key: the raw label column (never a serving input); "" uses what transform recorded, then the
        module's RAW_LABEL_KEYS, then ``label_key`` if it is a raw column.
      run: where the model is made, for its lineage: ``transform_graph_uri``, ``model_uri`` (the artifacts' KFP
        URIs; the paths when not given), ``pipeline_name``, ``run_name``, ``run_id``.
    """
    start = time.perf_counter()
    _check_parameters(task, num_classes, epochs, batch_size)
    module = load_module(module_file)
    if not any(callable(getattr(module, fn, None)) for fn in ("run_fn", "build_model")):
        log.info("module file %s defines neither run_fn nor build_model: using kfx's default model", module_file)
    args = _make_args(
        transformed_examples_dir, transform_graph_dir, module, module_file, model_dir, label_key, task,
        dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, hidden_units=hidden_units,
             num_classes=num_classes, hyperparameters=hyperparameters, seed=seed, raw_label_key=raw_label_key),
    )  # fmt: skip
    result = _train(args, module_file)
    write_model_meta(args, args.tf_transform_output.raw_feature_spec())
    result.lineage = _lineage(args, module_file, run or {})
    model_layout.write_lineage(model_dir, result.lineage)
    result.seconds = time.perf_counter() - start
    result.epochs_run, result.batch_size = len(args.history.get("loss", [])), args.batch_size
    log.info("training done in %.1fs: loss %.4f, %s", result.seconds, result.loss, result.metrics)
    return result


def _lineage(args: TrainArgs, module_file: str, run: dict[str, str]) -> dict[str, str | int | float]:
    """``lineage.json``: what transform recorded (data, artifact URIs) plus the module, hyperparameters and run."""
    inputs = read_transform_meta(args.transform_graph_dir).get("lineage") or {}
    hyperparameters = {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                       "hidden_units": args.hidden_units, "seed": args.seed, "num_classes": args.num_classes,
                       "module": args.hyperparameters}  # fmt: skip
    return lineage_lib.model_lineage(
        inputs,
        module_file=module_file,
        module_path=getattr(args.module, "__file__", None),
        hyperparameters=hyperparameters,
        task=args.task,
        label_key=args.label_key,
        transform_graph_uri=run.get("transform_graph_uri") or args.transform_graph_dir,
        model_uri=run.get("model_uri") or args.model_dir,
        pipeline_name=run.get("pipeline_name", ""),
        run_name=run.get("run_name", ""),
        run_id=run.get("run_id", ""),
    )


def _make_args(
    transformed_examples_dir: str,
    transform_graph_dir: str,
    module,
    module_file: str,
    model_dir: str,
    label_key: str,
    task: str,
    p: dict,
) -> TrainArgs:
    """Check the inputs against each other and build the module's TrainArgs (nothing written before this)."""
    import tensorflow as tf

    for split in artifacts.SPLITS:
        examples_layout.split_files(transformed_examples_dir, split)  # clear error if a split is missing
    tft_output, transformed_spec, raw_spec = _open_transform_output(transform_graph_dir)
    if label_key not in transformed_spec:
        raise ValueError(
            f"label '{label_key}' is not a transformed feature; preprocessing_fn outputs: "
            f"{', '.join(sorted(transformed_spec))}"
        )
    raw_keys = labels.raw_label_keys(
        p["raw_label_key"],
        read_transform_meta(transform_graph_dir).get("raw_label_keys", []),
        getattr(module, "RAW_LABEL_KEYS", None),
        label_key,
        raw_spec,
    )
    feature_keys = _feature_keys(module, module_file, tft_output, raw_spec, label_key, raw_keys)
    num_classes = int(p["num_classes"])
    if task == "multiclass":
        files = [f for s in artifacts.SPLITS for f in examples_layout.split_files(transformed_examples_dir, s)]
        num_classes = labels.num_classes(tft_output, label_key, files, num_classes)
        log.info("multiclass label %s: %d classes", label_key, num_classes)
    rows = _rows(transformed_examples_dir)
    train_rows = int(rows.get("train", 0))
    tf.io.gfile.makedirs(model_dir)
    return TrainArgs(
        transformed_examples_dir=transformed_examples_dir,
        transform_graph_dir=transform_graph_dir,
        model_dir=model_dir,
        serving_model_dir=model_layout.kfx_saved_model_dir(model_dir),
        log_dir=model_layout.logs_dir(model_dir),
        label_key=label_key,
        task=task,
        epochs=int(p["epochs"]),
        batch_size=effective_batch_size(int(p["batch_size"]), train_rows),
        learning_rate=float(p["learning_rate"]),
        hidden_units=[int(u) for u in p["hidden_units"]],
        num_classes=num_classes,
        hyperparameters=dict(p["hyperparameters"] or {}),
        seed=int(p["seed"]),
        raw_label_keys=raw_keys,
        tf_transform_output=tft_output,
        feature_keys=feature_keys,
        module=module,
        train_rows=train_rows,
        eval_rows=int(rows.get("eval", 0)),
    )


def _train(args: TrainArgs, module_file: str) -> TrainResult:
    """The module's run_fn, or fit + export of its build_model (or kfx's default model)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(args.seed)
    autograph_skip_tf_keras()
    run_fn = getattr(args.module, "run_fn", None)
    if callable(run_fn):
        with timed(log, f"run_fn from {module_file}") as t:
            returned = run_fn(args)
            t["rows"] = args.train_rows
        if not model_layout.has_saved_model(args.serving_model_dir):
            raise ModuleFileError(
                f"module file {module_file}: run_fn did not export a model (call args.export(model) at its end)"
            )
        return evaluate(returned, args) if isinstance(returned, tf.keras.Model) else recorded_result(args)
    build = getattr(args.module, "build_model", None)
    model = build(args) if callable(build) else default_model(args)
    fit(model, args)
    result = evaluate(model, args)
    export_model(model, args)
    return result
