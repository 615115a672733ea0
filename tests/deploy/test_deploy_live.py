"""Deploy end to end against KubeApiTestDouble (a test double of the Kubernetes API, not a cluster) whose simulated
controller starts REAL kfx model servers (``.venv-serving``) for each revision, on a real small trained model.

Server starts are the cost (TensorFlow load, ~5-30 s each on this machine): every test uses the InferenceService
name ``fraud`` in its own namespace, so revisions of the same model dir share one server process. Model
processes started in the whole file: the model (A), a variant (B) and a corrupt copy that exits at load.
"""

from __future__ import annotations

import json
import os
import urllib.request

import numpy as np
import pytest

from components.deploy import logic
from components.deploy.logic import DeployError, deploy_model, resolve_baseline
from tests.deploy.conftest import corrupt, variant

pytestmark = pytest.mark.unit

NAME = "fraud"
FAST = {"poll_seconds": 0.2, "timeout_seconds": 240}


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


def _deploy(live_double, models, key: str, namespace: str, blessed: str, **kwargs) -> logic.DeployResult:
    uri = logic.versioned_storage_uri(models["store"], NAME, models[key])
    args = {"smoke_instances": models["rows"], **FAST, **kwargs}
    return deploy_model(models[key], blessed, NAME, namespace, uri, api_client=live_double.api_client(), **args)


def _predict(url: str, rows: list[dict]) -> list:
    req = urllib.request.Request(f"{url}/v1/models/{NAME}:predict", data=json.dumps({"instances": rows}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["predictions"]


def test_first_deploy_serves_the_model_and_reapply_changes_nothing(live_double, models, blessed):
    ns = "first"
    assert resolve_baseline(NAME, ns, api_client=live_double.api_client()) is None  # "no baseline"

    result = _deploy(live_double, models, "a", ns, blessed)

    assert result.deployed and result.changed
    assert result.revision == "fraud-predictor-00001"
    assert result.traffic == {"fraud-predictor-00001": 100}
    assert result.url.startswith("http://127.0.0.1:")
    # the endpoint answers with the training pipeline's predictions for the same raw rows
    np.testing.assert_allclose(_predict(result.url, models["rows"]), models["predictions"], atol=1e-5)
    assert resolve_baseline(NAME, ns, api_client=live_double.api_client()) == result.storage_uri

    before = list(live_double.mutating_requests())
    again = _deploy(live_double, models, "a", ns, blessed)

    assert again.deployed and not again.changed and "nothing changed" in again.reason
    assert live_double.mutating_requests() == before  # no create, no patch
    assert [r["name"] for r in live_double.revisions(ns, NAME)] == ["fraud-predictor-00001"]


def test_canary_then_promote(live_double, models, blessed):
    ns = "canary"
    first = _deploy(live_double, models, "a", ns, blessed)

    result = _deploy(live_double, models, "b", ns, blessed, canary_traffic_percent=20)

    assert result.deployed and result.revision == "fraud-predictor-00002"
    assert result.traffic == {"fraud-predictor-00002": 100}
    assert result.previous_storage_uri == first.storage_uri
    history = live_double.traffic_history[(ns, NAME)]
    # the new revision got its canary share next to the stable one before it got everything
    assert {"fraud-predictor-00002": 20, "fraud-predictor-00001": 80} in history
    assert history.index({"fraud-predictor-00002": 20, "fraud-predictor-00001": 80}) < len(history) - 1
    assert history[-1] == {"fraud-predictor-00002": 100}
    isvc = live_double.get(ns, NAME)
    assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]
    assert resolve_baseline(NAME, ns, api_client=live_double.api_client()) == result.storage_uri
    assert len(_predict(result.url, models["rows"])) == len(models["rows"])


def test_canary_that_never_becomes_ready_is_rolled_back(live_double, models, blessed):
    ns = "broken"
    first = _deploy(live_double, models, "a", ns, blessed)

    with pytest.raises(DeployError) as e:
        _deploy(live_double, models, "corrupt", ns, blessed)

    msg = str(e.value)
    assert "revision fraud-predictor-00002 failed to become ready" in msg
    assert "Cannot parse file" in msg or "exit code" in msg  # the real server's own load error
    assert "Rolled back: revision fraud-predictor-00001" in msg and "keeps 100% of traffic" in msg
    history = live_double.traffic_history[(ns, NAME)]
    assert all(split.get("fraud-predictor-00002", 0) == 0 for split in history)  # never got traffic
    isvc = live_double.get(ns, NAME)
    assert logic.traffic_of(isvc)["fraud-predictor-00001"] == 100
    assert logic.served_storage_uri(isvc) == first.storage_uri  # the spec names what is served again
    assert resolve_baseline(NAME, ns, api_client=live_double.api_client()) == first.storage_uri
    np.testing.assert_allclose(_predict(isvc["status"]["url"], models["rows"]), models["predictions"], atol=1e-5)

    # re-deploying the stable model promotes its existing (pinned at 0%) revision: no new revision
    again = _deploy(live_double, models, "a", ns, blessed)
    assert again.deployed and again.revision == "fraud-predictor-00003"
    assert again.traffic == {"fraud-predictor-00003": 100}
    assert len(live_double.revisions(ns, NAME)) == 3


def test_canary_whose_smoke_request_fails_is_rolled_back(live_double, models, blessed):
    """The new model's server answers 400 to the smoke rows (a feature it does not know): roll back."""
    ns = "smoke"
    first = _deploy(live_double, models, "a", ns, blessed)
    rows = [{**r, "merchant_id": "m-1"} for r in models["rows"]]

    with pytest.raises(DeployError) as e:
        _deploy(live_double, models, "b", ns, blessed, smoke_instances=rows)

    msg = str(e.value)
    assert "smoke request to http://127.0.0.1:" in msg and "HTTP 400" in msg and "merchant_id" in msg
    assert "Rolled back: revision fraud-predictor-00001" in msg
    history = live_double.traffic_history[(ns, NAME)]
    assert {"fraud-predictor-00002": 10, "fraud-predictor-00001": 90} in history  # it was a live canary
    assert history[-1]["fraud-predictor-00001"] == 100
    assert resolve_baseline(NAME, ns, api_client=live_double.api_client()) == first.storage_uri
    # a later good rollout from the rolled-back state promotes normally
    ok = _deploy(live_double, models, "b", ns, blessed)
    assert ok.deployed and ok.traffic == {ok.revision: 100} and ok.storage_uri != first.storage_uri


def test_first_deploy_whose_smoke_test_fails_does_not_pass_on_a_rerun(live_double, models, blessed):
    ns = "first-smoke"
    rows = [{**r, "merchant_id": "m-1"} for r in models["rows"]]
    with pytest.raises(DeployError, match="first deploy of first-smoke/fraud failed: smoke request .*HTTP 400"):
        _deploy(live_double, models, "a", ns, blessed, smoke_instances=rows)
    with pytest.raises(DeployError, match="already serves .* but smoke request .*HTTP 400"):
        _deploy(live_double, models, "a", ns, blessed, smoke_instances=rows)
    assert _deploy(live_double, models, "a", ns, blessed).deployed  # good rows: fine, nothing changed


def test_model_servers_are_real_processes(live_double):
    procs = live_double.processes()
    assert procs and all(os.path.basename(p.args[0]).startswith("python") for p in procs)
    assert all(p.args[1:3] == ["-m", "components.serving"] for p in procs)
    assert live_double.server_starts <= 3
