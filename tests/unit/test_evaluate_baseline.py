"""The baseline reaches evaluate as a Model artifact: absent, local (either layout) or on s3:// (S3 test double)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Metrics, Model

from components._shared import kinds
from components._shared.artifacts import model as model_layout
from components.evaluate.inputs import PRESENT_KEY, baseline_location
from tests.testdata.chain import ROOT, build_chain

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def fraud(tmp_path_factory) -> dict:
    return build_chain(str(tmp_path_factory.mktemp("fraud_chain")), n_rows=3000, epochs=2)


def test_baseline_location_rules():
    assert baseline_location("/pr/x", "/pr/x", {PRESENT_KEY: False}) is None
    assert baseline_location("s3://b/m", "/s3/b/m", {PRESENT_KEY: True}) == "s3://b/m"
    assert baseline_location("gs://b/m", "/gcs/b/m", {}) == "gs://b/m"  # e.g. a dsl.importer artifact
    assert baseline_location("minio://mlpipeline/m", "/minio/mlpipeline/m", {}) == "/minio/mlpipeline/m"


def test_import_baseline_marks_absent_and_checks_the_model(fraud, tmp_path):
    from components.evaluate.component import import_baseline

    none = Model(uri=str(tmp_path / "none"))
    import_baseline.python_func(baseline=none, uri="")
    assert none.metadata == {PRESENT_KEY: False, kinds.KIND_KEY: "model"}
    served = Model(uri=str(tmp_path / "art"))
    import_baseline.python_func(baseline=served, uri=fraud["model"])
    assert served.uri == fraud["model"] and served.metadata["layout"] == "kfx" and served.metadata[PRESENT_KEY]
    with pytest.raises(FileNotFoundError, match="no SavedModel in .*/nowhere.*saved_model.*TF Serving"):
        import_baseline.python_func(baseline=Model(uri=str(tmp_path / "x")), uri=str(tmp_path / "nowhere"))


def test_wrapper_with_an_absent_baseline_evaluates_without_one(fraud, tmp_path):
    from components.evaluate.component import evaluate

    def art(cls, name):
        return cls(uri=str(tmp_path / name))

    outs = {
        "evaluation": art(Dataset, "evaluation"),
        "blessing": art(Dataset, "blessing"),
        "metrics": art(Metrics, "metrics"),
        "classification_metrics": art(ClassificationMetrics, "cm"),
        "report": art(HTML, "report.html"),
    }
    absent = Model(uri=str(tmp_path / "baseline"), metadata={PRESENT_KEY: False, kinds.KIND_KEY: "model"})
    (blessed,) = evaluate.python_func(
        model=Model(uri=fraud["model"]), examples=Dataset(uri=fraud["examples"]), baseline_model=absent, **outs
    )
    assert outs["blessing"].metadata["baseline"] == "" and outs["blessing"].metadata[kinds.KIND_KEY] == "blessing"
    assert blessed == outs["blessing"].metadata["blessed"]
    roc = outs["classification_metrics"].metadata["confidenceMetrics"]
    assert 10 < len(roc) <= 50, "a sensible ROC size for the KFP UI"
    # a wrongly wired baseline (e.g. the examples) is refused before any work
    with pytest.raises(kinds.ArtifactKindError, match="'baseline_model' needs a 'model' artifact"):
        wrong = Model(uri=fraud["examples"], metadata={kinds.KIND_KEY: "examples"})
        evaluate.python_func(
            model=Model(uri=fraud["model"]), examples=Dataset(uri=fraud["examples"]), baseline_model=wrong, **outs
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_EVALUATE_IN_A_STEP = """
import json, os, sys
import components
from components.evaluate.logic import evaluate_model
r = evaluate_model(*sys.argv[1:5], baseline_model_dir=sys.argv[5], value_thresholds={}, change_thresholds={"auc": 0.0})
print("RESULT " + json.dumps({"baseline": r.baseline, "auc": r.overall["auc"], "base": r.baseline_overall["auc"],
                              "blessed": r.blessed}), flush=True)
# tensorflow-io 0.37.1's S3 filesystem aborts at interpreter exit (tensorflow/io#2039): leave without teardown.
os._exit(0)
"""


def test_baseline_on_s3_in_tf_serving_layout_loads(fraud, tmp_path):
    """S3 test double: moto's server on 127.0.0.1; the step reads the baseline with S3_ENDPOINT/AWS_* only."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
        env.update(S3_ENDPOINT=endpoint, S3_USE_HTTPS="0", S3_VERIFY_SSL="0")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")  # fmt: skip
        s3.create_bucket(Bucket="models")
        saved = model_layout.saved_model_dir(fraud["model"])
        for dirpath, _, files in os.walk(saved):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), saved)
                s3.upload_file(os.path.join(dirpath, name), "models", f"fraud/1/{rel}")
        s3.upload_file(os.path.join(fraud["model"], model_layout.MODEL_META), "models", "fraud/model.json")
        out = tmp_path / "out"
        args = [fraud["model"], fraud["examples"], str(out / "evaluation"), str(out / "blessing"), "s3://models/fraud"]
        proc = subprocess.run(
            [sys.executable, "-c", _EVALUATE_IN_A_STEP, *args], env=env, cwd=ROOT, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
    finally:
        server.stop()
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    result = json.loads(line[len("RESULT ") :])
    assert result["baseline"] == "s3://models/fraud" and result["blessed"]
    assert result["base"] == pytest.approx(result["auc"])
    shutil.rmtree(out, ignore_errors=True)
