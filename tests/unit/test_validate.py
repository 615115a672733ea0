"""validate: real TFDV on small frames; anomalies by name, drift, skew, PSI, reports, gate."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.validate.load import load_statistics
from components.validate.logic import (
    CONTINUE_ANYWAY,
    DataValidationError,
    ValidationResult,
    check_gate,
    validate,
)
from components.validate.psi import population_stability_index, psi_of_histograms
from tests.testdata.validate_fixtures import (
    LABEL,
    stats_of,
    transactions,
    write_schema_artifact,
    write_stats_artifact,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Schema inferred from a clean training frame, plus that frame's statistics artifact."""
    root = tmp_path_factory.mktemp("base")
    train = transactions(seed=0)
    schema_dir = str(root / "schema")
    write_schema_artifact(schema_dir, train)
    stats_dir = write_stats_artifact(str(root / "stats"), train, transactions(seed=1))
    return {"schema": schema_dir, "stats": stats_dir, "train": train}


def _run(tmp_path, base, eval_df=None, train_df=None, **kw) -> ValidationResult:
    stats_dir = write_stats_artifact(
        str(tmp_path / "stats"),
        base["train"] if train_df is None else train_df,
        transactions(seed=1) if eval_df is None else eval_df,
    )
    return validate(stats_dir, base["schema"], str(tmp_path / "anomalies"), str(tmp_path / "report.html"), **kw)


def _kinds(result: ValidationResult, feature: str, source: str | None = None) -> set[str]:
    return {f.kind for f in result.findings if f.feature == feature and (source is None or f.source == source)}


def test_clean_data_passes_and_writes_reports(tmp_path, base):
    result = validate(base["stats"], base["schema"], str(tmp_path / "a"), str(tmp_path / "r.html"))
    assert result.passed and result.anomaly_count == 0 and result.findings == []
    assert result.num_examples == {"train": 600, "eval": 600}
    anomalies = text_format.Parse((tmp_path / "a" / "anomalies.pbtxt").read_text(), anomalies_pb2.Anomalies())
    assert not anomalies.anomaly_info
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["passed"] is True and report["anomaly_count"] == 0 and report["findings"] == []
    assert "PASSED" in (tmp_path / "r.html").read_text()
    assert (tmp_path / "a" / "report.html").exists()


def test_missing_column_is_schema_missing_column(tmp_path, base):
    result = _run(tmp_path, base, eval_df=transactions(seed=1).drop(columns=["country"]))
    assert not result.passed
    assert "SCHEMA_MISSING_COLUMN" in _kinds(result, "country", "eval")
    assert _kinds(result, "country", "train") == set()
    anomalies = text_format.Parse((tmp_path / "anomalies" / "anomalies.pbtxt").read_text(), anomalies_pb2.Anomalies())
    assert anomalies.anomaly_info["country"].reason[0].type == anomalies_pb2.AnomalyInfo.SCHEMA_MISSING_COLUMN


def test_string_in_numeric_column_is_a_type_anomaly(tmp_path, base):
    bad = transactions(seed=1)
    bad["amount"] = bad["amount"].astype(str)
    bad.loc[5, "amount"] = "twelve"
    result = _run(tmp_path, base, eval_df=bad)
    kinds = _kinds(result, "amount", "eval")
    assert kinds & {"UNEXPECTED_DATA_TYPE", "FLOAT_TYPE_STRING_NOT_FLOAT", "FLOAT_TYPE_NON_STRING"}, kinds
    finding = next(f for f in result.findings if f.feature == "amount")
    assert finding.observed == "STRING"


def test_unseen_categorical_value(tmp_path, base):
    bad = transactions(seed=1)
    bad.loc[:30, "channel"] = "crypto"
    result = _run(tmp_path, base, eval_df=bad)
    assert _kinds(result, "channel", "eval") == {"ENUM_TYPE_UNEXPECTED_STRING_VALUES"}
    finding = next(f for f in result.findings if f.feature == "channel")
    assert "crypto" in finding.observed


