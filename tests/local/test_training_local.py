"""The whole training pipeline under kfp.local (SubprocessRunner, this interpreter), as `make run` runs it."""

from __future__ import annotations

import json
import os

import pytest

from pipelines.run import arguments_from as _arguments_from
from pipelines.run import build_parser, print_summary, run_local

pytestmark = pytest.mark.local

ROWS = "6000"


def arguments(root, *extra: str) -> dict:
    return _arguments_from(build_parser().parse_args(["--root", str(root), "--rows", ROWS, *extra]))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    summary = run_local(str(root), arguments(root, "--epochs", "8"))
    return root, summary


def test_make_run_path_blesses_a_model_and_reports_everything(first_run, capsys):
    root, s = first_run
    assert s.succeeded, s.error
    assert s.anomaly_count == 0
    assert s.blessed is True, s.reasons
    model = s.model_dir
    assert os.path.isfile(os.path.join(model, "saved_model", "saved_model.pb"))
    assert os.path.isdir(os.path.join(model, "logs"))
    for key in (
        "ingest/examples",
        "statistics/statistics",
        "statistics/report",
        "schema/schema",
        "validate/anomalies",
        "transform/transform_graph",
        "train/model",
        "evaluate/blessing",
        "evaluate/evaluation",
    ):
        assert key in s.artifacts, key
    overall = next(x for x in s.slices if x["slice"] == "Overall")
    assert 0.8 <= overall["metrics"]["auc"] <= 1.0
    assert any(x["slice"].startswith("channel") for x in s.slices)
    # what the KFP UI draws: ROC curve and confusion matrix on the ClassificationMetrics artifact
    with open(os.path.join(s.run_dir, "evaluate", "executor_output.json")) as f:
        outputs = json.load(f)["artifacts"]
    (cm,) = outputs["classification_metrics"]["artifacts"]
    assert len(cm["metadata"]["confusionMatrix"]["rows"]) == 2
    assert len(cm["metadata"]["confidenceMetrics"]) > 10
    with open(os.path.join(root, "latest.json")) as f:
        assert json.load(f)["model_dir"] == model
    print_summary(s)
    out = capsys.readouterr().out
    assert "BLESSED" in out and model in out


def test_second_run_against_first_model_applies_change_thresholds(first_run):
    root, first = first_run
    s = run_local(str(root), arguments(root, "--baseline", "last", "--change-threshold", "auc=0.05", "--seed", "8"))
    assert s.succeeded, s.error
    with open(os.path.join(s.artifacts["evaluate/blessing"], "blessing.json")) as f:
        blessing = json.load(f)
    assert blessing["baseline"] and os.path.samefile(blessing["baseline"], first.model_dir)
    assert s.blessed is True, s.reasons


def _assert_stopped_at_the_gate_with_evidence(s):
    """validate succeeded and published its evidence; the gate failed; nothing after it ran."""
    assert not s.succeeded
    assert s.failed_step == "gate", s.failed_step
    assert not any(k.startswith(("transform/", "train/", "evaluate/")) for k in s.artifacts)
    anomalies = s.artifacts["validate/anomalies"]
    for name in ("anomalies.pbtxt", "report.json", "report.html"):
        assert os.path.getsize(os.path.join(anomalies, name)) > 0, name
    with open(os.path.join(anomalies, "report.json")) as f:
        report = json.load(f)
    assert report["passed"] is False and report["findings"]
    with open(s.artifacts["validate/report"]) as f:
        page = f.read()
    assert "FAILED" in page and "<svg" in page or "Anomalies" in page
    with open(os.path.join(s.run_dir, "validate", "executor_output.json")) as f:
        outputs = json.load(f)
    assert outputs["parameterValues"]["passed"] is False
    assert outputs["parameterValues"]["message"] == report["message"]
    (metrics,) = outputs["artifacts"]["metrics"]["artifacts"]
    assert metrics["metadata"]["anomaly_count"] == len(report["findings"])
    (anomalies_artifact,) = outputs["artifacts"]["anomalies"]["artifacts"]
    assert anomalies_artifact["metadata"]["kfx_kind"] == "anomalies"
    assert anomalies_artifact["metadata"]["passed"] is False


def test_drifted_batch_stops_the_pipeline_before_transform(first_run):
    root, first = first_run
    previous = first.artifacts["statistics/statistics"]
    s = run_local(str(root), arguments(root, "--drift", "--seed", "9", "--previous-statistics", previous))
    _assert_stopped_at_the_gate_with_evidence(s)
    kinds = {f["kind"] for f in s.findings}
    assert any("L_INFTY" in k or "JENSEN_SHANNON" in k for k in kinds), kinds


def test_missing_column_against_curated_schema_stops_the_pipeline(tmp_path, project_root):
    from components.datagen.fraud import generate

    df = generate(3000, seed=3).drop(columns=["merchant_category"])
    data = tmp_path / "no_merchant.csv"
    df.to_csv(data, index=False)
    schema = os.path.join(project_root, "pipelines", "schemas", "fraud.pbtxt")
    s = run_local(str(tmp_path), arguments(tmp_path, "--data", str(data), "--schema", schema))
    _assert_stopped_at_the_gate_with_evidence(s)
    assert any(f["feature"] == "merchant_category" for f in s.findings), s.findings
