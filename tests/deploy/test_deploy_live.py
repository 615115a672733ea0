"""Deploy end to end against KubeApiTestDouble (a test double of the Kubernetes API, not a cluster) whose simulated
controller starts REAL kfx model servers (``.venv-serving``) for each revision, on a real small trained model.

Smoke requests go to the cluster-local addresses the double hands out (``*.svc.cluster.local``), resolved to the
local servers only through the double's explicit address-override hook (``KFX_TEST_ADDRESS_OVERRIDES``): the same
code path as in a cluster. Server starts are the cost (TensorFlow load, ~5-30 s each on this machine): every test
uses the InferenceService name ``fraud`` in its own namespace, so revisions of the same model dir share one
server process. The last test proves least privilege: the union of the (verb, group, resource) every scenario
used is exactly what the Role in manifests/base/rbac.yaml grants.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import yaml

from components.deploy import baseline as baseline_lib
from components.deploy import isvc as isvc_lib
from components.deploy import logic, smoke, storage
from components.deploy.logic import DeployError, DeployParams
from tests.deploy.conftest import ROOT, corrupt, variant

pytestmark = pytest.mark.unit

NAME = "fraud"
FAST = {"poll_seconds": 0.2}
RBAC = os.path.join(ROOT, "manifests", "base", "rbac.yaml")
#: (verb, group, resource) the deploy code used, per scenario (filled by the scenario tests, checked by the last).
USED: dict[str, set[tuple[str, str, str]]] = {}


@pytest.fixture(scope="module")
def models(serving_model, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("deploy_models")
    a = serving_model["model_dir"]
    return {
        "a": a,
        "b": variant(a, str(root / "b"), "b"),
        "corrupt": corrupt(a, str(root / "corrupt")),
        "store": str(root / "store"),
        "rows": serving_model["instances"][:4],
        "predictions": serving_model["predictions"][:4],
    }


@pytest.fixture(autouse=True)
def address_overrides(live_double, monkeypatch):
    monkeypatch.setenv(smoke.ADDRESS_OVERRIDES_ENV, live_double.address_overrides_path)


def recorded(double, scenario: str, fn: Callable[[], Any]) -> Any:
    """Run deploy code, recording the permissions it used under ``scenario`` (test set-up calls are not counted)."""
    start = len(double.permissions)
    try:
        return fn()
    finally:
        USED.setdefault(scenario, set()).update(double.permissions[start:])


def _deploy(live_double, models, key: str, namespace: str, blessed: str, scenario: str = "", **kwargs):
    rows = kwargs.pop("smoke_instances", models["rows"])
    evidence = {k: kwargs.pop(k) for k in ("statistics_dir", "schema_dir") if k in kwargs}
    params = DeployParams(
        name=NAME, namespace=namespace, storage_uri=models["store"], **{"timeout_seconds": 240, **kwargs}
    )
    return recorded(live_double, scenario or namespace, lambda: logic.deploy_model(
        models[key], blessed, params, smoke_instances=rows, api_client=live_double.api_client(), **FAST,
        **evidence))  # fmt: skip


def _baseline(live_double, namespace: str) -> str | None:
    return recorded(live_double, "baseline", lambda: baseline_lib.resolve_baseline(
        NAME, namespace, api_client=live_double.api_client())).storage_uri  # fmt: skip


def _predict(live_double, url: str, rows: list[dict], name: str = NAME) -> list:
    req = urllib.request.Request(live_double.local_url(f"{url}/v1/models/{name}:predict"), method="POST",
                                 data=json.dumps({"instances": rows}).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["predictions"]


# ------------------------------------------------------------------------------------------- Knative mode


def test_first_deploy_serves_the_model_and_reapply_changes_nothing(live_double, models, blessed):
    ns = "first"
    assert _baseline(live_double, ns) is None  # "no baseline"

    result = _deploy(live_double, models, "a", ns, blessed)

    assert result.deployed and result.changed and result.mode == "knative"
    assert result.revision == "fraud-predictor-00001"
    assert result.traffic == {"fraud-predictor-00001": 100}
    assert result.url == "http://fraud.first.svc.cluster.local"  # cluster-local, not the Knative domain
    # the endpoint answers with the training pipeline's predictions for the same raw rows
    np.testing.assert_allclose(_predict(live_double, result.url, models["rows"]), models["predictions"], atol=1e-5)
    assert _baseline(live_double, ns) == result.storage_uri

    before = list(live_double.mutating_requests())
    again = _deploy(live_double, models, "a", ns, blessed)

    assert again.deployed and not again.changed and "nothing changed" in again.reason
    assert live_double.mutating_requests() == before  # no create, no patch
    assert [r["name"] for r in live_double.revisions(ns, NAME)] == ["fraud-predictor-00001"]


def test_canary_is_verified_at_0_percent_then_gets_its_share_then_everything(live_double, models, blessed):
    ns = "canary"
    first = _deploy(live_double, models, "a", ns, blessed)

    result = _deploy(live_double, models, "b", ns, blessed, canary_traffic_percent=20)

    assert result.deployed and result.revision == "fraud-predictor-00002"
    assert result.traffic == {"fraud-predictor-00002": 100}
    assert result.previous_storage_uri == first.storage_uri
    history = live_double.traffic_history[(ns, NAME)]
    zero, share = {"fraud-predictor-00002": 0, "fraud-predictor-00001": 100}, {
        "fraud-predictor-00002": 20, "fraud-predictor-00001": 80}  # fmt: skip
    assert history.index(zero) < history.index(share) < len(history) - 1  # tested before any live traffic
    assert history[-1] == {"fraud-predictor-00002": 100}
    isvc = live_double.get(ns, NAME)
    assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]
    assert isvc_lib.CANDIDATE_ANNOTATION not in isvc["metadata"]["annotations"]
    assert _baseline(live_double, ns) == result.storage_uri
    assert len(_predict(live_double, result.url, models["rows"])) == len(models["rows"])


def test_canary_that_never_becomes_ready_is_rolled_back(live_double, models, blessed):
    ns = "broken"
    first = _deploy(live_double, models, "a", ns, blessed)

    with pytest.raises(DeployError) as e:
        _deploy(live_double, models, "corrupt", ns, blessed, scenario="rollback")

    msg = str(e.value)
    assert "revision fraud-predictor-00002 failed to become ready" in msg
    assert "Cannot parse file" in msg or "exit code" in msg  # the real server's own load error
    assert "Rolled back: revision fraud-predictor-00001" in msg and "keeps 100% of traffic" in msg
    history = live_double.traffic_history[(ns, NAME)]
    assert all(split.get("fraud-predictor-00002", 0) == 0 for split in history)  # never got traffic
    isvc = live_double.get(ns, NAME)
    assert isvc_lib.traffic_of(isvc)["fraud-predictor-00001"] == 100
    assert isvc_lib.served_storage_uri(isvc) == first.storage_uri  # the spec names what is served again
    assert _baseline(live_double, ns) == first.storage_uri
    np.testing.assert_allclose(_predict(live_double, smoke.main_address(isvc), models["rows"]), models["predictions"],
                               atol=1e-5)  # fmt: skip

    # re-deploying the stable model promotes its existing (pinned at 0%) revision: no new revision
    again = _deploy(live_double, models, "a", ns, blessed)
    assert again.deployed and again.revision == "fraud-predictor-00003"
    assert again.traffic == {"fraud-predictor-00003": 100}
    assert len(live_double.revisions(ns, NAME)) == 3


def test_canary_whose_smoke_request_fails_never_gets_live_traffic(live_double, models, blessed):
    """The new model's server answers 400 to the smoke rows (a feature it does not know): roll back."""
    ns = "smoke"
    first = _deploy(live_double, models, "a", ns, blessed)
    rows = [{**r, "merchant_id": "m-1"} for r in models["rows"]]

    with pytest.raises(DeployError) as e:
        _deploy(live_double, models, "b", ns, blessed, scenario="rollback", smoke_instances=rows)

    msg = str(e.value)
    assert "smoke request to http://latest-fraud-predictor.smoke.svc.cluster.local/v1/models/fraud:predict" in msg
    assert "HTTP 400" in msg and "merchant_id" in msg
    assert "Rolled back: revision fraud-predictor-00001" in msg
    history = live_double.traffic_history[(ns, NAME)]
    assert all(split.get("fraud-predictor-00002", 0) == 0 for split in history)  # unverified: never live
    assert history[-1]["fraud-predictor-00001"] == 100
    assert _baseline(live_double, ns) == first.storage_uri
    # a later good rollout from the rolled-back state promotes normally
    ok = _deploy(live_double, models, "b", ns, blessed)
    assert ok.deployed and ok.traffic == {ok.revision: 100} and ok.storage_uri != first.storage_uri