def test_drift_against_previous_statistics(tmp_path, base):
    previous = str(tmp_path / "previous")
    write_stats_artifact(previous, transactions(seed=5), None)
    drifted = transactions(seed=6, amount_shift=40.0, channel_p=(0.1, 0.3, 0.6))
    result = _run(tmp_path, base, train_df=drifted, eval_df=transactions(seed=7), previous_statistics_uri=previous)
    assert "COMPARATOR_L_INFTY_HIGH" in _kinds(result, "channel", "drift")
    assert "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" in _kinds(result, "amount", "drift")
    assert result.max_drift > 0.1
    by_feature = {c.feature: c for c in result.drift}
    assert by_feature["channel"].measure == "L_INFTY" and by_feature["amount"].measure == "JENSEN_SHANNON_DIVERGENCE"
    jsd = next(f for f in result.findings if f.kind == "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH")
    assert jsd.value == pytest.approx(by_feature["amount"].value) and jsd.threshold == pytest.approx(0.1)
    assert result.psi["amount"] > 1.0  # shifted far: major PSI
    report = json.loads((tmp_path / "anomalies" / "report.json").read_text())
    assert report["max_drift"] == pytest.approx(result.max_drift)
    anomalies = text_format.Parse((tmp_path / "anomalies" / "anomalies.pbtxt").read_text(), anomalies_pb2.Anomalies())
    assert any(info.drift_measurements for info in anomalies.drift_skew_info)


def test_same_distribution_has_no_drift(tmp_path, base):
    previous = str(tmp_path / "previous")
    write_stats_artifact(previous, transactions(seed=5, n=3000), None)
    result = _run(tmp_path, base, train_df=transactions(seed=6, n=3000), previous_statistics_uri=previous)
    assert result.passed, [f.line() for f in result.findings]
    assert 0 < result.max_drift < 0.1
    assert all(v < 0.1 for v in result.psi.values()), result.psi


def test_previous_statistics_as_a_file_uri(tmp_path, base):
    previous = str(tmp_path / "prev.pb")
    with open(previous, "wb") as f:
        f.write(stats_of(base["train"]).SerializeToString())
    result = _run(tmp_path, base, previous_statistics_uri=previous)
    assert result.passed and result.max_drift == 0.0
    assert result.psi and all(v == pytest.approx(0.0, abs=1e-9) for v in result.psi.values())


def test_skew_vs_serving_without_label(tmp_path, base):
    serving_ok = str(tmp_path / "serving_ok")
    write_stats_artifact(serving_ok, transactions(seed=8).drop(columns=[LABEL]), None)
    result = _run(tmp_path / "ok", base, serving_statistics_uri=serving_ok, label_key=LABEL)
    assert result.passed, [f.line() for f in result.findings]
    assert {c.feature for c in result.skew} == {"amount", "hour", "channel", "country"}  # no comparator on the label
    assert 0 < result.max_skew < 0.1

    # serving logs that carry the label (joined later) are not an anomaly either
    result = _run(tmp_path / "with_label", base, serving_statistics_uri=base["stats"], label_key=LABEL)
    assert result.passed, [f.line() for f in result.findings]

    serving_bad = str(tmp_path / "serving_bad")
    skewed = transactions(seed=8, amount_shift=40.0, channel_p=(0.1, 0.2, 0.7)).drop(columns=[LABEL, "hour"])
    write_stats_artifact(serving_bad, skewed, None)
    result = _run(tmp_path / "bad", base, serving_statistics_uri=serving_bad, label_key=LABEL)
    assert "COMPARATOR_L_INFTY_HIGH" in _kinds(result, "channel", "skew")
    assert "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" in _kinds(result, "amount", "skew")
    assert _kinds(result, "hour") == {"COMPARATOR_CONTROL_DATA_MISSING"}  # reported once, not twice
    assert _kinds(result, LABEL) == set()
    assert result.max_skew > 0.1 and result.psi_serving["amount"] > 1.0


def test_label_key_must_be_in_schema(tmp_path, base):
    with pytest.raises(ValueError, match="label_key `nope`"):
        _run(tmp_path, base, serving_statistics_uri=base["stats"], label_key="nope")
    assert not (tmp_path / "anomalies").exists()


