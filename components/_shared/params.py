"""The training parameters, defined once: name, type, default, help text and which component receives each.

``TrainingParams`` is the one list. Everything else is derived from it:

- the ``@dsl.pipeline`` signatures of ``pipelines.training`` and ``pipelines.train_and_deploy``
  (``pipelines.params.pipeline_signature``),
- the arguments each step gets in ``pipelines.training.training_steps`` (``step_arguments``),
- the flags of ``python -m pipelines.run`` (``pipelines.params.add_flags``),
- and a test checks the component wrappers (``inspect.signature(component.python_func)``) against it.

A new training parameter is one field here (plus the wrapper argument of the component that takes it).

Field metadata (``param(...)``):
    help: one line for ``--help``, the KFP UI's input description and the README.
    to: ``{step: wrapper argument name}`` for every step the value is passed to.
    flag: the CLI flag when it is not ``--<name-with-dashes>``.
    cli_default: the CLI's default when it differs from the pipeline default (e.g. generated sample data).
    cli_note: what the CLI's default means, when it is not a plain value.

Lives in ``components/_shared`` (not ``pipelines/``) because it describes component arguments: the wrappers'
test and, later, logic modules can use it without importing the pipeline layer. It imports neither kfp nor TF.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from components._shared.tasks import BINARY, TASKS

DEFAULT_MODULE = "pipelines.modules.fraud"
DEFAULT_LABEL = "is_fraud"

_NO_DEFAULT = dataclasses.MISSING


def param(
    default: Any = _NO_DEFAULT,
    *,
    help: str,  # noqa: A002  (the argparse word)
    to: dict[str, str] | None = None,
    flag: str | None = None,
    choices: tuple[str, ...] | None = None,
    cli_default: Any = _NO_DEFAULT,
    cli_note: str = "",
) -> Any:
    """A ``TrainingParams`` field with its help text, its steps and its CLI flag in the metadata."""
    meta = {
        "help": help,
        "to": dict(to or {}),
        "flag": flag,
        "choices": choices,
        "cli_default": cli_default,
        "cli_note": cli_note,
    }
    if isinstance(default, list | dict):
        frozen = type(default)(default)
        return field(default_factory=lambda: type(frozen)(frozen), metadata=meta)
    if default is _NO_DEFAULT:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class TrainingParams:
    """Every parameter of a kfx training run (pipeline inputs and CLI flags)."""

    data_uri: str = param(
        help="CSV path or gfile URI (gs://, s3://) of the training data",
        to={"ingest": "data_uri"},
        flag="--data",
        cli_default="",
        cli_note="default: generated synthetic card-fraud data",
    )
    module_file: str = param(
        DEFAULT_MODULE,
        help="module file with preprocessing_fn and build_model or run_fn (path, URI or dotted name)",
        to={"transform": "module_file", "train": "module_file"},
        flag="--module",
    )
    label_key: str = param(
        DEFAULT_LABEL,
        help="label key as produced by preprocessing_fn",
        to={"train": "label_key", "evaluate": "label_key"},
        flag="--label",
    )
    raw_label_key: str = param(
        DEFAULT_LABEL,
        help="raw CSV column the label comes from: kept out of serving inputs and drift checks",
        to={"validate": "label_key", "transform": "raw_label_key", "train": "raw_label_key"},
        flag="--raw-label",
        cli_default=None,
        cli_note="default: the --label column when the data has it",
    )
    task: str = param(BINARY, help="learning task", to={"train": "task", "evaluate": "task"}, choices=TASKS)
    num_classes: int = param(
        0,
        help="number of classes (multiclass only)",
        to={"train": "num_classes", "evaluate": "num_classes"},
    )
    schema_uri: str = param(
        "",
        help="curated schema .pbtxt (default: infer from the training statistics)",
        to={"schema": "schema_uri"},
        flag="--schema",
    )
    eval_fraction: float = param(
        0.2, help="fraction of rows held out for evaluation (deterministic hash split)", to={"ingest": "eval_fraction"}
    )
    previous_statistics_uri: str = param(
        "",
        help="statistics artifact of a previous run: drift is checked against it",
        to={"validate": "previous_statistics_uri"},
        flag="--previous-statistics",
    )
    serving_statistics_uri: str = param(
        "",
        help="statistics artifact of serving data: training/serving skew is checked against it",
        to={"validate": "serving_statistics_uri"},
        flag="--serving-statistics",
    )
    categorical_drift_threshold: float = param(
        0.1,
        help="max L-infinity distance of a categorical feature vs the previous statistics",
        to={"validate": "categorical_drift_threshold"},
    )
    numeric_drift_threshold: float = param(
        0.1,
        help="max Jensen-Shannon divergence of a numeric feature vs the previous statistics",
        to={"validate": "numeric_drift_threshold"},
    )
    categorical_skew_threshold: float = param(
        0.1,
        help="max L-infinity distance of a categorical feature vs the serving statistics",
        to={"validate": "categorical_skew_threshold"},
    )
    numeric_skew_threshold: float = param(
        0.1,
        help="max Jensen-Shannon divergence of a numeric feature vs the serving statistics",
        to={"validate": "numeric_skew_threshold"},
    )
    psi_threshold: float = param(
        0.0,
        help="max population stability index of a feature vs previous/serving statistics (0: not checked)",
        to={"validate": "psi_threshold"},
    )
    fail_on_anomalies: bool = param(
        True,
        help="stop the run before transform when validation finds anomalies",
        to={"gate": "fail_on_anomalies"},
    )
    epochs: int = param(50, help="maximum training epochs (early stopping on the eval loss)", to={"train": "epochs"})
    batch_size: int = param(256, help="training batch size", to={"train": "batch_size"})
    learning_rate: float = param(0.001, help="optimizer learning rate", to={"train": "learning_rate"})
    slice_features: list[str] = param(
        [],
        help="feature to slice evaluation metrics by (repeatable)",
        to={"evaluate": "slice_features"},
        flag="--slice",
    )
    value_thresholds: dict[str, float] = param(
        {},
        help="metric=lower_bound the model must reach to be blessed (repeatable)",
        to={"evaluate": "value_thresholds"},
        flag="--threshold",
    )
    change_thresholds: dict[str, float] = param(
        {},
        help="metric=max_drop allowed against the baseline model (repeatable)",
        to={"evaluate": "change_thresholds"},
        flag="--change-threshold",
    )
    baseline_model_uri: str = param(
        "",
        help="baseline model directory to compare against ('last': the last blessed local run)",
        to={"import_baseline": "uri"},
        flag="--baseline",
    )
    beam_pipeline_args: list[str] = param(
        [],
        help="Apache Beam pipeline option, e.g. --direct_num_workers=2 (repeatable)",
        to={"statistics": "beam_pipeline_args", "transform": "beam_pipeline_args", "evaluate": "beam_pipeline_args"},
        flag="--beam-arg",
        cli_note="write it as --beam-arg=--direct_num_workers=2",
    )


FIELDS: tuple[dataclasses.Field, ...] = dataclasses.fields(TrainingParams)
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
STEPS_TAKING: dict[str, dict[str, str]] = {}
"""step -> {parameter: wrapper argument}: what each component receives from the training parameters."""
for _f in FIELDS:
    for _step, _arg in _f.metadata["to"].items():
        STEPS_TAKING.setdefault(_step, {})[_f.name] = _arg


def default_of(f: dataclasses.Field) -> Any:
    """The field's default (a fresh copy for lists and dicts), or ``dataclasses.MISSING``."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def help_of(name: str) -> str:
    """The help text of parameter ``name``."""
    return next(f.metadata["help"] for f in FIELDS if f.name == name)


def step_arguments(step: str, values: dict[str, Any]) -> dict[str, Any]:
    """The wrapper arguments of ``step`` from parameter ``values`` (missing and None values are left out)."""
    return {arg: values[name] for name, arg in STEPS_TAKING.get(step, {}).items() if values.get(name) is not None}
