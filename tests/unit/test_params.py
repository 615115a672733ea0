"""The training parameters are defined once (components._shared.params.TrainingParams); both pipelines'
compiled inputs and the CLI flags are derived from it and agree with it. (The component wrappers are
checked against it in tests/components/test_wrappers.py.)"""

# no `from __future__ import annotations`: KFP reads the test components' annotations as types

import dataclasses
import typing

import pytest
import yaml
from kfp import compiler, dsl

from components._shared.params import FIELDS, NAMES, STEPS_TAKING, TrainingParams, default_of, step_arguments
from pipelines.params import add_flags, cli_words, flag_of, values_from, with_training_params

pytestmark = pytest.mark.unit

_KFP_TYPES = {
    str: "STRING",
    int: "NUMBER_INTEGER",
    float: "NUMBER_DOUBLE",
    bool: "BOOLEAN",
    list: "LIST",
    dict: "STRUCT",
}


def _inputs(pipeline, tmp_path) -> dict:
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, package_path=str(path))
    return next(d for d in yaml.safe_load_all(path.read_text()) if d)["root"]["inputDefinitions"]["parameters"]


def _expected_type(name: str) -> str:
    hint = typing.get_type_hints(TrainingParams)[name]
    return _KFP_TYPES[typing.get_origin(hint) or hint]


def _assert_matches_dataclass(inputs: dict, names: tuple[str, ...], overrides: dict | None = None) -> None:
    overrides = overrides or {}
    for f in FIELDS:
        if f.name not in names:
            continue
        spec = inputs[f.name]
        assert spec["parameterType"] == _expected_type(f.name), f.name
        assert spec["description"] == f.metadata["help"], f.name
        default = overrides.get(f.name, default_of(f))
        if default is dataclasses.MISSING:
            assert "defaultValue" not in spec, f.name
        else:
            assert spec["defaultValue"] == default, f.name


def test_training_pipeline_inputs_are_the_dataclass(tmp_path):
    from pipelines.training import training_pipeline

    inputs = _inputs(training_pipeline, tmp_path)
    assert set(inputs) == set(NAMES)
    _assert_matches_dataclass(inputs, NAMES)


def test_train_and_deploy_exposes_every_training_parameter_but_the_resolved_baseline(tmp_path):
    from pipelines.train_and_deploy import train_and_deploy

    inputs = _inputs(train_and_deploy, tmp_path)
    training = tuple(n for n in NAMES if n != "baseline_model_uri")
    assert set(training) <= set(inputs)
    assert "baseline_model_uri" not in inputs  # resolved from the served model
    # issue 6 defect 1: its gate can fire — a curated schema, previous and serving statistics reach validate
    assert {"schema_uri", "previous_statistics_uri", "serving_statistics_uri"} <= set(inputs)
    _assert_matches_dataclass(inputs, training, overrides={"value_thresholds": {"auc": 0.7}})


def test_generated_signature_compiles_like_a_literal_one(tmp_path):
    """An explicit ``__signature__`` gives KFP 2.13 the same IR inputs as a hand-written signature."""

    @dsl.component
    def echo(data_uri: str, epochs: int, fail_on_anomalies: bool, value_thresholds: typing.Dict[str, float]) -> None:  # noqa: UP006
        pass

    epochs_default = TrainingParams.__dataclass_fields__["epochs"].default

    @dsl.pipeline(name="literal")
    def literal(
        data_uri: str,
        epochs: int = epochs_default,
        fail_on_anomalies: bool = True,
        value_thresholds: typing.Dict[str, float] = {},  # noqa: B006, UP006  (a KFP default)
    ) -> None:
        echo(data_uri=data_uri, epochs=epochs, fail_on_anomalies=fail_on_anomalies, value_thresholds=value_thresholds)

    keep = ("data_uri", "epochs", "fail_on_anomalies", "value_thresholds")

    @dsl.pipeline(name="generated")
    @with_training_params(exclude=tuple(n for n in NAMES if n not in keep))
    def generated(params: dict) -> None:
        echo(**params)

    want = {k: {x: y for x, y in v.items() if x != "description"} for k, v in _inputs(literal, tmp_path).items()}
    got = {k: {x: y for x, y in v.items() if x != "description"} for k, v in _inputs(generated, tmp_path).items()}
    assert got == want


