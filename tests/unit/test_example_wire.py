"""The bulk tf.Example encoder (components/_shared/example_wire.py) and the prediction log's use of it give the
same records as the per-row protobuf encoding the log used before: byte for byte against the deterministic
serialization, field for field against the plain one."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from components._shared import example_wire as wire
from components._shared.artifacts import prediction_log as plog

pytestmark = pytest.mark.unit


# ---------------------------------------------------------------- the per-row encoding the log used until now
def _old_feature(value):
    if isinstance(value, bool | int) and not isinstance(value, float):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    if isinstance(value, float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    if isinstance(value, bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(value).encode()]))


def _old_example(record: plog.Record) -> tf.train.Example:
    feats = {}
    for name, value in record.features.items():
        if value is None or (isinstance(value, float) and value != value):
            continue
        feats[name] = _old_feature(value)
    feats[plog.REQUEST_ID] = _old_feature(record.request_id)
    feats[plog.TIMESTAMP] = _old_feature(int(record.timestamp_us))
    feats[plog.MODEL] = _old_feature(record.model)
    feats[plog.REVISION] = _old_feature(record.revision)
    feats[plog.PREDICTION] = tf.train.Feature(
        float_list=tf.train.FloatList(value=[float(v) for v in record.prediction])
    )
    return tf.train.Example(features=tf.train.Features(feature=feats))


def _records(n: int, width: int = 1) -> list[plog.Record]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        features = {
            "amount": None if i % 7 == 0 else float(np.float32(rng.normal() * 100)),
            "distance": float("nan") if i % 11 == 0 else float(i) + 0.5,
            "account_age_days": None if i % 5 == 0 else int(rng.integers(-(2**63), 2**63 - 1)),
            "hour": i % 24,
            "big": [0, 1, 127, 128, 2**31, 2**63 - 1, -1, -(2**63)][i % 8],
            "channel": ["online", "pos", "", "ünïcødé-" * (i % 40)][i % 4],
            "country": None if i % 3 == 0 else f"c{i}",
        }
        out.append(
            plog.Record(
                request_id=f"req-{i // 3}",
                features=features,
                prediction=[float(np.float32(v)) for v in rng.random(width)],
                model="fraud",
                revision=f"fraud-predictor-{i % 2:05d}",
                timestamp_us=1_795_000_000_000_000 + i * 1_234,
            )
        )
    return out


KINDS = {"amount": "float", "distance": "float", "account_age_days": "int", "hour": "int", "big": "int"}
KINDS |= {"channel": "string", "country": "string"}


@pytest.mark.parametrize("width", [1, 3])
def test_bulk_encoding_equals_the_per_row_encoding(width):
    records = _records(300, width)
    old = [_old_example(r) for r in records]
    # the model server's path: columns with the model's kinds, model and revision per batch or per row
    batch = plog.batch_of(records)
    assert batch.kinds == KINDS
    new = plog.encode_batch(batch)
    assert new == [e.SerializeToString(deterministic=True) for e in old]  # byte for byte
    assert [tf.train.Example.FromString(b) for b in new] == [  # field for field with what was written before
        tf.train.Example.FromString(e.SerializeToString()) for e in old
    ]
    assert [plog.encode(r) for r in records[:20]] == new[:20]


def test_blocks_and_long_strings_give_the_same_bytes(monkeypatch):
    records = _records(97)
    expected = plog.encode_batch(plog.batch_of(records))
    monkeypatch.setattr(wire, "BLOCK_ROWS", 8)
    assert plog.encode_batch(plog.batch_of(records)) == expected
    records[5].features["channel"] = "x" * 300_000  # rows per block shrink to bound the padded matrices
    monkeypatch.setattr(wire, "MAX_BLOCK_BYTES", 1 << 20)
    assert plog.encode_batch(plog.batch_of(records)) == [
        _old_example(r).SerializeToString(deterministic=True) for r in records
    ]


def test_edge_columns():
    cols = {
        "empty_list": wire.FloatColumn(np.zeros((3, 0), np.float32)),
        "absent_everywhere": wire.Int64Column(np.zeros(3, np.int64), np.zeros(3, bool)),
        "b": wire.BytesColumn([b"", b"\x00\xff", b"z"]),
    }
    got = [tf.train.Example.FromString(b) for b in wire.encode(cols, 3)]
    assert [list(e.features.feature["b"].bytes_list.value) for e in got] == [[b""], [b"\x00\xff"], [b"z"]]
    assert all(e.features.feature["empty_list"].HasField("float_list") for e in got)
    assert all("absent_everywhere" not in e.features.feature for e in got)
    assert wire.encode({}, 2) == [tf.train.Example(features=tf.train.Features()).SerializeToString()] * 2


def test_tfx_bsl_decodes_the_log_records_as_tensorflow_does():
    """tfx-bsl's C++ decoder (what TFDV uses on the log) reads the bulk-encoded records."""
    from tfx_bsl.coders import example_coder

    records = _records(50)
    batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(plog.encode_batch(plog.batch_of(records)))
    assert batch.num_rows == 50
    assert batch.column(batch.schema.get_field_index("big")).to_pylist()[:8] == [
        [0], [1], [127], [128], [2**31], [2**63 - 1], [-1], [-(2**63)]
    ]  # fmt: skip
    country = batch.column(batch.schema.get_field_index("country")).to_pylist()
    assert country[:3] == [None, [b"c1"], [b"c2"]]


def test_the_writer_takes_records_of_models_with_different_outputs_in_one_buffer(tmp_path):
    """The payload sink's buffer may hold a binary model's rows next to a 3-class model's: nothing is lost."""
    writer = plog.PredictionLogWriter(str(tmp_path), max_seconds=3600)
    writer.log(_records(5, width=1))
    writer.log(_records(4, width=3))
    writer.close()
    assert writer.errors == [] and writer.rows_written == 9
    rows = list(plog.read_records(writer.files_written))
    assert sorted(len(r[plog.PREDICTION]) for r in rows) == [1] * 5 + [3] * 4
