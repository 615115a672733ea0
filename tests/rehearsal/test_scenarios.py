"""The cluster rehearsal's scenarios, on the COMMITTED compiled train_and_deploy.yaml and monitoring.yaml
(see tests/rehearsal/cluster.py).

(a) fresh data deploys; (b) a second run evaluates against the served model as baseline and rolls out;
(c) a worse candidate is NOT blessed and nothing changes in the cluster; (e) a deploy killed mid-canary is
resolved by the next run — one cluster history, in that order (each run takes minutes: `make rehearse` /
`make test-all`); (f) after (a), the committed monitoring.yaml on the served model: a steady window submits
nothing, a drifted one decides retrain and submits train_and_deploy to the KFP API test double; (d) a batch with a missing column stops at the gate with its anomalies report published
(its own cluster; also in `make test`).
"""

from __future__ import annotations

import pytest

from tests.rehearsal import scenarios as sc
from tests.rehearsal.cluster import NAMESPACE, Rehearsal

pytestmark = pytest.mark.rehearsal


@pytest.fixture(scope="module")
def history(isvc_schema, tmp_path_factory):
    """One rehearsed cluster for the chained scenarios a -> b -> c -> e, and a place for their facts."""
    with Rehearsal(isvc_schema=isvc_schema) as r:
        yield {"rehearsal": r, "data": tmp_path_factory.mktemp("data"), "facts": {}}


def _needs(history: dict, fact: str) -> object:
    if fact not in history["facts"]:
        pytest.fail(f"this scenario starts from the cluster state of an earlier one, which did not reach it ({fact})")
    return history["facts"][fact]


def _deployed(run, rehearsal) -> dict:  # noqa: ANN001
    assert run.succeeded, run.summary()
    assert run.output("deploy", "deployed") is True, run.summary(logs_of=("evaluate", "deploy"))
    isvc = sc.served(rehearsal)
    assert isvc is not None, "deploy reported success but there is no InferenceService"
    uri = sc.storage_uri_of(isvc)
    assert uri.startswith(f"{sc.STORAGE_URI}/{sc.MODEL_NAME}/"), uri
    assert rehearsal.s3.exists(uri.rstrip("/") + "/saved_model/saved_model.pb"), f"nothing pushed at {uri}"
    if sc.traffic(isvc):  # Knative: one revision takes all the traffic
        live = [t for t in sc.traffic(isvc) if t["percent"] > 0]
        assert [t["percent"] for t in live] == [100], sc.traffic(isvc)
    else:  # Standard (RawDeployment) has no traffic split: no canary left in the spec, and the service is Ready
        assert not isvc["spec"]["predictor"].get("canaryTrafficPercent"), isvc["spec"]["predictor"]
        conditions = {c["type"]: c["status"] for c in isvc.get("status", {}).get("conditions", [])}
        assert conditions.get("Ready") == "True", conditions
    assert uri in rehearsal.kube.downloads  # KServe's storage initializer fetched the pushed model from S3
    return isvc


@pytest.mark.slow
def test_a_fresh_data_deploys(history):
    r = history["rehearsal"]
    data = sc.put_data(r, sc.generate_csv(str(history["data"] / "fresh.csv"), seed=1))
    run = sc.train_and_deploy(r, data)
    isvc = _deployed(run, r)
    history["facts"]["first"] = sc.storage_uri_of(isvc)


@pytest.mark.slow
def test_b_second_run_uses_the_served_model_as_baseline_and_rolls_out(history):
    r = history["rehearsal"]
    first = _needs(history, "first")
    data = sc.put_data(r, sc.generate_csv(str(history["data"] / "second.csv"), seed=2))
    run = sc.train_and_deploy(r, data)
    isvc = sc.served(r)
    if run.succeeded and isvc is not None and sc.storage_uri_of(isvc) != first:
        history["facts"]["second"] = sc.storage_uri_of(isvc)  # later scenarios start from here either way

    assert run.state("resolve-baseline") == "SUCCEEDED", (
        "resolve-baseline must run on every run (KFP's cache would hand it the previous run's answer): " + run.summary()
    )
    blessing = run.output("evaluate", "blessing")
    assert blessing.metadata.get("baseline"), f"evaluate had no baseline: {blessing.metadata}\n{run.summary()}"
    assert first.rstrip("/") in str(blessing.metadata["baseline"]), (blessing.metadata, first)
    isvc = _deployed(run, r)
    assert sc.storage_uri_of(isvc) != first  # the new model rolled out