def test_psi_zero_for_identical_and_large_for_shifted():
    ref = stats_of(transactions(seed=0, n=2000))
    same = population_stability_index(ref, ref)
    assert set(same) == {"amount", "hour", LABEL}
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in same.values())
    resampled = population_stability_index(ref, stats_of(transactions(seed=1, n=2000)))
    assert resampled["amount"] < 0.05 and resampled["hour"] < 0.05
    shifted = population_stability_index(ref, stats_of(transactions(seed=1, n=2000, amount_shift=40.0)))
    assert shifted["amount"] > 1.0
    # hand-checked: half the mass moves from bin (-inf,1] to (1,+inf): 2 * 0.25 * ln(3) ~ 0.549
    assert psi_of_histograms([(0, 1, 50), (1, 2, 50)], [(0, 1, 25), (1, 2, 75)]) == pytest.approx(
        0.5 * 0.5 * 1.0986, rel=1e-3
    )


def test_psi_threshold_gates_when_set(tmp_path, base):
    previous = str(tmp_path / "previous")
    write_stats_artifact(previous, transactions(seed=5), None)
    shifted = transactions(seed=6, amount_shift=15.0)
    result = _run(
        tmp_path,
        base,
        train_df=shifted,
        previous_statistics_uri=previous,
        numeric_drift_threshold=1.0,
        psi_threshold=0.2,
    )
    assert _kinds(result, "amount", "psi") == {"PSI_HIGH"}


