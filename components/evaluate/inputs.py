"""What evaluate is given, checked before anything runs: the models (through the one model-layout module), the
label and task (``model.json`` is the source of truth; arguments are overrides checked against it), columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components._shared import artifacts
from components._shared.artifacts import model as model_layout
from components._shared.artifacts.model import PRESENT_KEY
from components._shared.tasks import MULTICLASS, TASKS


class InputError(ValueError):
    """A model, label, task or column given to evaluate is unusable (logic.EvaluationError subclasses it)."""


@dataclass
class ModelInfo:
    """One model as evaluate sees it."""

    location: str  # the model directory as given (either layout)
    saved_model: str  # the SavedModel directory inside it
    meta: dict[str, Any]  # model.json ({} when absent)
    signatures: dict[str, dict[str, Any]]


def _signatures(saved: str, what: str) -> dict[str, dict[str, Any]]:
    """Signature name -> {"inputs": {name: dtype}, "outputs": {name: shape}} read from saved_model.pb."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(model_layout.saved_model_pb(saved), "rb") as f:
        proto.ParseFromString(f.read())
    sigs: dict[str, dict[str, Any]] = {}
    for mg in proto.meta_graphs:
        if "serve" in mg.meta_info_def.tags:
            for name, sd in mg.signature_def.items():
                sigs[name] = {
                    "inputs": {k: tf.dtypes.as_dtype(v.dtype).name for k, v in sd.inputs.items()},
                    "outputs": {k: [d.size for d in v.tensor_shape.dim] for k, v in sd.outputs.items()},
                }
    serving = sigs.get(artifacts.SERVING_SIGNATURE)
    if serving is None:
        raise InputError(
            f"{what} model {saved} has no '{artifacts.SERVING_SIGNATURE}' signature (found: {sorted(sigs)})"
        )
    if artifacts.OUTPUT_KEY not in serving["outputs"]:
        raise InputError(
            f"{what} model's '{artifacts.SERVING_SIGNATURE}' signature has no '{artifacts.OUTPUT_KEY}' output "
            f"(found: {sorted(serving['outputs'])})"
        )
    return sigs


def load_model_info(model_dir: str, what: str) -> ModelInfo:
    """A model directory in the kfx layout (``saved_model/``) or TF Serving layout (``1/``), local or s3://."""
    import tensorflow as tf

    artifacts.register_filesystem(model_dir)
    if not tf.io.gfile.exists(model_dir):
        extra = " (pass an empty baseline for none)" if what == "baseline" else ""
        raise InputError(f"{what} model {model_dir} does not exist{extra}")
    try:
        saved = model_layout.saved_model_dir(model_dir)
    except FileNotFoundError as e:
        raise InputError(f"{what} model: {e}") from e
    return ModelInfo(model_dir, saved, model_layout.read_model_meta(model_dir), _signatures(saved, what))


#: Metadata key of a baseline model artifact: False when the producer found no baseline (KFP has no optional output,
#: so "no baseline" is an artifact marked absent). An artifact without the key (e.g. from dsl.importer) is present.
#: URI schemes read directly through tf.io.gfile (the object store), not through the launcher's local copy.
_REMOTE = ("s3://", "gs://")


def baseline_location(uri: str, path: str, metadata: dict[str, Any] | None) -> str | None:
    """Where to read a baseline model artifact: None when marked absent; its object-store URI (s3://, gs://),
    which the step reads with the storage configuration it is given; else its local path."""
    if (metadata or {}).get(PRESENT_KEY, True) is False:
        return None
    uri = uri or ""
    return uri if uri.startswith(_REMOTE) else (path or uri or None)


def _agree(name: str, given: Any, recorded: Any, model_dir: str) -> Any:
    """The recorded value, checked against an override; an error naming both values and what to do."""
    if given in (None, "", 0) or recorded in (None, "", 0):
        return recorded if recorded not in (None, "", 0) else given
    if given != recorded:
        raise InputError(
            f"{name}={given!r} was given to evaluate, but the model was trained with {name}={recorded!r} "
            f"({model_layout.meta_path(model_dir)}). The model's record is the source of truth: "
            f"drop the {name} argument, or retrain the model with {name}={given!r}."
        )
    return recorded


def label_and_task(candidate: ModelInfo, label_key: str | None, task: str | None) -> tuple[str, str]:
    """The label key and task from the candidate's model.json, with the arguments checked against it."""
    task = _agree("task", task, candidate.meta.get("task"), candidate.location) or ""
    if task not in TASKS:
        raise InputError(
            f"task must be one of {', '.join(TASKS)} (got {task!r}; set task= or {model_layout.MODEL_META} 'task')"
        )
    label_key = _agree("label_key", label_key, candidate.meta.get("label_key"), candidate.location) or ""
    if not label_key:
        raise InputError(f"no label_key given and {model_layout.meta_path(candidate.location)} names none")
    return label_key, task


def num_classes_of(candidate: ModelInfo, task: str, num_classes: int) -> int:
    """Number of classes (multiclass): model.json, else the model's output width; an override is checked."""
    k = (candidate.signatures[artifacts.SERVING_SIGNATURE]["outputs"][artifacts.OUTPUT_KEY] or [0, 0])[-1]
    if task != MULTICLASS:
        if k not in (1, -1, 0):
            raise InputError(f"task '{task}' expects one model output column, the model has {k}; is task right?")
        return 0
    recorded = int(candidate.meta.get("num_classes") or 0) or (int(k) if k and k > 1 else 0)
    n = _agree("num_classes", int(num_classes or 0), recorded, candidate.location) or 0
    if n < 2:
        raise InputError("multiclass task needs num_classes >= 2 (or a model whose output has k >= 2 columns)")
    return int(n)


def label_source(label_key: str, model: ModelInfo, columns: dict[str, str] | None) -> str:
    """Where TFMA finds the label: 'transform_features' (preprocessed) or 'examples' (raw)."""
    transform = model.signatures.get(artifacts.TRANSFORM_SIGNATURE)
    if transform is not None and label_key in transform["outputs"]:
        return "transform_features"
    if columns is None or label_key in columns:
        return "examples"
    produced = sorted(transform["outputs"]) if transform else []
    raise InputError(
        f"label '{label_key}' is neither an output of the model's '{artifacts.TRANSFORM_SIGNATURE}' signature "
        f"({produced or 'no such signature'}) nor a column of the eval examples ({sorted(columns)}); "
        "pass label_key= the (transformed) label name"
    )


def check_baseline(baseline: ModelInfo, label_key: str, task: str, label_from: str, columns: dict | None) -> None:
    """The baseline must predict the same label for the same task, found the same way as the candidate's."""
    for name, want in (("label_key", label_key), ("task", task)):
        got = baseline.meta.get(name)
        if got and got != want:
            raise InputError(
                f"the baseline model {baseline.location} was trained with {name}={got!r}, the candidate with "
                f"{want!r}: they can't be compared; pass no baseline (or one trained for the same {name})"
            )
    b_from = label_source(label_key, baseline, columns)
    if b_from != label_from:
        raise InputError(
            f"candidate and baseline models disagree on where label '{label_key}' comes from "
            f"({label_from} vs {b_from}); they can't be compared on one eval config"
        )


def check_slices(slice_features: Sequence[str], columns: dict[str, str] | None) -> None:
    for f in slice_features:
        if columns is not None and f not in columns:
            raise InputError(f"slice feature '{f}' is not a column of the eval examples ({sorted(columns)})")
