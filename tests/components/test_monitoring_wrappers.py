"""The monitoring wrappers and pipeline: typed artifacts, the versioned image, the wiring, caching off, and the
threshold defaults agreeing with ``components.monitor.decision.Thresholds`` (one source of the rules)."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from kfp import compiler

from components._shared.image import runtime_image
from components.monitor import component as c
from components.monitor.decision import Thresholds

pytestmark = pytest.mark.components

WRAPPERS = {
    "monitor_model": (c.monitor_model, {}, {"model": "system.Model"}),
    "monitor_statistics": (c.monitor_statistics, {"model": "system.Model"},
                           {"statistics": "system.Dataset", "report": "system.HTML"}),
    "monitor_checks": (c.monitor_checks, {"statistics": "system.Dataset", "model": "system.Model"},
                       {"anomalies": "system.Dataset", "report": "system.HTML", "metrics": "system.Metrics"}),
    "monitor_decide": (c.monitor_decide, {"anomalies": "system.Dataset", "model": "system.Model"},
                       {"decision": "system.Dataset", "report": "system.HTML", "metrics": "system.Metrics"}),
    "retrain": (c.retrain, {"decision": "system.Dataset"}, {"report": "system.Markdown"}),
}  # fmt: skip


def _compile(fn, tmp_path) -> dict:
    path = tmp_path / "spec.yaml"
    compiler.Compiler().compile(fn, package_path=str(path))
    return next(d for d in yaml.safe_load_all(path.read_text()) if d)


def _titles(defs: dict) -> dict:
    return {k: v["artifactType"]["schemaTitle"] for k, v in defs.get("artifacts", {}).items()}


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_wrapper_compiles_with_typed_artifacts_and_versioned_image(name, tmp_path):
    fn, inputs, outputs = WRAPPERS[name]
    spec = _compile(fn, tmp_path)
    component = next(iter(spec["components"].values()))
    assert _titles(component.get("inputDefinitions", {})) == inputs
    assert _titles(component.get("outputDefinitions", {})) == outputs
    (executor,) = spec["deploymentSpec"]["executors"].values()
    assert executor["container"]["image"] == runtime_image()
    assert "pip install" not in " ".join(executor["container"]["command"])


def test_pipeline_wiring_and_caching(tmp_path):
    from pipelines.monitoring import monitoring_pipeline

    spec = _compile(monitoring_pipeline, tmp_path)
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"monitor-model", "monitor-statistics", "monitor-checks", "monitor-decide", "retrain"}
    assert all(t["cachingOptions"] == {} or not t["cachingOptions"].get("enableCache") for t in tasks.values())
    decide = tasks["monitor-decide"]["inputs"]
    # the window is resolved once (end = now for schedules) and every later step reads that one window
    assert decide["parameters"]["window_end"]["taskOutputParameter"] == {
        "outputParameterKey": "window_end", "producerTask": "monitor-statistics"
    }  # fmt: skip
    assert decide["artifacts"]["anomalies"]["taskOutputArtifact"]["producerTask"] == "monitor-checks"
    assert tasks["retrain"]["inputs"]["artifacts"]["decision"]["taskOutputArtifact"]["producerTask"] == (
        "monitor-decide"
    )
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert "defaultValue" not in params["log_uri"] and params["window_end"]["defaultValue"] == ""


def test_threshold_defaults_are_the_decision_rules_defaults():
    import inspect

    from pipelines.monitoring import monitoring_pipeline

    pipeline_defaults = {
        k: p.default for k, p in inspect.signature(monitoring_pipeline.pipeline_func).parameters.items()
    }
    for f in dataclasses.fields(Thresholds):
        assert pipeline_defaults[f.name] == f.default, f.name
        for fn in (c.monitor_decide,):
            assert inspect.signature(fn.python_func).parameters[f.name].default == f.default, f.name


def test_kfx_run_monitoring_locally_needs_a_log(capsys):
    from pipelines import cli

    assert cli.main(["run", "--pipeline", "monitoring", "--param", "model_uri=/m"]) == 2
    assert "needs --param log_uri=" in capsys.readouterr().err
