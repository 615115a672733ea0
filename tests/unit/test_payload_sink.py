"""KServe payload-logger CloudEvents -> the prediction log, over real HTTP (binary-mode CloudEvents, as KServe's
logger sends them: pkg/logger/worker.go sets ce-id, ce-type, ce-source and the inferenceservicename, namespace,
component and endpoint extensions)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from components._shared.artifacts import prediction_log as plog
from components.payload_sink.server import PayloadSink

pytestmark = pytest.mark.unit


def _post(sink, ce_id, ce_type, payload, endpoint="default"):
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": ce_id,
        "ce-type": f"org.kubeflow.serving.inference.{ce_type}",
        "ce-source": "http://localhost:9081/",
        "ce-inferenceservicename": "fraud",
        "ce-namespace": "kfx",
        "ce-component": "predictor",
        "ce-endpoint": endpoint,
    }
    return requests.post(sink.url, data=json.dumps(payload), headers=headers, timeout=10)


@pytest.fixture
def sink(tmp_path):
    s = PayloadSink(str(tmp_path / "log"), max_seconds=0.1).start()
    yield s
    s.close()


def _logged(sink, root):
    sink.close()
    now = datetime.now(UTC)
    return plog.read_window(root, now - timedelta(hours=1), now + timedelta(hours=1))


def test_v1_pairs_in_either_order(sink, tmp_path):
    row = {"amount": 12.5, "channel": "online", "hour": 3}
    assert _post(sink, "a1", "request", {"instances": [row]}).status_code == 200
    assert _post(sink, "a1", "response", {"predictions": [[0.91]]}).status_code == 200
    assert _post(sink, "b2", "response", {"predictions": [0.2]}, endpoint="canary").status_code == 200
    assert sink.pairer.waiting == 1
    assert _post(sink, "b2", "request", {"instances": [{"amount": 3.0, "channel": "pos", "hour": 4}]}, "canary").ok
    rows = {r[plog.REQUEST_ID]: r for r in _logged(sink, str(tmp_path / "log"))}
    assert set(rows) == {"a1", "b2"}
    assert rows["a1"]["amount"] == pytest.approx(12.5) and rows["a1"]["channel"] == "online"
    assert rows["a1"][plog.PREDICTION] == pytest.approx([0.91]) and rows["a1"][plog.MODEL] == "fraud"
    assert rows["b2"][plog.REVISION] == "kfx/fraud:canary"


def test_v2_batch_becomes_one_record_per_row(sink, tmp_path):
    request = {"inputs": [{"name": "amount", "shape": [3], "datatype": "FP32", "data": [1.0, 2.0, 3.0]},
                          {"name": "channel", "shape": [3], "datatype": "BYTES", "data": ["pos", "atm", "online"]}]}  # fmt: skip
    response = {"model_name": "fraud", "outputs": [{"name": "outputs", "shape": [3, 1], "datatype": "FP32",
                                                    "data": [0.1, 0.2, 0.3]}]}  # fmt: skip
    assert _post(sink, "c3", "request", request).ok and _post(sink, "c3", "response", response).ok
    rows = sorted(_logged(sink, str(tmp_path / "log")), key=lambda r: r[plog.REQUEST_ID])
    assert [r[plog.REQUEST_ID] for r in rows] == ["c3-0", "c3-1", "c3-2"]
    assert [r["channel"] for r in rows] == ["pos", "atm", "online"]
    assert [r[plog.PREDICTION][0] for r in rows] == pytest.approx([0.1, 0.2, 0.3])


def test_unusable_events_get_400_with_the_reason(sink):
    r = _post(sink, "d4", "other", {"instances": []})
    assert r.status_code == 400 and "not a KServe inference request" in r.json()["error"]
    _post(sink, "e5", "request", {"instances": [{"a": 1}, {"a": 2}]})
    r = _post(sink, "e5", "response", {"predictions": [0.5]})
    assert r.status_code == 400 and "2 request rows but 1 predictions" in r.json()["error"]
