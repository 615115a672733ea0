"""The KFP wrappers: they compile, name the runtime image tagged with the one version, and keep
their inputs/outputs typed. The training pipeline's compiled YAML is golden (committed, never stale)."""

from __future__ import annotations

import os

import pytest
import yaml
from kfp import compiler

from components._shared.image import runtime_image
from components._shared.version import __version__
from pipelines.compile import compiled_dir

pytestmark = pytest.mark.components


def _compile(fn, tmp_path) -> dict:
    path = tmp_path / "spec.yaml"
    compiler.Compiler().compile(fn, package_path=str(path))
    return yaml.safe_load(path.read_text())


def _wrappers():
    from components.evaluate.component import evaluate
    from components.ingest.component import ingest
    from components.schema.component import schema
    from components.statistics.component import statistics
    from components.train.component import train
    from components.transform.component import transform
    from components.validate.component import validate

    return {
        "ingest": (ingest, {}, {"examples": "system.Dataset"}),
        "statistics": (
            statistics,
            {"examples": "system.Dataset"},
            {"statistics": "system.Dataset", "report": "system.HTML"},
        ),
        "schema": (schema, {"statistics": "system.Dataset"}, {"schema": "system.Dataset"}),
        "validate": (
            validate,
            {"statistics": "system.Dataset", "schema": "system.Dataset"},
            {"anomalies": "system.Dataset", "report": "system.HTML", "metrics": "system.Metrics"},
        ),
        "transform": (
            transform,
            {"examples": "system.Dataset", "schema": "system.Dataset"},
            {"transform_graph": "system.Model", "transformed_examples": "system.Dataset"},
        ),
        "train": (
            train,
            {"transformed_examples": "system.Dataset", "transform_graph": "system.Model"},
            {"model": "system.Model", "metrics": "system.Metrics"},
        ),
        "evaluate": (
            evaluate,
            {"model": "system.Model", "examples": "system.Dataset"},
            {
                "evaluation": "system.Dataset",
                "blessing": "system.Dataset",
                "metrics": "system.Metrics",
                "classification_metrics": "system.ClassificationMetrics",
                "report": "system.HTML",
            },
        ),
    }


@pytest.mark.parametrize("name", ["ingest", "statistics", "schema", "validate", "transform", "train", "evaluate"])
def test_wrapper_compiles_with_typed_artifacts_and_versioned_image(name, tmp_path):
    fn, inputs, outputs = _wrappers()[name]
    spec = _compile(fn, tmp_path)
    component = next(iter(spec["components"].values()))
    got_in = {
        k: v["artifactType"]["schemaTitle"]
        for k, v in component.get("inputDefinitions", {}).get("artifacts", {}).items()
    }
    got_out = {
        k: v["artifactType"]["schemaTitle"]
        for k, v in component.get("outputDefinitions", {}).get("artifacts", {}).items()
    }
    for key, title in inputs.items():
        assert got_in.get(key) == title, f"{name}: input artifact {key}"
    for key, title in outputs.items():
        assert got_out.get(key) == title, f"{name}: output artifact {key}"
    (executor,) = spec["deploymentSpec"]["executors"].values()
    container = executor["container"]
    assert container["image"] == runtime_image() and container["image"].endswith(f":{__version__}")
    # install_kfp_package=False: the image already has kfp; nothing is pip-installed at run time
    assert "pip install" not in " ".join(container["command"])


def test_beam_components_take_pipeline_args(tmp_path):
    for name in ("statistics", "transform", "evaluate"):
        fn = _wrappers()[name][0]
        spec = _compile(fn, tmp_path)
        component = next(iter(spec["components"].values()))
        params = component["inputDefinitions"]["parameters"]
        assert params["beam_pipeline_args"]["parameterType"] == "LIST", name
        assert params["beam_pipeline_args"].get("isOptional"), name


def test_pipeline_gates_transform_on_validation(tmp_path):
    from pipelines.training import training_pipeline

    spec = _compile(training_pipeline, tmp_path)
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"ingest", "statistics", "schema", "validate", "gate", "transform", "train", "evaluate"}
    assert "gate" in tasks["transform"].get("dependentTasks", [])
    params = spec["root"]["inputDefinitions"]["parameters"]
    for p in (
        "data_uri",
        "module_file",
        "schema_uri",
        "label_key",
        "task",
        "slice_features",
        "value_thresholds",
        "change_thresholds",
        "beam_pipeline_args",
        "baseline_model_uri",
        "previous_statistics_uri",
    ):
        assert p in params, p


def test_committed_pipeline_yaml_is_current(tmp_path):
    """`make compile` output is committed; this fails when it is stale."""
    from pipelines.compile import compile_all

    for fresh in compile_all(str(tmp_path)):
        committed = os.path.join(compiled_dir(), os.path.basename(fresh))
        assert os.path.exists(committed), f"{committed} is missing: run `make compile` and commit it"
        with open(committed) as a, open(fresh) as b:
            assert a.read() == b.read(), f"{committed} is stale: run `make compile` and commit the YAML"
