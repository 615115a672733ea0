"""The monitoring pipeline under kfp.local on a real prediction log: a trained kfx model (with its training evidence)
scores simulated days of card transactions, logged by the real PredictionLogWriter, labels joined by request id."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from components.datagen.fraud import LABEL
from components.datagen.stream import day_table
from pipelines import rundir
from pipelines.monitoring import STEPS
from pipelines.monitoring_local import monitor_in_process, retrain_locally, run_monitoring
from tests.testdata.monitoring import log_day, served_model, write_labels

pytestmark = pytest.mark.local

ROWS = 1000
#: day -> (scenario, simulated day of the stream); the shift starts on stream day 10
DAYS = {0: ("none", 0), 1: ("none", 1), 2: ("covariate", 12), 3: ("concept", 14)}
FEATURES = ["account_age_days", "amount", "avg_amount_30d", "card_present", "channel", "country", "customer_age",
            "day_of_week", "device_type", "distance_from_home_km", "hour", "merchant_category", "num_tx_last_24h"]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("monitoring")
    model_dir = served_model(str(base / "chain"))
    log_uri, labels = str(base / "log"), str(base / "labels.csv")
    for n, (scenario, stream_day) in DAYS.items():
        df = day_table(stream_day, ROWS, scenario, shift_day=10, seed=3)
        ids = log_day(log_uri, model_dir, df, datetime(2026, 11, 1 + n, tzinfo=UTC), f"d{n}")
        write_labels(labels, ids, df[LABEL])
    return {"base": str(base), "model_uri": model_dir, "log_uri": log_uri, "labels_uri": labels}


def _run(served, day: int, name: str, run=run_monitoring):
    return run(
        os.path.join(served["base"], name),
        log_uri=served["log_uri"],
        model_uri=served["model_uri"],
        labels_uri=served["labels_uri"],
        window_start=f"2026-11-0{1 + day}T00:00:00Z",
        window_end=f"2026-11-0{2 + day}T00:00:00Z",
        slice_features=["channel"],
        tau=0.75,
        calibration_hours=24,
    )


def _metrics(run, task: str) -> dict:
    return rundir.output_artifacts(run.run_dir, task)["metrics"]["metadata"]


def _assert_published(run):
    assert run.succeeded, run.error
    assert all(rundir.succeeded(run.run_dir, step) for step in STEPS)
    d = run.decision
    assert [f["feature"] for f in d["data"]["features"]] == FEATURES  # every feature, every time
    assert all(isinstance(f["drift"], float) and isinstance(f["skew"], float) for f in d["data"]["features"])
    with open(run.report) as f:
        page = f.read()
    assert "<script" not in page and "kfx monitoring: decision" in page
    checks = _metrics(run, "monitor-checks")
    decide = _metrics(run, "monitor-decide")
    assert set(checks) >= {"max_drift", "max_skew", "max_psi", "schema_anomalies"}
    assert decide["retrain"] == float(d["retrain"]) and decide["rows"] == ROWS
    assert decide["realised_auc"] == pytest.approx(d["quality"]["overall"]["realised"]["auc"])
    return page


def test_a_drifted_window_calls_for_retraining_with_the_reason(served):
    run = _run(served, 2, "drifted")
    page = _assert_published(run)
    d = run.decision
    assert d["retrain"] is True and "RETRAIN" in page
    assert any(r.startswith("input drift") and "`channel`" in r for r in d["reasons"]), d["reasons"]
    assert d["model"]["uri"] == served["model_uri"] and d["model"]["source"] == "model_uri"
    assert d["calibration"]["method"] == "isotonic calibration"  # day 1's labelled predictions of the same model
    with open(run.artifacts["retrain/report"]) as f:
        assert "retrain_locally" in f.read()  # off a cluster the trigger cannot submit, and says how to go on
    assert rundir.output_artifacts(run.run_dir, "retrain")["report"]["metadata"] == {"submitted": False, "run_id": ""}
    # the in-process driver (for long simulations) reaches the same decision from the same logic
    in_process = _run(served, 2, "drifted-in-process", monitor_in_process)
    same = in_process.decision
    assert (same["retrain"], same["reasons"], same["quality"]) == (d["retrain"], d["reasons"], d["quality"])
    assert same["data"]["features"] == d["data"]["features"] and os.path.isfile(in_process.report)


def test_concept_drift_is_seen_by_the_labels_not_by_the_estimate(served):
    """The fraud pattern changed (skimming): only labels reveal it; realised quality decides when they are there."""
    d = _run(served, 3, "concept", monitor_in_process).decision
    overall = d["quality"]["overall"]
    assert overall["labelled"] == ROWS and overall["realised"]["auc"] < 0.75 < overall["estimated"]["auc"]
    assert d["retrain"] and d["reasons"][0].startswith(f"realised auc {overall['realised']['auc']:.3f} < tau 0.750")


@pytest.mark.slow
def test_a_steady_window_keeps_the_model(served):
    run = _run(served, 1, "steady")
    _assert_published(run)
    d = run.decision
    assert d["retrain"] is False and d["reasons"] == [], d["reasons"]
    assert d["quality"]["overall"]["realised"]["auc"] > 0.75
    assert retrain_locally(run.decision_dir, root=os.path.join(served["base"], "no-retrain")) is None


@pytest.mark.slow
def test_retrain_locally_trains_on_fresh_data_against_the_production_model(served, tmp_path):
    from components.datagen.fraud import write_csv

    run = _run(served, 2, "drifted-retrain")
    assert run.retrain
    fresh = write_csv(str(tmp_path / "fresh.csv"), n_rows=4000, seed=11)
    summary = retrain_locally(run.decision_dir, root=str(tmp_path / "runs"), data_uri=fresh,
                              baseline_model_uri=served["model_uri"], epochs=5)  # fmt: skip
    assert summary.succeeded, summary.error
    assert summary.baseline == served["model_uri"] and summary.blessed is not None
    with open(tmp_path / "runs" / "retrain-decision.json") as f:
        assert json.load(f)["reasons"] == run.decision["reasons"]


@pytest.mark.slow
def test_a_failing_decision_still_publishes_the_data_checks(served, tmp_path, capsys):
    from pipelines import cli

    bad = tmp_path / "labels.csv"
    bad.write_text("request_id,label\nd1-0,3\n")  # not a binary label: the decision step fails on it
    argv = ["run", "--pipeline", "monitoring", "--param", f"root={tmp_path / 'runs'}"]
    for key, value in (("log_uri", served["log_uri"]), ("model_uri", served["model_uri"]), ("labels_uri", bad),
                       ("window_start", "2026-11-02T00:00:00Z"), ("window_end", "2026-11-03T00:00:00Z")):  # fmt: skip
        argv += ["--param", f"{key}={value}"]
    assert cli.main(argv) == 1
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["succeeded"] is False and out["failed_step"] == "monitor-decide" and "monitor-decide" in out["error"]
    assert rundir.succeeded(out["run_dir"], "monitor-checks") and not rundir.succeeded(out["run_dir"], "monitor-decide")
    report = json.loads(open(os.path.join(out["run_dir"], "monitor-checks", "anomalies", "report.json")).read())
    assert [f["feature"] for f in report["features"]] == FEATURES
