"""Late labels: a labels file (CSV or JSON lines, or a directory of deliveries) keyed by request id is joined to the
prediction log's window when it appears; a malformed file gets an error naming the file, the line and the fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from components._shared.artifacts import prediction_log as plog
from components._shared.artifacts.labels import read_labels
from components.monitor import window

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def log_root(tmp_path) -> str:
    root = str(tmp_path / "log")
    writer = plog.PredictionLogWriter(root)
    writer.log(
        plog.Record(f"r{i}", {"amount": float(i)}, [i / 10], "fraud", "1", int((T0 + timedelta(minutes=i)).timestamp() * 1e6))
        for i in range(6)
    )  # fmt: skip
    writer.close()
    return root


def _load(root: str, labels_uri: str) -> window.Window:
    return window.load(root, T0, T0 + timedelta(hours=1), labels_uri)


def test_labels_are_joined_when_they_appear(log_root, tmp_path):
    labels_uri = str(tmp_path / "labels.csv")
    before = _load(log_root, labels_uri)  # nothing has arrived yet: every row unlabelled, no error
    assert len(before) == 6 and not before.labelled.any()

    (tmp_path / "labels.csv").write_text("request_id,label,source\nr1,1,chargeback\nr4,0,review\nr5,,pending\n")
    after = _load(log_root, labels_uri)
    by_id = dict(zip(after.request_ids, after.labels, strict=True))
    assert by_id["r1"] == 1.0 and by_id["r4"] == 0.0
    assert np.isnan([by_id[i] for i in ("r0", "r2", "r3", "r5")]).all()  # r5's empty label: not known yet


def test_csv_and_json_lines_give_the_same_labels(tmp_path):
    (tmp_path / "a.csv").write_text("\ufeffrequest_id , label\nr1,1\nr2,0\n")  # BOM and spaces from a spreadsheet
    (tmp_path / "b.jsonl").write_text('{"request_id": "r1", "label": 1}\n\n{"request_id": "r2", "label": 0}\n')
    (tmp_path / "c.json").write_text('[{"request_id": "r1", "label": 1}, {"request_id": "r2", "label": 0}]')
    (tmp_path / "d.txt").write_text(
        '{"request_id": "r1", "label": 1}\n{"request_id": "r2", "label": 0}\n'
    )  # by content
    got = [read_labels(str(tmp_path / n)) for n in ("a.csv", "b.jsonl", "c.json", "d.txt")]
    assert got[0] == {"r1": "1", "r2": "0"} and got[1] == got[2] == got[3] == {"r1": 1, "r2": 0}
    assert [window._label(v) for v in got[0].values()] == [window._label(v) for v in got[1].values()] == [1.0, 0.0]


def test_a_directory_of_deliveries_later_files_win(log_root, tmp_path):
    deliveries = tmp_path / "labels"
    deliveries.mkdir()
    labels_uri = str(deliveries)
    assert read_labels(labels_uri) == {}
    (deliveries / "2026-11-02.csv").write_text("request_id,label\nr0,0\nr1,0\n")
    (deliveries / "2026-11-03.jsonl").write_text(json.dumps({"request_id": "r1", "label": 1}) + "\n")
    (deliveries / ".2026-11-04.csv.tmp").write_text("half a file")  # an upload in progress is not read
    joined = _load(log_root, labels_uri)
    assert dict(zip(joined.request_ids, joined.labels, strict=True))["r1"] == 1.0
    assert int(joined.labelled.sum()) == 2


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("no-label.csv", "request_id,score\nr1,0.3\n", r"CSV header has no label column \(header: request_id,score\)"),
        ("no-id.csv", "id,label\nr1,1\n", "CSV header has no request_id column"),
        ("no-id.jsonl", '{"request_id": "r1", "label": 1}\n{"id": "r2", "label": 0}\n', "line 2 has no request_id"),
        ("bad.jsonl", '{"request_id": "r1", "label": 1}\n{"request_id": "r2",\n', "line 2 is not a JSON object"),
        ("list.jsonl", '{"request_id": "r1", "label": 1}\n[1, 2]\n', "line 2 is not a JSON object"),
        ("empty-id.csv", "request_id,label\n,1\n", "line 2: empty request_id"),
    ],
)
def test_a_malformed_labels_file_says_what_to_fix(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message) as e:
        read_labels(str(tmp_path / name))
    assert name in str(e.value) and "request_id,label" in str(e.value)


def test_a_label_that_is_not_binary_names_the_request(log_root, tmp_path):
    (tmp_path / "labels.csv").write_text("request_id,label\nr2,fraud\n")
    with pytest.raises(ValueError, match="label 'fraud' of request 'r2' is not 0 or 1"):
        _load(log_root, str(tmp_path / "labels.csv"))