@pytest.mark.slow
def test_c_worse_candidate_is_not_blessed_and_nothing_changes(history, tmp_path):
    r = history["rehearsal"]
    serving = _needs(history, "second")
    before = sc.served(r)
    good = sc.generate_csv(str(tmp_path / "good.csv"), seed=3)
    data = sc.put_data(r, sc.rewrite_csv(good, str(tmp_path / "shuffled-labels.csv"), shuffle_labels=True))
    run = sc.train_and_deploy(r, data)

    assert run.tasks["evaluate"].state == "SUCCEEDED", run.summary()
    assert run.output("evaluate", "blessed") is False, run.summary(logs_of=("evaluate",))
    assert run.state("deploy") in ("SUCCEEDED", "SKIPPED"), run.summary()
    if run.state("deploy") == "SUCCEEDED":
        assert run.output("deploy", "deployed") is False
    after = sc.served(r)
    assert sc.storage_uri_of(after) == serving
    assert after["metadata"]["generation"] == before["metadata"]["generation"]  # no write reached the cluster
    assert sc.traffic(after) == sc.traffic(before)


@pytest.mark.slow
def test_e_deploy_killed_mid_canary_is_resolved_by_the_next_run(history, tmp_path):
    r = history["rehearsal"]
    serving = _needs(history, "second")
    data = sc.put_data(r, sc.generate_csv(str(tmp_path / "third.csv"), seed=4))
    killed = sc.train_and_deploy(r, data, kill_when={"deploy": lambda: sc.rollout_in_progress(r, serving)})

    assert killed.state("deploy") == "FAILED" and killed.tasks["deploy"].killed, killed.summary()
    stale = sc.served(r)
    assert sc.storage_uri_of(stale) != serving  # the killed deploy left an unverified model in the spec ...
    assert stale["spec"]["predictor"].get("canaryTrafficPercent") not in (None, 100)  # ... mid-canary

    again = sc.train_and_deploy(r, data)  # the same data: KFP's cache reuses ingest..evaluate, deploy runs again
    isvc = _deployed(again, r)
    assert isvc["spec"]["predictor"].get("canaryTrafficPercent") in (None, 100), isvc["spec"]["predictor"]
    assert sc.storage_uri_of(isvc) != serving  # the new model, verified this time


@pytest.mark.slow
def test_f_monitoring_retrains_on_drift_through_the_kfp_api(history, tmp_path):
    """The committed monitoring.yaml on the served model: a steady window submits nothing; a drifted one decides
    retrain (reasons name a feature) and submits train_and_deploy through the real kfp.Client (KFP API double)."""
    from pipelines import cli
    from tests.doubles.kfp_api import KfpApiDouble

    r = history["rehearsal"]
    _needs(history, "first")
    isvc = sc.served(r)
    model_uri = sc.storage_uri_of(isvc).rstrip("/")
    for part in ("evidence/statistics", "evidence/schema", "lineage.json"):
        assert r.s3.exists(f"{model_uri}/{part}"), f"deploy pushed no {part} with {model_uri}"
    revision = isvc.get("status", {}).get("components", {}).get("predictor", {}).get("latestReadyRevision", "")
    days = sc.put_prediction_log(r, str(tmp_path), revision)
    api = KfpApiDouble().start()
    try:
        for version in ("first", "0.1.0-rehearsal"):
            assert cli.main(["upload", "--host", api.host, "--pipeline", "train_and_deploy", "--version", version]) == 0
        common = {"kfp_host": api.host, "train_pipeline_version": "0.1.0-rehearsal"}
        steady = sc.monitoring(r, days[2], days[3], **common)
        drifted = sc.monitoring(r, days[3], sc.log_day(4), **common)
    finally:
        api.stop()

    assert steady.succeeded, steady.summary()
    assert steady.output("monitor-decide", "Output") is False, steady.summary(logs_of=("monitor-decide",))
    assert steady.output("retrain", "Output") == "", steady.summary(logs_of=("retrain",))

    assert drifted.succeeded, drifted.summary()
    model = drifted.output("monitor-model", "model")
    assert model.uri.rstrip("/") == model_uri and model.metadata["found_from"] == f"{NAMESPACE}/{sc.MODEL_NAME}"
    decision = drifted.output("monitor-decide", "decision")
    record = sc.s3_json(r, f"{decision.uri.rstrip('/')}/decision.json")
    assert record["retrain"] is True, record
    assert record["window"]["labelled"] == sc.LOG_ROWS, record["window"]  # the late labels were read from s3://
    assert any("(feature `" in reason for reason in record["reasons"]), record["reasons"]
    assert r.s3.exists(drifted.output("monitor-decide", "report").uri), "no monitoring report published"
    metrics = drifted.output("monitor-decide", "metrics").metadata
    assert metrics.get("retrain") == 1.0 and metrics, metrics
    run_id = drifted.output("retrain", "Output")
    (post,) = api.calls("POST", "/apis/v2beta1/runs")  # one submission: the drifted window's, none from the steady
    pid = next(iter(api.pipelines))
    versions = {v["display_name"]: v["pipeline_version_id"] for v in api.versions[pid]}
    assert post.body["pipeline_version_reference"] == {
        "pipeline_id": pid,
        "pipeline_version_id": versions["0.1.0-rehearsal"],
    }
    assert post.body["runtime_config"]["parameters"]["data_uri"] == f"{sc.DATA_PREFIX}/{sc.log_day(4)[:10]}.csv"
    assert post.body["runtime_config"]["parameters"]["model_name"] == sc.MODEL_NAME
    assert run_id in api.runs, (run_id, list(api.runs))


