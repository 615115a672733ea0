"""The deploy KFP wrapper run by kfp.local (SubprocessRunner) against KubeApiTestDouble — a test double of the
Kubernetes API, not a cluster — reached through a kubeconfig, as the component reaches a real cluster."""

import json
import os

import pytest
import tensorflow as tf

from tests.deploy.conftest import fake_model, write_blessing

pytestmark = pytest.mark.local


def _examples(root: str) -> str:
    from components._shared.artifacts.examples import shard_path

    os.makedirs(os.path.join(root, "eval"))
    with tf.io.TFRecordWriter(shard_path(root, "eval", 0)) as w:
        feature = {"amount": tf.train.Feature(float_list=tf.train.FloatList(value=[12.5]))}
        w.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return root


@pytest.fixture
def run_deploy(tmp_path, double, monkeypatch):
    from kfp import dsl, local
    from kfp.dsl import Dataset, Model

    from components.deploy.component import deploy

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": double.host}}],
        "users": [{"name": "runner", "user": {"token": "not-checked"}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "runner"}}],
    }))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    store = str(tmp_path / "store")

    @dsl.pipeline
    def one_step(model_uri: str, blessing_uri: str, examples_uri: str) -> bool:
        model = dsl.importer(artifact_uri=model_uri, artifact_class=Model)
        blessing = dsl.importer(artifact_uri=blessing_uri, artifact_class=Dataset)
        examples = dsl.importer(artifact_uri=examples_uri, artifact_class=Dataset)
        step = deploy(model=model.output, blessing=blessing.output, examples=examples.output, name="fraud",
                      namespace="kfx-test", storage_uri=store)  # fmt: skip
        return step.outputs["deployed"]

    def run(blessed: bool) -> bool:
        model = fake_model(str(tmp_path / "model"))
        blessing = write_blessing(str(tmp_path / "blessing"), blessed, [] if blessed else ["auc 0.61 < 0.80"])
        return one_step(model_uri=model, blessing_uri=blessing, examples_uri=_examples(str(tmp_path / "ex"))).output

    def report() -> str:
        (path,) = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "root") for f in fs if f == "report"]
        with open(path) as f:
            return f.read()

    run.report = report
    run.store = store
    return run


def test_unblessed_model_step_succeeds_with_not_deployed_report(run_deploy, double):
    assert run_deploy(blessed=False) is False
    assert "**not deployed: not blessed (auc 0.61 < 0.80)**" in run_deploy.report()
    assert double.requests == [] and not os.path.exists(run_deploy.store)


def test_refused_deploy_fails_the_step_with_the_reason(run_deploy, double):
    double.forbid("create")
    with pytest.raises(RuntimeError):
        run_deploy(blessed=True)
    text = run_deploy.report()
    assert "**failed**: forbidden (HTTP 403) to create inferenceservices.serving.kserve.io 'fraud'" in text
    assert not os.path.exists(run_deploy.store)


def test_resolve_baseline_publishes_an_absent_model_artifact_when_nothing_is_served(tmp_path, double, monkeypatch):
    """KFP has no optional outputs: with no InferenceService the step still publishes its Model, marked absent."""
    from kfp import local

    from components.deploy.component import resolve_baseline

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": double.host}}],
        "users": [{"name": "deployer", "user": {"token": "not-checked"}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "deployer"}}],
    }))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))

    task = resolve_baseline(name="fraud", namespace="kfx-test")

    art = task.outputs["baseline"]
    assert art.metadata["present"] is False and art.metadata["kfx_kind"] == "model"
    assert art.metadata["reason"] == "no InferenceService" and art.metadata["source"] == ""
    with open(os.path.join(art.path, "model-ref.json")) as f:
        assert json.load(f) == {"storage_uri": None, "reason": "no InferenceService"}
    assert [(m, p.split("?")[0].rsplit("/", 1)[-1]) for m, p in double.requests] == [("GET", "fraud")]
