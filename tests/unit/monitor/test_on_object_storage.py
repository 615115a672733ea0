"""The monitoring steps as a cluster runs them: log, labels and the served model (with its evidence) on s3://
(S3 test double: moto's server on 127.0.0.1), read with the storage configuration alone (S3_ENDPOINT, AWS_*)."""

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

_STEPS_IN_A_POD = """
import json, os, sys
import components
from components.monitor.checks import check_data
from components.monitor.decision import Thresholds
from components.monitor.log_statistics import window_statistics
from components.monitor.logic import decide_window
from components.monitor.served import find_model

log_uri, model_uri, labels_uri, out = sys.argv[1:5]
served = find_model(model_uri)
w = window_statistics(log_uri, served.uri, out + "/stats", "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z")
checks = check_data(out + "/stats", served.uri, out + "/anomalies", Thresholds())
r = decide_window(log_uri, "2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z", out + "/anomalies", out + "/decision",
                  Thresholds(), labels_uri, calibration_hours=24)
print("RESULT " + json.dumps({"rows": w.rows, "previous": w.previous_rows, "skew": len(checks.skew),
                              "notes": checks.notes, "record": r.record}), flush=True)
# tensorflow-io 0.37.1's S3 filesystem aborts at interpreter exit (tensorflow/io#2039): leave without teardown.
os._exit(0)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _upload(s3, local: str, bucket: str, prefix: str) -> None:
    for dirpath, _, files in os.walk(local):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), local)
            s3.upload_file(os.path.join(dirpath, name), bucket, f"{prefix}/{rel}")


def test_the_steps_read_log_labels_and_evidence_from_s3(monitor_env, tmp_path):
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1",
                   S3_ENDPOINT=endpoint, S3_USE_HTTPS="0", S3_VERIFY_SSL="0")  # fmt: skip
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")  # fmt: skip
        s3.create_bucket(Bucket="kfx")
        _upload(s3, monitor_env["log_uri"], "kfx", "log")
        _upload(s3, monitor_env["model_dir"], "kfx", "models/fraud")
        s3.upload_file(monitor_env["labels_uri"], "kfx", "labels/labels.csv")
        # a pushed model has a SavedModel; this stand-in has its evidence and model.json, which is all monitoring reads
        s3.put_object(Bucket="kfx", Key="models/fraud/saved_model/saved_model.pb", Body=b"stand-in")
        args = ["s3://kfx/log", "s3://kfx/models/fraud", "s3://kfx/labels/labels.csv", str(tmp_path)]
        proc = subprocess.run([sys.executable, "-c", _STEPS_IN_A_POD, *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=600)  # fmt: skip
    finally:
        server.stop()
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    result = json.loads(line[len("RESULT ") :])
    assert result["rows"] == 1200 and result["previous"] == 1200 and result["notes"] == []
    assert result["skew"] == len(monitor_env["features"])  # the training statistics were read from s3://
    record = result["record"]
    assert record["retrain"] is False and record["window"]["labelled"] == 1200
    assert record["calibration"]["method"] == "isotonic calibration"