def test_anomalies_never_raise_and_the_gate_stops_with_a_readable_message(tmp_path, base):
    bad = transactions(seed=1).drop(columns=["country"])
    bad.loc[:30, "channel"] = "crypto"
    stats_dir = write_stats_artifact(str(tmp_path / "stats"), base["train"], bad)
    html_path = str(tmp_path / "report.html")
    result = validate(stats_dir, base["schema"], str(tmp_path / "anomalies"), html_path)
    assert not result.passed and result.anomaly_count == 2
    message = result.message
    assert message.startswith("Data validation found 2 anomalies: ")
    assert "\n" not in message  # one paragraph
    assert "feature `country`: SCHEMA_MISSING_COLUMN — Column is completely missing (eval split vs schema)" in message
    assert "feature `channel`: ENUM_TYPE_UNEXPECTED_STRING_VALUES — " in message and "crypto" in message
    assert "--no-fail-on-anomalies (CLI) / fail_on_anomalies=False (pipeline parameter)" in message
    assert CONTINUE_ANYWAY in message
    # the evidence is written although the data failed
    for name in ("anomalies.pbtxt", "report.json", "report.html"):
        assert (tmp_path / "anomalies" / name).stat().st_size > 0
    report = json.loads((tmp_path / "anomalies" / "report.json").read_text())
    assert report["passed"] is False and report["message"] == message
    assert {(f["feature"], f["kind"]) for f in report["findings"]} == {
        ("country", "SCHEMA_MISSING_COLUMN"),
        ("channel", "ENUM_TYPE_UNEXPECTED_STRING_VALUES"),
    }
    page = open(html_path).read()
    for text in ("country", "SCHEMA_MISSING_COLUMN", "channel", "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "FAILED"):
        assert text in page
    assert "what to do" in page and "presence.min_fraction" in page
    assert "<script" not in page

    with pytest.raises(DataValidationError) as info:
        check_gate(result.passed, result.message, fail_on_anomalies=True)
    assert str(info.value) == message
    check_gate(result.passed, result.message, fail_on_anomalies=False)  # continues, with a warning


def test_gate_passes_clean_data(tmp_path, base):
    result = validate(base["stats"], base["schema"], str(tmp_path / "a"))
    assert result.passed and result.message == ""
    check_gate(result.passed, result.message)
    with pytest.raises(DataValidationError, match="did not pass"):
        check_gate(False, "")


def test_html_lists_drift_table(tmp_path, base):
    previous = str(tmp_path / "previous")
    write_stats_artifact(previous, transactions(seed=5), None)
    _run(tmp_path, base, train_df=transactions(seed=6, amount_shift=40.0), previous_statistics_uri=previous)
    page = (tmp_path / "report.html").read_text()
    assert "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" in page and "JENSEN_SHANNON_DIVERGENCE" in page
    assert "amount" in page and "PSI" in page and "major shift" in page


def test_clear_errors_before_writing(tmp_path, base):
    out = tmp_path / "anomalies"
    with pytest.raises(FileNotFoundError, match="no statistics under"):
        validate(str(tmp_path / "nowhere"), base["schema"], str(out))
    with pytest.raises(FileNotFoundError, match="no schema at"):
        validate(base["stats"], str(tmp_path / "nowhere"), str(out))
    with pytest.raises(FileNotFoundError, match="no statistics at"):
        validate(base["stats"], base["schema"], str(out), previous_statistics_uri=str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="numeric_drift_threshold"):
        validate(base["stats"], base["schema"], str(out), numeric_drift_threshold=-1)
    assert not out.exists()


def test_load_statistics_accepts_artifact_dir_and_file(base):
    from_dir = load_statistics(base["stats"], "eval")
    from_file = load_statistics(os.path.join(base["stats"], "eval", "FeatureStats.pb"))
    assert from_dir == from_file and from_dir.datasets[0].num_examples == 600


def test_numeric_histogram_choice_is_checked(tmp_path, base):
    with pytest.raises(ValueError, match="numeric_histogram"):
        validate(base["stats"], base["schema"], str(tmp_path / "a"), numeric_histogram="LOG")
    assert not (tmp_path / "a").exists()


def test_fraud_generator_drifted_batch(tmp_path):
    """Realistic data from the built-in generator: the drifted batch is caught by name, the clean one is not."""
    fraud = pytest.importorskip("components.datagen.fraud")
    clean = fraud.generate(2000, seed=0)
    schema_dir = str(tmp_path / "schema")
    write_schema_artifact(schema_dir, clean)
    previous = write_stats_artifact(str(tmp_path / "previous"), clean, None)

    same = write_stats_artifact(str(tmp_path / "same"), fraud.generate(2000, seed=1), fraud.generate(500, seed=2))
    ok = validate(
        same,
        schema_dir,
        str(tmp_path / "a1"),
        previous_statistics_uri=previous,
        label_key=LABEL,
    )
    assert [f for f in ok.findings if f.source in ("train", "eval")] == []
    assert ok.max_psi < 0.1

    drifted = write_stats_artifact(
        str(tmp_path / "drifted"), fraud.generate(2000, seed=3, drift=True), fraud.generate(500, seed=4, drift=True)
    )
    result = validate(drifted, schema_dir, str(tmp_path / "a2"), previous_statistics_uri=previous, label_key=LABEL)
    assert not result.passed
    assert "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in _kinds(result, "merchant_category", "eval")
    assert "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in _kinds(result, "country", "eval")
    assert any(f.source == "drift" for f in result.findings)
    assert result.max_drift > 0.1 and result.max_psi > 0.25
    assert "feature `merchant_category`: ENUM_TYPE_UNEXPECTED_STRING_VALUES" in result.message


def test_auto_histogram_avoids_false_drift_on_long_tails(tmp_path):
    """Same long-tailed distribution twice: TFDV's JSD on equal-width buckets cries drift, on quantiles not."""

    def frame(seed: int, n: int = 2000) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        return pd.DataFrame({"amount": r.lognormal(3, 1.5, n), "day": r.integers(0, 7, n)})

    schema_dir = str(tmp_path / "schema")
    write_schema_artifact(schema_dir, frame(101))
    previous = write_stats_artifact(str(tmp_path / "previous"), frame(201), None)
    current = write_stats_artifact(str(tmp_path / "current"), frame(301), frame(401))
    jsd = {}
    for choice in ("auto", "STANDARD"):
        result = validate(
            current,
            schema_dir,
            str(tmp_path / choice),
            previous_statistics_uri=previous,
            numeric_histogram=choice,
        )
        jsd[choice] = {c.feature: c for c in result.drift}
    assert jsd["STANDARD"]["amount"].value > 0.1  # the false alarm auto avoids
    assert jsd["auto"]["amount"].value < 0.1 and jsd["auto"]["amount"].histogram == "QUANTILES"
    assert jsd["auto"]["day"].value < 0.05 and jsd["auto"]["day"].histogram == "STANDARD"
