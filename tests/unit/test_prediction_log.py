"""The prediction log: N logged predictions -> N readable rows, partitioned by hour, readable by TFDV as it is."""

from datetime import UTC, datetime, timedelta

import pytest

from components._shared.artifacts import prediction_log as plog

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, 10, 59, 58, tzinfo=UTC)


def _records(n, start=T0, step=timedelta(milliseconds=500)):
    return [
        plog.Record(
            request_id=f"r{i}",
            features={
                "amount": 10.0 + i,
                "channel": "online" if i % 2 else "pos",
                "hour": i % 24,
                "account_age_days": None if i % 5 == 0 else i,
            },  # fmt: skip
            prediction=[i / n],
            model="kfx-model",
            revision="kfx-model-predictor-00001",
            timestamp_us=int((start + i * step).timestamp() * 1e6),
        )
        for i in range(n)
    ]


def test_n_logged_n_read_across_hour_partitions(tmp_path):
    root = str(tmp_path / "log")
    writer = plog.PredictionLogWriter(root, max_rows=7, max_seconds=0.05)
    for chunk in range(0, 50, 10):
        writer.log(_records(50)[chunk : chunk + 10])
    writer.close()
    assert writer.errors == [] and writer.rows_written == 50
    assert {p.split("/")[-2] for p in writer.files_written} == {"hour=10", "hour=11"}
    rows = plog.read_window(root, T0 - timedelta(hours=1), T0 + timedelta(hours=2))
    assert sorted(r[plog.REQUEST_ID] for r in rows) == sorted(f"r{i}" for i in range(50))
    r3 = next(r for r in rows if r[plog.REQUEST_ID] == "r3")
    assert r3["amount"] == pytest.approx(13.0) and r3["channel"] == "online" and r3["hour"] == 3
    assert r3[plog.PREDICTION] == pytest.approx([0.06]) and r3[plog.REVISION] == "kfx-model-predictor-00001"
    assert "account_age_days" not in next(r for r in rows if r[plog.REQUEST_ID] == "r5")  # missing stays missing
    # a window reads only its rows
    later = plog.read_window(root, T0 + timedelta(seconds=2), T0 + timedelta(hours=1))
    assert len(later) == 50 - 4


def test_close_loses_nothing_still_buffered(tmp_path):
    writer = plog.PredictionLogWriter(str(tmp_path), max_rows=10_000, max_seconds=3600)
    writer.log(_records(123))
    assert writer.rows_written == 0  # nothing written on the caller's thread
    writer.close()
    assert writer.rows_written == 123
    with pytest.raises(RuntimeError, match="closed"):
        writer.log(_records(1))


def test_tfdv_reads_a_window_as_it_is(tmp_path):
    import tensorflow_data_validation as tfdv

    writer = plog.PredictionLogWriter(str(tmp_path))
    writer.log(_records(40))
    writer.close()
    stats = tfdv.generate_statistics_from_tfrecord(
        data_location=f"{tmp_path}/date=*/hour=*/part-*.tfrecord",
        pipeline_options=None,
    )
    features = {f.path.step[0]: f for f in stats.datasets[0].features}
    assert stats.datasets[0].num_examples == 40
    assert {"amount", "channel", "account_age_days", plog.PREDICTION} <= set(features)
    assert features["account_age_days"].num_stats.common_stats.num_missing == 8


def test_labels_join_by_request_id(tmp_path):
    (tmp_path / "labels.csv").write_text("request_id,label\nr1,1\nr2,0\n")
    assert plog.read_labels(str(tmp_path / "labels.csv")) == {"r1": "1", "r2": "0"}
    assert plog.read_labels(str(tmp_path / "none.csv")) == {}
    (tmp_path / "bad.csv").write_text("id,label\nr1,1\n")
    with pytest.raises(ValueError, match="has no request_id column"):
        plog.read_labels(str(tmp_path / "bad.csv"))