def test_first_deploy_whose_smoke_test_fails_does_not_pass_on_a_rerun(live_double, models, blessed):
    ns = "first-smoke"
    rows = [{**r, "merchant_id": "m-1"} for r in models["rows"]]
    with pytest.raises(DeployError, match="first deploy of first-smoke/fraud failed: smoke request .*HTTP 400"):
        _deploy(live_double, models, "a", ns, blessed, smoke_instances=rows)
    with pytest.raises(DeployError, match="rollout of .* failed: smoke request .*HTTP 400"):
        _deploy(live_double, models, "a", ns, blessed, smoke_instances=rows)
    assert _deploy(live_double, models, "a", ns, blessed).deployed  # good rows: fine, nothing changed


def _leave_stale_canary(live_double, models, ns: str, key: str = "b") -> str:
    """What a deploy pod killed mid-canary leaves: the new model pushed, the canary patch applied, never finished."""
    from kubernetes import client

    params = DeployParams(name=NAME, namespace=ns, storage_uri=models["store"])
    uri = logic.versioned_storage_uri(models["store"], NAME, models[key])
    storage.push_model(models[key], uri)
    api = client.CustomObjectsApi(live_double.api_client())
    existing = api.get_namespaced_custom_object(isvc_lib.GROUP, isvc_lib.VERSION, ns, isvc_lib.PLURAL, NAME)
    patch = isvc_lib.rollout_patch(existing, isvc_lib.build_inference_service(params, uri), 10, uri)
    api.patch_namespaced_custom_object(isvc_lib.GROUP, isvc_lib.VERSION, ns, isvc_lib.PLURAL, NAME, patch)
    return uri


