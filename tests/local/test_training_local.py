"""The whole training pipeline under kfp.local (SubprocessRunner, this interpreter), as `make run` runs it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from pipelines import rundir
from pipelines.run import arguments_from as _arguments_from
from pipelines.run import build_parser, print_summary, run_local

pytestmark = pytest.mark.local

ROWS = "6000"


def arguments(root, *extra: str) -> dict:
    return _arguments_from(build_parser().parse_args(["--root", str(root), "--rows", ROWS, *extra]))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    progress = io.StringIO()
    args = arguments(root, "--epochs", "8")
    summary = run_local(str(root), args, progress=progress)
    summary.progress = progress.getvalue()  # what the terminal showed during the run
    summary.arguments = args
    return root, summary


def test_terminal_output_is_one_line_per_step_and_the_full_log_is_in_the_run_directory(first_run):
    root, s = first_run
    lines = s.progress.splitlines()
    steps = [x.split()[0] for x in lines]
    assert "import-baseline" in steps  # independent of the others: kfp.local may run it anywhere
    assert [x for x in steps if x != "import-baseline"] == [
        "ingest",
        "statistics",
        "schema",
        "validate",
        "gate",
        "transform",
        "train",
        "evaluate",
    ]
    assert all(x.split()[1] == "ok" for x in lines)
    assert "6,000 rows" in lines[0] and "BLESSED" in lines[-1]
    out = io.StringIO()
    print_summary(s, out)
    assert len(lines) + len(out.getvalue().splitlines()) <= 40  # fits on one screen
    assert "Unable to register" not in s.progress + out.getvalue()  # TF noise stays in the log
    assert s.log_file == rundir.log_file(s.run_dir) and s.log_file in out.getvalue()
    with open(s.log_file) as f:
        log = f.read()
    assert "Executing task" in log and "finished with status" in log


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
    cm = rundir.output_artifacts(s.run_dir, "evaluate")["classification_metrics"]
    assert len(cm["metadata"]["confusionMatrix"]["rows"]) == 2
    assert len(cm["metadata"]["confidenceMetrics"]) > 10
    with open(os.path.join(root, rundir.LATEST)) as f:
        assert json.load(f)["model_dir"] == model
    _assert_real_lineage(s)
    print_summary(s, artifacts=True)
    out = capsys.readouterr().out
    assert "BLESSED" in out and model in out


def _assert_real_lineage(s) -> None:
    """The local model's lineage.json holds the real values: the data file's hash, the rows ingested, the artifacts
    of this run, and kfp.local's run; the Model artifact's metadata holds the same."""
    import hashlib

    from components._shared.artifacts.model import read_lineage

    lineage = read_lineage(s.model_dir)
    data = s.arguments["data_uri"]
    with open(data, "rb") as f:
        assert lineage["data_uri"] == data and lineage["data_sha256"] == hashlib.sha256(f.read()).hexdigest()
    with open(data) as f:
        assert lineage["data_rows"] == int(ROWS) == sum(1 for _ in f) - 1  # every line but the header
    assert lineage["train_rows"] + lineage["eval_rows"] == int(ROWS) and lineage["eval_rows"] > 0
    assert lineage["schema_uri"] == s.artifacts["schema/schema"]
    assert lineage["statistics_uri"] == s.artifacts["statistics/statistics"]
    assert lineage["transform_graph_uri"] == s.artifacts["transform/transform_graph"]
    assert lineage["pipeline_name"] == "kfx-training" and lineage["run_name"].startswith("kfx-training-")
    assert lineage["run_id"] and lineage["module_file"] == "pipelines.modules.fraud"
    import pipelines.modules.fraud as fraud

    with open(fraud.__file__, "rb") as f:
        assert lineage["module_sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert json.loads(lineage["hyperparameters"])["epochs"] == 8
    train_outputs = rundir.output_artifacts(s.run_dir, "train")["model"]["metadata"]
    assert {k: train_outputs[k] for k in lineage} == lineage


def test_summary_reads_the_run_without_importing_tensorflow(first_run):
    """The end-of-run summary reads the artifacts' JSON files directly: the parent of a local run never imports
    TensorFlow (importing it only to print the summary cost ~5-8 s after the last step), and says the same."""
    root, s = first_run
    code = (
        "import json, sys; from pipelines.run import summarize; x = summarize(sys.argv[1], True); "
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'anomaly_count': x.anomaly_count, "
        "'slices': x.slices, 'blessed': x.blessed, 'artifacts': x.artifacts}))"
    )
    out = subprocess.run([sys.executable, "-c", code, s.run_dir], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.splitlines()[-1])
    assert got["tf"] is False
    assert got == {"tf": False, "anomaly_count": s.anomaly_count, "slices": s.slices, "blessed": s.blessed,
                   "artifacts": s.artifacts}  # fmt: skip


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
    assert "FAILED" in page and "Anomalies (" in page and "what to do" in page
    with open(rundir.outputs_file(s.run_dir, "validate")) as f:
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


def test_failing_step_is_named_with_its_own_error_message(tmp_path):
    """Not only "Inner task failed: 'ingest'": the summary shows the step's exception line."""
    lines = ["amount,channel,country,customer_age,is_fraud"] + [f"{i}.5,pos,US,{20 + i},{i % 2}" for i in range(40)]
    lines[10] += ",extra"  # line 11 of the file: 6 cells
    data = tmp_path / "ragged.csv"
    data.write_text("\n".join(lines) + "\n")
    s = run_local(str(tmp_path), arguments(tmp_path, "--data", str(data)))
    assert not s.succeeded and s.failed_step == "ingest"
    assert "IngestError:" in s.error and "line 11 has 6 cells but the header has 5 columns" in s.error, s.error
    assert os.path.isfile(s.log_file)
