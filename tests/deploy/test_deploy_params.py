"""The deploy parameters are defined once (components/deploy/params.py): the KFP wrapper's literal signature, the
train_and_deploy pipeline and the CLI agree with the dataclass."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from components.deploy.params import DeployParams, defaults, fields

pytestmark = pytest.mark.unit

ARTIFACTS = {"model", "blessing", "examples", "report", "statistics", "schema"}
#: Pipeline parameter -> DeployParams field, where the pipeline names it differently.
PIPELINE_NAMES = {"model_name": "name"}
#: Pipeline defaults that differ on purpose: the pipeline's predictor runs as kfx-models (manifests/base/storage.yaml).
PIPELINE_DEFAULTS = {"service_account": "kfx-models", "name": "kfx-model", "namespace": "kfx",
                     "storage_uri": "s3://mlpipeline/kfx-models"}  # fmt: skip


def test_wrapper_signature_is_the_dataclass():
    from components.deploy.component import deploy

    sig = inspect.signature(deploy.python_func)
    params = {n: p for n, p in sig.parameters.items() if n not in ARTIFACTS}
    assert list(params) == [f.name for f in fields()]
    for f in fields():
        p = params[f.name]
        assert p.annotation in (f.type, eval(f.type)), f.name  # noqa: S307  (a type name from the dataclass)
        want = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert p.default == want, f.name
        assert f.metadata["help"], f"{f.name} has no help text"


def test_pipeline_parameters_agree_with_the_dataclass():
    from pipelines.train_and_deploy import train_and_deploy

    sig = inspect.signature(train_and_deploy.pipeline_func)
    types = {f.name: f.type for f in fields()}
    shared = {PIPELINE_NAMES.get(n, n): p for n, p in sig.parameters.items() if PIPELINE_NAMES.get(n, n) in types}
    assert {"name", "namespace", "storage_uri", "canary_traffic_percent", "runtime", "rollout", "deployment_mode",
            "service_account"} <= set(shared)  # fmt: skip
    for name, p in shared.items():
        assert p.annotation.__name__ == types[name], name
        assert p.default == PIPELINE_DEFAULTS.get(name, defaults().get(name)), name


def test_params_are_frozen_and_normalize_the_mode():
    p = DeployParams(name="fraud", namespace="ns", storage_uri="s3://m", deployment_mode="Standard")
    assert p.deployment_mode == "standard"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "other"  # type: ignore[misc]


def test_cli_takes_its_help_from_the_dataclass(capsys):
    from components.deploy.__main__ import parse

    with pytest.raises(SystemExit):
        parse(["rollback", "--help"])
    out = capsys.readouterr().out
    assert DeployParams.__dataclass_fields__["namespace"].metadata["help"] in out
    assert parse(["status", "--name", "fraud", "--namespace", "ns"]).command == "status"
