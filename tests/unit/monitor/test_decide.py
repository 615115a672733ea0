"""The decision step on a real log: quality overall and per slice, CBPE calibrated on the model's own labelled
predictions before the window, the decision artifact and its report."""

import pytest

from components._shared.artifacts.decision import read_decision, write_decision
from components.monitor.checks import check_data
from components.monitor.decision import Thresholds
from components.monitor.log_statistics import window_statistics
from components.monitor.logic import MonitoringError, decide_window
from tests.unit.monitor.conftest import ROWS

pytestmark = pytest.mark.unit


DEFAULT = Thresholds()


def _decide(env, out, start, end, thresholds=DEFAULT, labels=True, **kw):
    window_statistics(env["log_uri"], env["model_dir"], out("stats"), start, end)
    check_data(out("stats"), env["model_dir"], out("anomalies"), thresholds)
    return decide_window(env["log_uri"], start, end, out("anomalies"), out("decision"), thresholds,
                         env["labels_uri"] if labels else "", ["channel"], model={"uri": env["model_dir"]},
                         html_path=out("report.html"), **kw)  # fmt: skip


def test_a_healthy_window_keeps_the_model_and_says_why(monitor_env, out):
    result = _decide(monitor_env, out, "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z", calibration_hours=24)
    d = read_decision(out("decision"))
    assert d["retrain"] is False and d["reasons"] == [] and result.decision.retrain is False
    assert any(o.startswith("realised auc") for o in d["observations"])
    assert d["window"] == {"start": "2026-11-03T00:00:00Z", "end": "2026-11-04T00:00:00Z", "rows": ROWS,
                           "labelled": ROWS, "realised_from": "2026-11-03T00:00:00Z"}  # fmt: skip
    overall = d["quality"]["overall"]
    assert overall["realised"]["auc"] > 0.9 and abs(overall["estimated"]["auc"] - overall["realised"]["auc"]) < 0.03
    assert {s["slice"] for s in d["quality"]["slices"]} >= {"channel=online", "channel=pos"}
    assert d["calibration"]["method"] == "isotonic calibration" and d["calibration"]["rows"] == ROWS  # day 2's labels
    assert len(d["data"]["features"]) == len(monitor_env["features"])
    assert all(isinstance(v, float) for v in result.metrics.values()) and result.metrics["retrain"] == 0.0
    page = open(out("report.html")).read()
    assert "No retraining" in page and "<script" not in page and "channel=online" in page
    assert page == open(out("decision") + "/decision.html").read()


def test_covariate_drift_retrains_naming_the_feature(monitor_env, out):
    result = _decide(monitor_env, out, "2026-11-04T00:00:00Z", "2026-11-05T00:00:00Z")
    assert result.decision.retrain
    assert "input drift" in result.decision.reasons[0] and "(feature `channel`)" in result.decision.reasons[0]
    page = open(out("report.html")).read()
    assert "RETRAIN" in page


def test_without_labels_the_estimate_decides(monitor_env, out):
    strict = Thresholds(tau=0.995, retrain_on_drift=False)
    result = _decide(monitor_env, out, "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z", strict, labels=False)
    d = read_decision(out("decision"))
    assert d["window"]["labelled"] == 0 and d["quality"]["overall"]["realised"] == {}
    assert result.decision.retrain and result.decision.reasons[0].startswith("estimated auc")
    assert d["calibration"]["method"] == "raw probabilities"  # no label has arrived: nothing to calibrate on


def test_an_empty_window_and_a_bad_decision_are_clear_errors(monitor_env, out, tmp_path):
    window_statistics(monitor_env["log_uri"], monitor_env["model_dir"], out("stats"), "2026-11-03", "2026-11-04")
    check_data(out("stats"), monitor_env["model_dir"], out("anomalies"), Thresholds())
    with pytest.raises(MonitoringError, match="no prediction was logged"):
        decide_window(monitor_env["log_uri"], "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", out("anomalies"),
                      out("d"), Thresholds())  # fmt: skip
    with pytest.raises(ValueError, match="boolean 'retrain'"):
        write_decision(str(tmp_path / "x"), {"retrain": "yes"}, "")
    with pytest.raises(FileNotFoundError, match="decide step's output"):
        read_decision(str(tmp_path / "nothing"))


def test_late_labels_realised_quality_looks_back_on_the_same_models_labelled_rows(monitor_env, out, tmp_path):
    # labels for day 1 (Nov 2) only: day 2's window (Nov 3) has none, a 48 h lookback finds day 1's
    labels = tmp_path / "late.csv"
    lines = open(monitor_env["labels_uri"]).read().splitlines()
    labels.write_text("\n".join([lines[0], *(x for x in lines[1:] if x.startswith("d1-"))]) + "\n")
    env = {**monitor_env, "labels_uri": str(labels)}
    plain = _decide(env, out, "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z")
    assert plain.record["window"]["labelled"] == 0 and plain.record["quality"]["overall"]["realised"] == {}
    back = _decide(env, out, "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z", labels_lookback_hours=48)
    overall = back.record["quality"]["overall"]
    assert overall["labelled"] == ROWS and overall["rows"] == ROWS and overall["realised"]["auc"] > 0.9
    assert back.record["window"]["realised_from"] == "2026-11-02T00:00:00Z"
    assert any(o.startswith("realised auc") and f"({ROWS} rows)" in o for o in back.decision.observations)
    assert all(s["labelled"] > 0 for s in back.record["quality"]["slices"])