def test_d_missing_column_stops_at_the_gate_with_the_report_published(isvc_schema, tmp_path):
    with Rehearsal(isvc_schema=isvc_schema) as r:
        good = sc.generate_csv(str(tmp_path / "good.csv"), seed=5)
        data = sc.put_data(r, sc.rewrite_csv(good, str(tmp_path / "no-amount.csv"), drop_column="amount"))
        run = sc.train_and_deploy(r, data, schema_uri=sc.put_schema(r))

        assert run.state("validate") == "SUCCEEDED", "validate must publish its evidence: " + run.summary()
        assert run.state("gate") == "FAILED", run.summary()
        assert "amount" in run.tasks["gate"].log, run.summary(logs_of=("gate",))
        for step in ("transform", "train", "evaluate", "deploy"):
            assert run.state(step) == "SKIPPED", run.summary()
        anomalies = run.output("validate", "anomalies")
        assert r.s3.keys(anomalies.uri), f"no anomalies report at {anomalies.uri}"
        assert "amount" in sc.s3_text(r, anomalies.uri)
        assert sc.served(r) is None  # nothing reached the cluster


def _standard_first_deploy(r, tmp_path) -> dict:  # noqa: ANN001
    first_data = sc.put_data(r, sc.generate_csv(str(tmp_path / "s1.csv"), seed=6))
    first = _deployed(sc.train_and_deploy(r, first_data, deployment_mode="standard"), r)
    annotations = first["metadata"].get("annotations") or {}
    assert annotations.get("serving.kserve.io/deploymentMode") in ("RawDeployment", "Standard"), annotations
    return first


@pytest.mark.slow
def test_standard_mode_deploys(isvc_schema, tmp_path):
    """KServe's Standard (RawDeployment) mode: a first model is tested on a candidate, then served."""
    with Rehearsal(isvc_schema=isvc_schema) as r:
        _standard_first_deploy(r, tmp_path)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known gap of the rehearsal, not of deploy: its Kubernetes API double never readies a spec.canary "
    "component, so the second rollout waits out its 600 s and rolls back (tests/deploy covers spec.canary against "
    "the plain double). Strict: an XPASS means the gap is closed and this mark must go.",
)
def test_standard_mode_rolls_out_through_spec_canary(isvc_schema, tmp_path):
    """A second model replaces the first only verified: candidate, then spec.canary, then the main one."""
    with Rehearsal(isvc_schema=isvc_schema) as r:
        first = _standard_first_deploy(r, tmp_path)
        second_data = sc.put_data(r, sc.generate_csv(str(tmp_path / "s2.csv"), seed=7))
        second = _deployed(sc.train_and_deploy(r, second_data, deployment_mode="standard"), r)
        assert sc.storage_uri_of(second) != sc.storage_uri_of(first)
