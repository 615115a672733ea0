"""The deploy KFP wrapper run by kfp.local (SubprocessRunner) against KubeApiTestDouble — a test double of the
Kubernetes API, not a cluster — reached through a kubeconfig, as the component reaches a real cluster."""

import json
import os

import pytest
import tensorflow as tf

from tests.deploy.conftest import LINEAGE, evidence, fake_model, write_blessing
from tests.doubles import stand_in_model_server
from tests.doubles.kube_api import KubeApiTestDouble

pytestmark = pytest.mark.local


def _examples(root: str) -> str:
    from components._shared.artifacts.examples import shard_path

    os.makedirs(os.path.join(root, "eval"))
    with tf.io.TFRecordWriter(shard_path(root, "eval", 0)) as w:
        feature = {"amount": tf.train.Feature(float_list=tf.train.FloatList(value=[12.5]))}
        w.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return root


@pytest.fixture
def double(isvc_schema, monkeypatch):
    """The Kubernetes API test double; its revisions are served by a stand-in model server (no TensorFlow)."""
    from components.deploy import smoke

    with KubeApiTestDouble(schema=isvc_schema, server_command=stand_in_model_server.command, tick_seconds=0.05) as d:
        monkeypatch.setenv(smoke.ADDRESS_OVERRIDES_ENV, d.address_overrides_path)
        yield d


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
    def one_step(model_uri: str, blessing_uri: str, examples_uri: str, statistics_uri: str, schema_uri: str) -> bool:
        model = dsl.importer(artifact_uri=model_uri, artifact_class=Model)
        blessing = dsl.importer(artifact_uri=blessing_uri, artifact_class=Dataset)
        examples = dsl.importer(artifact_uri=examples_uri, artifact_class=Dataset)
        statistics = dsl.importer(artifact_uri=statistics_uri, artifact_class=Dataset)
        schema = dsl.importer(artifact_uri=schema_uri, artifact_class=Dataset)
        step = deploy(model=model.output, blessing=blessing.output, examples=examples.output, name="fraud",
                      namespace="kfx-test", storage_uri=store, statistics=statistics.output,
                      schema=schema.output, timeout_seconds=60)  # fmt: skip
        return step.outputs["deployed"]

    def run(blessed: bool) -> bool:
        model = fake_model(str(tmp_path / "model"), lineage=LINEAGE)
        blessing = write_blessing(str(tmp_path / "blessing"), blessed, [] if blessed else ["auc 0.61 < 0.80"])
        stats, schema = evidence(str(tmp_path / "evidence"))
        return one_step(model_uri=model, blessing_uri=blessing, examples_uri=_examples(str(tmp_path / "ex")),
                        statistics_uri=stats, schema_uri=schema).output  # fmt: skip

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


def test_deployed_model_carries_its_lineage_and_evidence_to_storage_and_the_inference_service(run_deploy, double):
    from components._shared.artifacts import model as model_layout
    from components._shared.artifacts.statistics import read_statistics
    from components.deploy import isvc as isvc_lib

    assert run_deploy(blessed=True) is True
    obj = double.get("kfx-test", "fraud")
    pushed = isvc_lib.served_storage_uri(obj)
    assert pushed.startswith(run_deploy.store)
    assert model_layout.read_lineage(pushed) == LINEAGE
    assert read_statistics(model_layout.evidence_statistics_dir(pushed), "train").datasets[0].num_examples == 80
    assert os.listdir(model_layout.evidence_schema_dir(pushed)) == ["schema.pbtxt"]
    annotations = isvc_lib.lineage_of(obj)
    assert annotations["storage_uri"] == pushed and annotations["data_sha256"] == LINEAGE["data_sha256"]
    assert annotations["data_rows"] == "6000" and annotations["run_id"] == "run-1"


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
