"""Prediction logging, for real: a model server started with ``--prediction-log`` records every predicted row
(request id, time, raw features as sent, prediction, model, revision) in the prediction-log layout
(``components._shared.artifacts.prediction_log``), and a clean shutdown loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import requests

from components._shared.artifacts import prediction_log as plog
from components._shared.artifacts.model import read_model_meta

from .conftest import MODEL_NAME, PROJECT_ROOT, start_server

pytestmark = pytest.mark.serving

V2_TYPES = {"int64": "INT64", "float32": "FP32", "string": "BYTES"}


def _window(root: str) -> tuple[list[str], list[dict]]:
    now = datetime.now(UTC)
    files = plog.window_files(root, now - timedelta(hours=2), now + timedelta(hours=1))
    return files, list(plog.read_records(files))


def test_n_requests_give_n_logged_rows_after_a_clean_shutdown(served_model: dict, tmp_path):
    log_uri = str(tmp_path / "predictions")
    # flushes only at shutdown: everything logged was buffered when SIGTERM arrived
    server = start_server(
        served_model["model_dir"], str(tmp_path), "--prediction-log", log_uri,
        "--prediction-log-flush-seconds", "3600", "--model-revision", "fraud-00007",
    )  # fmt: skip
    rows, sent = served_model["instances"], []
    try:
        for i, row in enumerate(rows[:10]):  # V1, one row each, with ids from the header
            r = requests.post(
                f"{server.url}/v1/models/{MODEL_NAME}:predict",
                json={"instances": [row]},
                headers={"x-request-id": f"v1-{i}"},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            sent.append((f"v1-{i}", [row], r.json()["predictions"]))
        r = requests.post(f"{server.url}/v1/models/{MODEL_NAME}:predict", json={"instances": rows}, timeout=30)
        sent.append((None, rows, r.json()["predictions"]))  # many rows, a generated id
        features = read_model_meta(served_model["model_dir"])["features"]
        complete = [row for row in rows if len(row) == len(features)][:3]
        inputs = [
            {"name": f, "shape": [len(complete)], "datatype": V2_TYPES[t], "data": [row[f] for row in complete]}
            for f, t in sorted(features.items())
        ]
        r = requests.post(
            f"{server.url}/v2/models/{MODEL_NAME}/infer", json={"id": "v2-a", "inputs": inputs}, timeout=30
        )
        assert r.status_code == 200, r.text
        sent.append(("v2-a", complete, np.reshape(r.json()["outputs"][0]["data"], (len(complete), -1)).tolist()))
        bad = requests.post(f"{server.url}/v1/models/{MODEL_NAME}:predict", json={"instances": []}, timeout=30)
        assert bad.status_code == 400  # not a prediction: not logged
        assert not _window(log_uri)[0], "nothing may be written before the flush interval or shutdown"
    finally:
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=60)
    assert code == 0, server.log()[-3000:]

    files, table = _window(log_uri)
    assert len(table) == sum(len(r) for _, r, _ in sent), server.log()[-3000:]
    assert all("/date=" in p and "/hour=" in p for p in files)
    by_id: dict = {}
    for rec in table:
        by_id.setdefault(rec[plog.REQUEST_ID], []).append(rec)
    for rid, req_rows, preds in sent:
        if rid is None:  # the generated id: the one id nobody sent
            (rid,) = set(by_id) - {s[0] for s in sent}
        logged = by_id[rid]  # a request's rows are written in order
        assert len(logged) == len(req_rows)
        np.testing.assert_allclose([rec[plog.PREDICTION] for rec in logged], preds, atol=1e-6)
        for rec, row in zip(logged, req_rows, strict=True):
            assert rec[plog.MODEL] == MODEL_NAME and rec[plog.REVISION] == "fraud-00007"
            for f, v in row.items():
                assert rec[f] == pytest.approx(v, rel=1e-6) if isinstance(v, float) else rec[f] == v, (f, rec[f], v)
            for f in set(rec) - set(row) - set(plog.META):
                raise AssertionError(f"feature {f} was not sent but is logged as {rec[f]}")


def test_the_components_environment_reads_the_log(served_model: dict, tmp_path):
    """TFDV's environment (TensorFlow 2.16) reads what the serving environment (TensorFlow 2.21) wrote."""
    from components.serving.prediction_log import PredictionLogger

    logger = PredictionLogger(str(tmp_path), MODEL_NAME, "1", lambda: {"amount": "float", "country": "string"})
    logger.record("a", {"amount": [1.5, None], "country": ["BR", "US"]}, np.array([[0.1], [0.2]], np.float32))
    logger.close()
    python = os.path.join(PROJECT_ROOT, ".venv", "bin", "python")
    code = (
        "import sys, datetime as d; from components._shared.artifacts import prediction_log as p;"
        "now = d.datetime.now(d.UTC); h = d.timedelta(hours=2);"
        "rs = list(p.read_records(p.window_files(sys.argv[1], now - h, now + h)));"
        "print(len(rs), [r.get('amount') for r in rs], [r['country'] for r in rs], [r[p.REQUEST_ID] for r in rs])"
    )
    proc = subprocess.run(
        [python, "-c", code, str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "2 [1.5, None] ['BR', 'US'] ['a', 'a']", proc.stdout[-2000:]


def test_a_failed_write_is_reported_and_serving_goes_on(tmp_path):
    from components.serving.prediction_log import PredictionLogger

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the log's directory should be")
    logger = PredictionLogger(str(blocked), MODEL_NAME, "1", lambda: {"amount": "float"})
    logger.record("0", {"amount": [1.0, 2.0]}, np.array([[0.1], [0.2]], np.float32))
    logger.flush()  # fails in the writer: counted, no exception reaches the caller
    assert logger.written_rows == 0 and logger.writer.errors
    blocked.unlink()
    logger.record("1", {"amount": [3.0]}, np.array([[0.3]], np.float32))
    logger.close()
    assert logger.written_rows == 1
    assert [r[plog.REQUEST_ID] for r in _window(str(blocked))[1]] == ["1"]


def test_a_log_uri_the_serving_environment_cannot_write_is_refused_at_startup(served_model: dict):
    """s3:// needs tensorflow-io, which the serving image lacks: the server says so instead of losing every row."""
    cmd = [sys.executable, "-m", "components.serving", "--model-dir", served_model["model_dir"], "--model-name",
           MODEL_NAME, "--prediction-log", "s3://kfx-models/prediction-log"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "no s3:// filesystem" in proc.stderr and "payload sink" in proc.stderr, proc.stderr[-2000:]


def test_simulated_log_time_only_with_the_flag(served_model: dict, tmp_path):
    """``--log-time-from-header``: a request is logged at its ``x-kfx-log-time`` (a simulation's clock, e.g. the drift
    demo's days); a bad value is a 400; without the flag the header is ignored and wall time is logged."""
    simulated = int(datetime(2026, 1, 3, 17, 5, tzinfo=UTC).timestamp() * 1e6)
    row = served_model["instances"][0]
    for flag, log_uri in (("--log-time-from-header", str(tmp_path / "sim")), ("", str(tmp_path / "wall"))):
        args = ["--prediction-log", log_uri, "--prediction-log-flush-seconds", "3600"] + ([flag] if flag else [])
        server = start_server(served_model["model_dir"], str(tmp_path), *args)
        try:
            url = f"{server.url}/v1/models/{MODEL_NAME}:predict"
            r = requests.post(url, json={"instances": [row]}, headers={"x-kfx-log-time": str(simulated)}, timeout=30)
            assert r.status_code == 200, r.text
            bad = requests.post(url, json={"instances": [row]}, headers={"x-kfx-log-time": "yesterday"}, timeout=30)
            assert bad.status_code == (400 if flag else 200), bad.text
        finally:
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(timeout=60) == 0, server.log()[-3000:]
        if flag:
            files = plog.window_files(log_uri, datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC))
            assert all("/date=2026-01-03/hour=17/" in f for f in files) and files
            assert [r[plog.TIMESTAMP] for r in plog.read_records(files)] == [simulated]
        else:
            assert len(_window(log_uri)[1]) == 2  # both logged at wall time