def _wait_for(live_double, ns: str, split: dict) -> None:
    import time

    deadline = time.monotonic() + 120
    while split not in live_double.traffic_history.get((ns, NAME), []):
        assert time.monotonic() < deadline, f"{split} never reached: {live_double.traffic_history.get((ns, NAME))}"
        time.sleep(0.1)


def test_stale_canary_of_a_killed_deploy_is_rolled_back_then_the_deploy_proceeds(live_double, models, blessed):
    ns = "stale"
    first = _deploy(live_double, models, "a", ns, blessed)
    stale_uri = _leave_stale_canary(live_double, models, ns)
    _wait_for(live_double, ns, {"fraud-predictor-00002": 10, "fraud-predictor-00001": 90})  # 10% on an unverified model
    assert _baseline(live_double, ns) == first.storage_uri  # the stable model, not the canary

    result = _deploy(live_double, models, "b", ns, blessed, scenario="stale canary")

    assert f"rolled back the unverified candidate {stale_uri}" in result.stale_resolved
    assert "rollout left behind by an earlier run was resolved" in result.markdown(NAME, ns)
    history = live_double.traffic_history[(ns, NAME)]
    canary_at = history.index({"fraud-predictor-00002": 10, "fraud-predictor-00001": 90})
    rolled_back = history[canary_at + 1]  # rolled back first (the restored spec's new revision pinned at 0%)...
    assert rolled_back["fraud-predictor-00001"] == 100 and sum(rolled_back.values()) == 100
    assert result.deployed and result.traffic == {result.revision: 100}  # ...then deployed, verified
    assert result.storage_uri == stale_uri and result.previous_storage_uri == first.storage_uri


