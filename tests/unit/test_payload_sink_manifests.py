"""manifests/overlays/monitoring: KServe's payload logger on the built-in TF Serving InferenceService points at kfx's
payload sink, whose Deployment + Service are consistent with each other and with the sink's CLI; the sink started
with the manifest's command and args turns a KServe request/response CloudEvent pair into a logged row."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest
import requests
import yaml

from components._shared.artifacts import prediction_log as plog
from components._shared.image import runtime_image
from components.payload_sink.__main__ import parse_args
from tests.doubles.kube_api import crd_schema, validate_against_crd
from tests.testdata.deploy_kustomize import render

pytestmark = pytest.mark.unit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OVERLAY = os.path.join(ROOT, "manifests", "overlays", "monitoring")
CRD = os.path.join(os.path.dirname(ROOT), "shared", "kserve", "serving.kserve.io_inferenceservices.yaml")
KUBECTL = shutil.which("kubectl")


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict]:
    if KUBECTL:
        out = subprocess.run([KUBECTL, "kustomize", OVERLAY], capture_output=True, text=True, timeout=60, check=True)
        docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    else:
        docs = render(OVERLAY)
    return {(o["kind"], o["metadata"]["name"]): o for o in docs}


def _sink(objects: dict) -> tuple[dict, dict, dict]:
    deployment, service = objects[("Deployment", "kfx-payload-sink")], objects[("Service", "kfx-payload-sink")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, service, container


def test_the_logger_spec_is_valid_and_points_at_the_sink_service(objects):
    with open(CRD) as f:
        schema = crd_schema(yaml.safe_load(f))
    isvcs = {name: o for (kind, name), o in objects.items() if kind == "InferenceService"}
    for name, isvc in isvcs.items():
        assert validate_against_crd(isvc, schema) == [], name
    logger = isvcs["kfx-model-tf"]["spec"]["predictor"]["logger"]
    assert logger["mode"] == "all"  # requests AND responses: the sink pairs them by ce-id
    _, service, _ = _sink(objects)
    url = urlparse(logger["url"])
    assert url.hostname == service["metadata"]["name"] and (url.port or 80) == service["spec"]["ports"][0]["port"]
    assert "logger" not in isvcs["kfx-model"]["spec"]["predictor"]  # kfx's own server logs by itself: not twice


def test_the_sink_deployment_and_service_fit_together(objects):
    deployment, service, container = _sink(objects)
    assert deployment["spec"]["replicas"] == 1  # a request and its response must reach the same sink
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = container["ports"]
    assert service["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    # the components image: it has tensorflow-io, which gives tf.io.gfile s3:// (the serving image has none)
    assert container["image"] == runtime_image()
    assert container["envFrom"] == [{"secretRef": {"name": "kfx-s3"}}]  # the one storage configuration
    assert objects[("Secret", "kfx-s3")]  # ... which the base carries
    env = {e["name"]: e["value"] for e in container["env"]}
    args = parse_args([a.replace("$(KFX_PREDICTION_LOG)", env["KFX_PREDICTION_LOG"]) for a in container["args"]])
    assert args.log_uri.startswith("s3://") and args.host == "0.0.0.0" and args.port == port["containerPort"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_sink_runs_as_the_manifest_says(objects, tmp_path):
    """The manifest's command and args (log URI -> a temp dir, bound to 127.0.0.1 on a free port)."""
    _, _, container = _sink(objects)
    port, log_uri = _free_port(), str(tmp_path / "log")
    args = [a.replace("$(KFX_PREDICTION_LOG)", log_uri) for a in container["args"]]
    args = [f"--port={port}" if a.startswith("--port") else "--host=127.0.0.1" if a.startswith("--host") else a
            for a in args]  # fmt: skip
    cmd = [sys.executable if c == "python" else c for c in container["command"]] + args
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(url + container["readinessProbe"]["httpGet"]["path"], timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()[-2000:]
                time.sleep(0.2)
        for ce_type, body in [("request", {"instances": [{"amount": 12.5, "country": "BR"}]}),
                              ("response", {"predictions": [[0.93]]})]:  # fmt: skip
            headers = {"ce-specversion": "1.0", "ce-id": "e-1", "ce-type": f"org.kubeflow.serving.inference.{ce_type}",
                       "ce-source": "http://localhost:9081/", "ce-inferenceservicename": "kfx-model-tf",
                       "ce-namespace": "kfx", "ce-component": "predictor", "ce-endpoint": "default",
                       "content-type": "application/json"}  # fmt: skip
            assert requests.post(url, data=json.dumps(body), headers=headers, timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, proc.stdout.read().decode()[-2000:]
    now = datetime.now(UTC)
    rows = plog.read_window(log_uri, now - timedelta(hours=1), now + timedelta(hours=1))
    assert len(rows) == 1 and rows[0][plog.REQUEST_ID] == "e-1" and rows[0]["country"] == "BR"
    assert rows[0][plog.PREDICTION] == pytest.approx([0.93]) and rows[0][plog.REVISION] == "kfx/kfx-model-tf:default"
