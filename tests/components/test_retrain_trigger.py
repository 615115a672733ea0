"""The retraining trigger submits the uploaded train_and_deploy pipeline through the REAL kfp.Client 2.13, against the
KFP API test double (tests/doubles/kfp_api.py); it submits nothing when the decision says no."""

import json
import os
import subprocess
import sys

import pytest

from components._shared.artifacts.decision import write_decision
from components.monitor.retrain import RetrainError, trigger_retraining
from pipelines import cli
from tests.doubles.kfp_api import KfpApiDouble

pytestmark = pytest.mark.components

WINDOW = {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z", "rows": 900, "labelled": 300}


@pytest.fixture
def api():
    double = KfpApiDouble().start()
    yield double
    double.stop()


def _decision(tmp_path, retrain: bool) -> str:
    reasons = ["realised auc 0.712 < tau 0.800 on 300 labelled rows"] if retrain else []
    record = {"retrain": retrain, "reasons": reasons, "observations": ["estimated auc 0.91 >= tau"], "window": WINDOW}
    d = tmp_path / "decision"
    write_decision(str(d), record, "<html></html>")
    return str(d)


def _upload(api, *versions: str) -> None:
    """``kfx upload`` as a user runs it: the first creates the pipeline (KFP names its first version after it)."""
    for version in ("first", *versions):
        assert cli.main(["upload", "--host", api.host, "--pipeline", "train_and_deploy", "--version", version]) == 0


def test_retrain_submits_the_named_version_with_fresh_data_arguments(api, tmp_path, capsys):
    _upload(api, "0.1.0-aaa", "0.1.0-bbb")
    arguments = {"data_uri": "s3://bucket/labelled/{window_end_date}.csv", "epochs": 5, "model_name": "fraud"}
    result = trigger_retraining(_decision(tmp_path, True), arguments, host=api.host, version="0.1.0-aaa")
    assert result.submitted and result.run_id
    (post,) = api.calls("POST", "/apis/v2beta1/runs")
    pid = next(iter(api.pipelines))
    versions = {v["display_name"]: v["pipeline_version_id"] for v in api.versions[pid]}
    assert post.body["pipeline_version_reference"] == {"pipeline_id": pid, "pipeline_version_id": versions["0.1.0-aaa"]}
    assert api.pipelines[pid]["display_name"] == "kfx-train-and-deploy"
    assert post.body["runtime_config"]["parameters"] == {
        "data_uri": "s3://bucket/labelled/2026-11-21.csv", "epochs": 5, "model_name": "fraud"
    }  # fmt: skip
    assert "pipeline_spec" not in post.body  # the uploaded version runs, not a package from this machine
    assert post.body["display_name"] == "kfx retrain 2026-11-21T00:00:00Z"
    assert "realised auc 0.712 < tau" in result.message and "0.1.0-aaa" in result.message


def test_retrain_takes_the_newest_version_by_default(api, tmp_path):
    _upload(api, "0.1.0-aaa", "0.1.0-bbb")
    result = trigger_retraining(_decision(tmp_path, True), {}, host=api.host)
    assert result.details["version"] == "0.1.0-bbb"


def test_no_retraining_submits_nothing(api, tmp_path):
    _upload(api, "0.1.0-aaa")
    before = len(api.requests)
    result = trigger_retraining(_decision(tmp_path, False), {"data_uri": "x"}, host=api.host)
    assert not result.submitted and result.message.startswith("no retraining")
    assert len(api.requests) == before  # not even a connection


def test_missing_pipeline_or_version_is_a_clear_error(api, tmp_path):
    decision = _decision(tmp_path, True)
    with pytest.raises(RetrainError, match="no pipeline named 'kfx-train-and-deploy'.*kfx upload"):
        trigger_retraining(decision, {}, host=api.host)
    _upload(api, "0.1.0-aaa")
    with pytest.raises(RetrainError, match="no version '9.9.9' \\(have: kfx-train-and-deploy, 0.1.0-aaa\\)"):
        trigger_retraining(decision, {}, host=api.host, version="9.9.9")
    assert api.calls("POST", "/apis/v2beta1/runs") == []


def test_unreachable_or_unauthorised_host_says_which(tmp_path):
    double = KfpApiDouble(token="secret").start()
    try:
        with pytest.raises(RetrainError, match="unauthorised"):
            trigger_retraining(_decision(tmp_path, True), {}, host=double.host)
    finally:
        double.stop()
    with pytest.raises(RetrainError, match="unreachable"):
        trigger_retraining(_decision(tmp_path, True), {}, host=double.host)


def test_off_cluster_without_a_host_the_trigger_says_how_to_retrain_locally(tmp_path, monkeypatch):
    monkeypatch.delenv("KFX_KFP_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = trigger_retraining(_decision(tmp_path, True), {})
    assert not result.submitted and "retrain_locally" in result.message
    assert json.loads((tmp_path / "decision" / "decision.json").read_text())["retrain"] is True


def test_retrain_submits_from_inside_a_pipeline_step(api, tmp_path):
    """A KFP step runs with _KFP_RUNTIME=true, under which ``kfp`` exports no Client (found by the rehearsal)."""
    _upload(api, "0.1.0-aaa")
    code = ("import sys; from components.monitor.retrain import trigger_retraining; "
            "print('RUN', trigger_retraining(sys.argv[1], {}, host=sys.argv[2]).run_id)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, _decision(tmp_path, True), api.host], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "_KFP_RUNTIME": "true"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (post,) = api.calls("POST", "/apis/v2beta1/runs")
    run_id = proc.stdout.split("RUN ", 1)[1].split()[0]
    assert run_id in api.runs and post.body["display_name"].startswith("kfx retrain")