def test_rollback_operation_and_cli_status(live_double, models, blessed, tmp_path, monkeypatch, capsys):
    ns = "undo"
    first = _deploy(live_double, models, "a", ns, blessed)
    second = _deploy(live_double, models, "b", ns, blessed)

    out = recorded(live_double, "rollback", lambda: logic.roll_back(NAME, ns, api_client=live_double.api_client(),
                                                                    poll_seconds=0.2))  # fmt: skip

    assert out["from"] == second.storage_uri and out["to"] == first.storage_uri
    assert list(out["traffic"].values()) == [100]
    assert _baseline(live_double, ns) == first.storage_uri
    # mid-canary: the stable revision keeps everything, the canary spec is gone
    _leave_stale_canary(live_double, models, ns, "b")
    _wait_for(live_double, ns, {"fraud-predictor-00004": 10, "fraud-predictor-00003": 90})
    out = recorded(live_double, "rollback", lambda: logic.roll_back(NAME, ns, api_client=live_double.api_client(),
                                                                    poll_seconds=0.2))  # fmt: skip
    assert out["to"] == first.storage_uri and out["traffic"]["fraud-predictor-00003"] == 100

    from components.deploy.__main__ import main

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": live_double.host}}],
        "users": [{"name": "deployer", "user": {"token": "not-checked"}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "deployer"}}],
    }))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert recorded(live_double, "status", lambda: main(["status", "--name", NAME, "--namespace", ns])) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["storage_uri"] == first.storage_uri and status["unfinished_rollout"] is False
    assert status["address"] == "http://fraud.undo.svc.cluster.local"
    assert main(["rollback", "--name", "nope", "--namespace", ns]) == 1
    assert "no InferenceService undo/nope to roll back" in capsys.readouterr().err


def test_the_real_server_serves_a_push_with_its_lineage_and_training_evidence(live_double, models, blessed, tmp_path):
    """evidence/ and lineage.json next to the SavedModel: the kfx server still loads it and answers smoke requests."""
    from components._shared.artifacts import model as model_layout
    from tests.deploy.conftest import evidence

    stats, schema = evidence(str(tmp_path))
    result = _deploy(live_double, models, "a", "evidence", blessed, statistics_dir=stats, schema_dir=schema)
    assert result.deployed and result.traffic == {"fraud-predictor-00001": 100}
    assert {"evidence", "lineage.json", "saved_model"} <= set(os.listdir(result.storage_uri))
    assert model_layout.read_lineage(result.storage_uri) == model_layout.read_lineage(models["a"])
    assert isvc_lib.lineage_of(live_double.get("evidence", NAME))["storage_uri"] == result.storage_uri


# ------------------------------------------------------------------------------------------- standard mode