def test_pipeline_body_cannot_redeclare_a_training_parameter():
    with pytest.raises(ValueError, match="epochs"):

        @with_training_params
        def body(params: dict, epochs: int = 3) -> None:
            pass


def test_every_parameter_reaches_a_step_and_step_arguments_follow_the_routes():
    routed = {name for args in STEPS_TAKING.values() for name in args}
    assert routed == set(NAMES), set(NAMES) - routed
    values = {f.name: f"v-{f.name}" for f in FIELDS}
    assert step_arguments("validate", values)["label_key"] == "v-raw_label_key"
    assert step_arguments("ingest", {"data_uri": "x", "eval_fraction": None}) == {"data_uri": "x"}


def _parser():
    import argparse

    p = argparse.ArgumentParser()
    add_flags(p)
    return p


def test_every_parameter_is_a_cli_flag_with_its_help_text(monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps at the terminal width
    p = _parser()
    help_text = " ".join(p.format_help().split())
    for f in FIELDS:
        assert flag_of(f) in help_text, f.name
        assert " ".join(f.metadata["help"].split()) in help_text, f.name
    for flag in ("--categorical-drift-threshold", "--numeric-skew-threshold", "--eval-fraction", "--psi-threshold"):
        assert flag in help_text


def test_cli_defaults_are_the_dataclass_defaults():
    values = values_from(_parser().parse_args([]))
    for f in FIELDS:
        cli_default = f.metadata["cli_default"]
        want = cli_default if cli_default is not dataclasses.MISSING else default_of(f)
        assert values[f.name] == want, f.name


def test_cli_flags_set_every_kind_of_parameter():
    args = [
        "--data", "d.csv", "--eval-fraction", "0.3", "--no-fail-on-anomalies", "--slice", "a", "--slice", "b",
        "--threshold", "auc=0.8", "--change-threshold", "auc=0.01", "--beam-arg=--direct_num_workers=2",
        "--numeric-skew-threshold", "0.05",
    ]  # fmt: skip
    v = values_from(_parser().parse_args(args))
    assert v["data_uri"] == "d.csv" and v["eval_fraction"] == 0.3 and v["fail_on_anomalies"] is False
    assert v["slice_features"] == ["a", "b"] and v["value_thresholds"] == {"auc": 0.8}
    assert v["change_thresholds"] == {"auc": 0.01} and v["beam_pipeline_args"] == ["--direct_num_workers=2"]
    assert v["numeric_skew_threshold"] == 0.05
    with pytest.raises(ValueError, match="--threshold"):
        values_from(_parser().parse_args(["--threshold", "auc"]))


def test_advice_is_translated_into_cli_flags():
    msg = "3 anomalies; run with fail_on_anomalies=False to continue, or raise numeric_drift_threshold=0.2"
    assert cli_words(msg) == (
        "3 anomalies; run with --no-fail-on-anomalies to continue, or raise --numeric-drift-threshold 0.2"
    )
    assert cli_words("`module_file` x.py does not exist") == "`--module` x.py does not exist"
    both = "continue with --no-fail-on-anomalies (CLI) / fail_on_anomalies=False (pipeline parameter)."
    assert cli_words(both) == "continue with --no-fail-on-anomalies."
    assert cli_words("pass label_key= the (transformed) label name").startswith("pass --label ")


def test_readme_parameter_table_is_current(project_root):
    from pipelines.params import README_BEGIN, README_END, markdown_table

    with open(f"{project_root}/README.md") as f:
        text = f.read()
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    assert text[start:end] == markdown_table(), "README parameter table is stale: paste `python -m pipelines.params`"
