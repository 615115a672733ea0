"""``kfx status --model`` and ``kfx rollback --model`` with the REAL kubernetes client against KubeApiTestDouble (a test
double of the Kubernetes API, not a cluster), reached through a kubeconfig as a person's shell reaches a cluster.

Revisions here are served by a stand-in model server (tests/doubles/stand_in_model_server.py: readiness only, no
TensorFlow): what is under test is what kfx writes to and reads from the InferenceService.
"""

from __future__ import annotations

import json
import time

import pytest

from components.deploy import isvc as isvc_lib
from components.deploy import logic
from components.deploy.params import DeployParams
from pipelines import cli
from tests.deploy.conftest import LINEAGE, evidence, fake_model, write_blessing
from tests.doubles import stand_in_model_server
from tests.doubles.kube_api import KubeApiTestDouble, free_port

pytestmark = pytest.mark.unit

NS = "ops"
SECOND = {**LINEAGE, "data_uri": "s3://data/fraud/day-2.csv", "data_sha256": "77aa" * 16, "run_id": "run-2"}


@pytest.fixture
def double(isvc_schema):
    with KubeApiTestDouble(schema=isvc_schema, server_command=stand_in_model_server.command, tick_seconds=0.05) as d:
        yield d


def _kubeconfig(tmp_path, server: str) -> str:
    path = tmp_path / f"kubeconfig-{abs(hash(server))}"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "not-checked"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    return str(path)


def _deploy(double, tmp_path, tag: str, lineage: dict, mode: str = "auto") -> logic.DeployResult:
    model = fake_model(str(tmp_path / f"model-{tag}"), content=f"model {tag}".encode(), lineage=lineage)
    stats, schema = evidence(str(tmp_path / f"evidence-{tag}"))
    params = DeployParams(name="fraud", namespace=NS, storage_uri=str(tmp_path / "store"), timeout_seconds=60,
                          deployment_mode=mode)  # fmt: skip
    return logic.deploy_model(model, write_blessing(str(tmp_path / "blessing"), True), params,
                              api_client=double.api_client(), poll_seconds=0.05, statistics_dir=stats,
                              schema_dir=schema)  # fmt: skip