def test_standard_mode_tests_a_candidate_before_switching_and_a_bad_one_changes_nothing(live_double, models, blessed):
    ns = "std"
    first = _deploy(live_double, models, "a", ns, blessed, scenario="standard", deployment_mode="standard")
    assert first.mode == "standard" and first.url == "http://fraud-predictor.std.svc.cluster.local"
    assert live_double.get(ns, NAME)["metadata"]["annotations"][isvc_lib.MODE_ANNOTATION] == "RawDeployment"

    second = _deploy(live_double, models, "b", ns, blessed, scenario="standard")  # auto: follows the live one

    assert second.mode == "standard" and second.storage_uri != first.storage_uri
    assert second.previous_storage_uri == first.storage_uri
    history = live_double.traffic_history[(ns, NAME)]
    # verified on the candidate, then a 10% share through spec.canary (this CRD has it), then everything
    assert history.index({first.storage_uri: 90, second.storage_uri: 10}) < history.index({second.storage_uri: 100})
    assert "canary" not in live_double.get(ns, NAME)["spec"]
    assert live_double.get(ns, "fraud-candidate") is None  # tested, then deleted
    created = [
        p for m, p in live_double.mutating_requests() if m == "POST" and f"/namespaces/{ns}/" in p and "dryRun" not in p
    ]
    assert len(created) == 2  # the main one, then the candidate
    assert _baseline(live_double, ns) == second.storage_uri
    np.testing.assert_allclose(_predict(live_double, second.url, models["rows"]), models["predictions"], atol=1e-5)

    with pytest.raises(DeployError, match="candidate fraud-candidate|failed to become ready"):
        _deploy(live_double, models, "corrupt", ns, blessed, scenario="standard", timeout_seconds=60)
    isvc = live_double.get(ns, NAME)
    assert isvc_lib.served_storage_uri(isvc) == second.storage_uri  # the main one never moved
    assert live_double.get(ns, "fraud-candidate") is None
    assert live_double.traffic_history[(ns, NAME)][-1] == {second.storage_uri: 100}

    with pytest.raises(DeployError, match="cannot change the mode of an existing InferenceService"):
        _deploy(live_double, models, "a", ns, blessed, scenario="standard", deployment_mode="knative")


def test_standard_mode_without_spec_canary_in_the_crd_switches_after_the_candidate(
    live_double, models, blessed, isvc_schema, monkeypatch
):
    """An older KServe CRD has no spec.canary: the API server prunes it, kfx sees that in a dry run and switches the
    verified model in without a share."""
    ns = "std-old"
    old_schema = json.loads(json.dumps(isvc_schema))
    del old_schema["properties"]["spec"]["properties"]["canary"]
    monkeypatch.setattr(live_double, "schema", old_schema)
    first = _deploy(live_double, models, "a", ns, blessed, scenario="standard", deployment_mode="standard")
    second = _deploy(live_double, models, "b", ns, blessed, scenario="standard")
    assert live_double.traffic_history[(ns, NAME)] == [{first.storage_uri: 100}, {second.storage_uri: 100}]


def test_standard_mode_stale_candidate_is_removed_then_the_deploy_proceeds(live_double, models, blessed):
    from kubernetes import client

    ns = "std-stale"
    _deploy(live_double, models, "a", ns, blessed, scenario="standard", deployment_mode="standard")
    params = DeployParams(name=NAME, namespace=ns, storage_uri=models["store"], deployment_mode="standard")
    leftover = isvc_lib.build_inference_service(params, "/nowhere", "standard", name="fraud-candidate")
    client.CustomObjectsApi(live_double.api_client()).create_namespaced_custom_object(
        isvc_lib.GROUP, isvc_lib.VERSION, ns, isvc_lib.PLURAL, leftover)  # fmt: skip

    result = _deploy(live_double, models, "b", ns, blessed, scenario="stale canary")

    assert "deleted the candidate InferenceService fraud-candidate" in result.stale_resolved
    assert result.deployed and live_double.get(ns, "fraud-candidate") is None


# ------------------------------------------------------------------------------------------- RBAC, processes


def role_grants() -> set[tuple[str, str, str]]:
    with open(RBAC) as f:
        (role,) = [d for d in yaml.safe_load_all(f) if d and d["kind"] == "Role"]
    return {(v, g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]}  # fmt: skip


def test_role_grants_exactly_what_the_deploy_scenarios_use():
    scenarios = {"first", "canary", "rollback", "stale canary", "standard", "baseline", "status"}
    missing = scenarios - set(USED)
    assert not missing, f"scenarios not run in this session (run the whole file): {sorted(missing)}"
    used = set().union(*USED.values())
    granted = role_grants()
    assert used - granted == set(), "used but not granted (the deploy step would get 403)"
    assert granted - used == set(), "granted but never used (least privilege: remove it from the Role)"


def test_model_servers_are_real_processes(live_double):
    procs = live_double.processes()
    assert procs and all(os.path.basename(p.args[0]).startswith("python") for p in procs)
    assert all(p.args[1:3] == ["-m", "components.serving"] for p in procs)
