"""The data checks of a window: every feature measured (drift, skew, PSI), drift found where the input mix moved,
schema anomalies in the SERVING environment, evidence written as an anomalies artifact."""

import json
import os

import pytest

from components._shared.artifacts import model as model_layout
from components.monitor.checks import check_data
from components.monitor.decision import Thresholds
from components.monitor.log_statistics import window_statistics

pytestmark = pytest.mark.unit

NUMERIC = {"account_age_days", "amount", "avg_amount_30d", "card_present", "customer_age", "day_of_week",
           "distance_from_home_km", "hour", "num_tx_last_24h"}  # fmt: skip


def _check(env, out, start, end, model_dir=None, name="c"):
    window_statistics(env["log_uri"], env["model_dir"], out(name + "-stats"), start, end)
    return check_data(
        out(name + "-stats"), model_dir or env["model_dir"], out(name), Thresholds(), html=out(name + ".html")
    )


def test_every_feature_is_measured_every_time_and_a_steady_window_passes(monitor_env, out):
    checks = _check(monitor_env, out, "2026-11-03", "2026-11-04")
    rows = {r["feature"]: r for r in checks.per_feature()}
    assert sorted(rows) == monitor_env["features"]
    for name, r in rows.items():
        assert isinstance(r["drift"], float) and isinstance(r["skew"], float), name
        assert r["measure"] in ("L_INFTY", "JENSEN_SHANNON_DIVERGENCE")
        assert (r["psi_previous"] is not None) == (name in NUMERIC), name
    assert not checks.schema_anomalies and not checks.drift_findings, [f.line() for f in checks.drift_findings]
    assert checks.max_drift < 0.2 and checks.max_skew < 0.2 and checks.max_psi < 0.25
    report = json.loads(open(out("c") + "/report.json").read())
    assert report["schema_anomaly_count"] == 0 and len(report["features"]) == len(rows)
    assert os.path.isfile(out("c") + "/anomalies.pbtxt")
    page = open(out("c.html")).read()
    assert "<script" not in page and "channel" in page and "kfx-bars" in page


def test_covariate_drift_is_found_on_the_feature_that_moved(monitor_env, out):
    checks = _check(monitor_env, out, "2026-11-04", "2026-11-05")
    assert checks.worst()["drift"] == "channel" and checks.max_drift > 0.2
    kinds = {(f.feature, f.kind, f.source) for f in checks.drift_findings}
    assert ("channel", "COMPARATOR_L_INFTY_HIGH", "drift") in kinds
    assert ("channel", "COMPARATOR_L_INFTY_HIGH", "skew") in kinds


def test_schema_anomalies_in_the_serving_environment(monitor_env, out, tmp_path):
    import shutil

    from components._shared.artifacts.schema import read_schema, write_schema

    model_dir = str(tmp_path / "model")
    shutil.copytree(monitor_env["model_dir"], model_dir)
    schema = read_schema(model_layout.evidence_schema_dir(model_dir))
    domain = next(d for d in schema.string_domain if d.name == "channel")
    domain.value.remove("online")  # the served data now has a channel value the schema does not know
    write_schema(schema, model_layout.evidence_schema_dir(model_dir))
    checks = _check(monitor_env, out, "2026-11-03", "2026-11-04", model_dir)
    found = {(f.feature, f.kind) for f in checks.schema_anomalies}
    assert ("channel", "ENUM_TYPE_UNEXPECTED_STRING_VALUES") in found
    assert not any(f.feature == "is_fraud" for f in checks.schema_anomalies)  # the label is never logged: fine


def test_without_training_evidence_drift_is_still_measured_and_the_gap_is_said(monitor_env, out, tmp_path):
    model_dir = str(tmp_path / "bare")
    model_layout.write_model_meta(model_dir, {"label_key": "is_fraud"})
    checks = _check(monitor_env, out, "2026-11-03", "2026-11-04", model_dir)
    assert checks.drift and not checks.skew and not checks.schema_anomalies
    assert any("no training statistics" in n for n in checks.notes)
    assert any("no schema" in n for n in checks.notes)