def _kfx(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_names_the_data_and_code_of_the_served_model_and_rollback_restores_the_previous_one(
    double, tmp_path, capsys
):
    first = _deploy(double, tmp_path, "a", LINEAGE)
    second = _deploy(double, tmp_path, "b", SECOND)
    assert f"| lineage: data_sha256 | `{SECOND['data_sha256']}` |" in second.markdown("fraud", NS)  # the step's report
    kubeconfig = _kubeconfig(tmp_path, double.host)
    ops = ["--model", "fraud", "--namespace", NS, "--kubeconfig", kubeconfig]

    code, out, _ = _kfx(capsys, "status", *ops)
    assert code == 0, out
    assert f"serving   {second.storage_uri}  (revision fraud-predictor-00002)" in out
    assert "traffic   fraud-predictor-00002 100%" in out and "canary    none" in out
    lines = dict(line.split(None, 1) for line in out.split("which data and code made the model serving now:")[1]
                 .strip().splitlines())  # fmt: skip
    assert lines["data_uri"] == "s3://data/fraud/day-2.csv" and lines["data_sha256"] == "77aa" * 16
    assert lines["data_rows"] == "6000" and lines["run_id"] == "run-2" and lines["git_commit"] == "2afa3c5"
    assert lines["module_sha256"] == LINEAGE["module_sha256"] and lines["storage_uri"] == second.storage_uri

    code, out, _ = _kfx(capsys, "rollback", *ops)
    assert code == 0
    assert f"rolled back from {second.storage_uri} to {first.storage_uri}" in out
    obj = double.get(NS, "fraud")  # the effect, on the double's object
    assert isvc_lib.served_storage_uri(obj) == first.storage_uri
    assert isvc_lib.traffic_of(obj) == {"fraud-predictor-00003": 100}
    assert isvc_lib.lineage_of(obj)["data_sha256"] == LINEAGE["data_sha256"]
    assert isvc_lib.lineage_of(obj)["storage_uri"] == first.storage_uri

    code, out, _ = _kfx(capsys, "status", *ops, "--json")
    status = json.loads(out)
    assert status["serving"]["storage_uri"] == first.storage_uri and status["canary"] is None
    assert status["serving"]["lineage"]["data_uri"] == LINEAGE["data_uri"]
    assert status["serving"]["lineage"]["run_id"] == "run-1"


def test_status_shows_a_canary_in_flight_with_both_lineages(double, tmp_path, capsys):
    first = _deploy(double, tmp_path, "a", LINEAGE)
    model_b = fake_model(str(tmp_path / "model-b"), content=b"model b", lineage=SECOND)
    target = logic.versioned_storage_uri(str(tmp_path / "store"), "fraud", model_b)
    from components.deploy import storage

    storage.push_model(model_b, target)
    # a rollout in flight, as a deploy leaves it between the canary share and promotion
    existing = double.get(NS, "fraud")
    desired = isvc_lib.build_inference_service(
        DeployParams(name="fraud", namespace=NS, storage_uri="unused"), target, lineage=SECOND
    )
    from kubernetes import client

    api = client.CustomObjectsApi(double.api_client())
    api.patch_namespaced_custom_object(isvc_lib.GROUP, isvc_lib.VERSION, NS, isvc_lib.PLURAL, "fraud",
                                       isvc_lib.rollout_patch(existing, desired, 10, target))  # fmt: skip
    deadline = time.monotonic() + 30
    while isvc_lib.traffic_of(double.get(NS, "fraud")) != {"fraud-predictor-00002": 10, "fraud-predictor-00001": 90}:
        assert time.monotonic() < deadline, double.get(NS, "fraud")["status"]
        time.sleep(0.05)

    code, out, _ = _kfx(capsys, "status", "--model", "fraud", "--namespace", NS, "--json",
                        "--kubeconfig", _kubeconfig(tmp_path, double.host))  # fmt: skip
    status = json.loads(out)
    assert status["serving"]["storage_uri"] == first.storage_uri
    assert status["serving"]["revision"] == "fraud-predictor-00001"
    assert status["serving"]["lineage"]["data_sha256"] == LINEAGE["data_sha256"]
    assert status["canary"]["storage_uri"] == target and status["canary"]["percent"] == 10
    assert status["canary"]["revision"] == "fraud-predictor-00002"
    assert status["canary"]["lineage"]["data_sha256"] == SECOND["data_sha256"]
    assert status["unfinished_rollout"] is True


def test_status_of_a_standard_mode_canary_names_both_models_and_their_lineage(double, tmp_path, capsys):
    first = _deploy(double, tmp_path, "a", LINEAGE, mode="standard")
    model_b = fake_model(str(tmp_path / "model-b"), content=b"model b", lineage=SECOND)
    target = logic.versioned_storage_uri(str(tmp_path / "store"), "fraud", model_b)
    from components.deploy import storage

    storage.push_model(model_b, target)
    existing = double.get(NS, "fraud")
    params = DeployParams(name="fraud", namespace=NS, storage_uri="unused", deployment_mode="standard")
    desired = isvc_lib.build_inference_service(params, target, "standard", lineage=SECOND)
    from kubernetes import client

    api = client.CustomObjectsApi(double.api_client())
    api.patch_namespaced_custom_object(isvc_lib.GROUP, isvc_lib.VERSION, NS, isvc_lib.PLURAL, "fraud",
                                       isvc_lib.canary_patch(existing, desired, 10, target))  # fmt: skip
    deadline = time.monotonic() + 30
    while not ((double.get(NS, "fraud").get("status") or {}).get("canaryStatuses") or [{}])[0].get("trafficPercent"):
        assert time.monotonic() < deadline, double.get(NS, "fraud")["status"]
        time.sleep(0.05)

    code, out, _ = _kfx(capsys, "status", "--model", "fraud", "--namespace", NS,
                        "--kubeconfig", _kubeconfig(tmp_path, double.host))  # fmt: skip
    assert code == 0 and "standard mode" in out
    assert f"serving   {first.storage_uri}" in out and f"canary    {target} at 10%" in out
    serving, canary = out.split("the canary (10% of traffic):")
    assert LINEAGE["data_sha256"] in serving and SECOND["data_sha256"] not in serving
    assert SECOND["data_sha256"] in canary and "run-2" in canary


def test_missing_inference_service_and_unreachable_cluster_are_one_line_errors(double, tmp_path, capsys):
    code, out, err = _kfx(capsys, "status", "--model", "nope", "--namespace", NS,
                          "--kubeconfig", _kubeconfig(tmp_path, double.host))  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip() == (f"kfx status: no InferenceService {NS}/nope (kubectl get isvc -n {NS}); check --model "
                           "and --namespace")  # fmt: skip
    code, _, err = _kfx(capsys, "rollback", "--model", "nope", "--namespace", NS,
                        "--kubeconfig", _kubeconfig(tmp_path, double.host))  # fmt: skip
    assert code == 2 and "no InferenceService ops/nope" in err and len(err.strip().splitlines()) == 1
    closed = f"http://127.0.0.1:{free_port()}"
    code, _, err = _kfx(capsys, "status", "--model", "fraud", "--kubeconfig", _kubeconfig(tmp_path, closed))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"kfx status: cannot reach the Kubernetes API at {closed} (Connection refused)"), err
    code, _, err = _kfx(capsys, "rollback", "--model", "fraud", "--kubeconfig", _kubeconfig(tmp_path, closed))
    assert code == 2 and "cannot reach the Kubernetes API" in err and len(err.strip().splitlines()) == 1


def test_status_needs_a_model_or_a_host(capsys, monkeypatch):
    monkeypatch.delenv("KFX_KFP_HOST", raising=False)
    code, _, err = _kfx(capsys, "status")
    assert code == 2 and "--model NAME" in err and "--host URL" in err
    code, _, err = _kfx(capsys, "status", "--model", "fraud", "--run-id", "r1")
    assert code == 2 and "give one of them" in err
