"""kfx's one tf.Example encoder (components/_shared/example_wire.py) writes the deterministic serialization of the
Examples its two users mean, byte for byte:

* ingest's Arrow batches (``example_wire_arrow``): what tfx-bsl's ``RecordBatchToExamplesEncoder`` encodes from the
  same batch (nulls, NaN, edge integers, empty and long strings), framed as ``tf.io.TFRecordWriter`` writes;
* the prediction log's columns (``prediction_log.encode_batch``): what the per-row protobuf encoding the log used
  before gives (field for field against the plain serialization too), incl. constant and per-row bytes columns.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from tensorflow.core.example.example_pb2 import Example
from tfx_bsl.coders import example_coder

from components._shared import example_wire as wire
from components._shared import example_wire_arrow
from components._shared.artifacts import prediction_log as plog
from components._shared.artifacts.examples import to_list_batch
from components._shared.example_wire_arrow import encode_batch

pytestmark = pytest.mark.unit


# ------------------------------------------------------------------ ingest's path: Arrow batches vs tfx-bsl
def _tfx_bsl(batch: pa.RecordBatch) -> list[bytes]:
    """tfx-bsl's records (it takes binary, not utf8, lists), re-serialized deterministically (features by key)."""
    columns = [c.cast(pa.large_binary()) if pa.types.is_string(c.type) else c for c in batch.columns]
    batch = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    records = example_coder.RecordBatchToExamplesEncoder().encode(to_list_batch(batch))
    return [Example.FromString(r).SerializeToString(deterministic=True) for r in records]


def _assert_same(batch: pa.RecordBatch) -> None:
    mine = encode_batch(batch).to_pylist()
    expected = _tfx_bsl(batch)
    assert len(mine) == len(expected) == batch.num_rows
    for i, (a, b) in enumerate(zip(mine, expected, strict=True)):
        assert a == b, f"row {i}: {a.hex(' ')} != {b.hex(' ')}"


def _edge_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [
            pa.array([1, None, -5, 300, 2**63 - 1, -(2**63), 0, 127, 128]),
            pa.array([1.5, None, float("nan"), 2.0, -0.0, 1e300, float("inf"), 1e-45, 3.3]),
            pa.array(
                [b"ab", None, b"", b"x" * 200, "é".encode(), b"y" * 70_000, b"\x00", b"z" * 127, b"q"],
                pa.large_binary(),
            ),
            pa.array(["s", "t", None, "", "ü" * 3, "v", "w", "x", "y"]),
            pa.array([None, b"", b"k", None, b"", b"", b"long" * 40, b"", None], pa.binary()),
            pa.array([None] * 9, pa.float64()),
        ],
        names=["zz", "a", "m" * 120, "B", "empties", "all_null"],
    )


def test_edge_values_byte_for_byte():
    batch = _edge_batch()
    _assert_same(batch)
    _assert_same(batch.slice(2, 5))  # an offset into the Arrow buffers
    short = pa.RecordBatch.from_arrays([batch.column(i) for i in (0, 1, 3, 4, 5)], ["zz", "a", "B", "e", "i"])
    _assert_same(short)  # every entry short: the one-matrix path, nulls included


def test_generated_columns_byte_for_byte(monkeypatch):
    rng = np.random.default_rng(7)
    n = 3000
    arrays, names = [], []
    for i in range(12):
        missing = rng.random(n) < 0.1 * (i % 3)
        if i % 3 == 0:
            values = pa.array(rng.integers(-(10**12), 10**12, n), mask=missing)
        elif i % 3 == 1:
            values = pa.array(rng.lognormal(3.0, 2.0, n), mask=missing)
        else:
            vocab = np.array([f"v{k}" * (k % 9) for k in range(50)], dtype=object)
            values = pa.array(rng.choice(vocab, n), mask=missing).cast(pa.large_binary())
        arrays.append(values)
        names.append(f"col_{(i * 7) % 12:02d}")
    batch = pa.RecordBatch.from_arrays(arrays, names=names)
    _assert_same(batch)
    monkeypatch.setattr(wire, "BLOCK_ROWS", 700)  # blocks that cut the byte buffers mid-batch
    _assert_same(batch)
    assert encode_batch(pa.Table.from_batches([batch.slice(0, 1000), batch.slice(1000)])).to_pylist() == _tfx_bsl(
        batch
    )  # chunked columns


def test_one_row_no_rows_and_unsupported_types():
    _assert_same(pa.RecordBatch.from_arrays([pa.array([7])], names=["only"]))
    assert len(encode_batch(pa.RecordBatch.from_arrays([pa.array([], pa.int64())], names=["only"]))) == 0
    with pytest.raises(TypeError, match="no tf.Example encoding for Arrow type list<item: int64>"):
        encode_batch(pa.RecordBatch.from_arrays([pa.array([[1]])], names=["nested"]))


def test_varints_match_the_protobuf_encoding():
    from google.protobuf.internal.encoder import _VarintBytes

    values = np.array([0, 1, 127, 128, 300, 2**35, 2**63 - 1, -1, -(2**63)], np.int64)
    mat, sizes = wire._varint_matrix(values.view(np.uint64))
    assert [mat[i, : sizes[i]].tobytes() for i in range(len(values))] == [
        _VarintBytes(int(v) & (2**64 - 1)) for v in values
    ]


def test_row_prefix_masks_narrow_and_wide():
    rng = np.random.default_rng(5)
    for w in (1, 2, 8, 64, 65, 300):
        width = rng.integers(0, w + 1, 500)
        width[:2] = 0, w
        out = np.ones((500, w + 3), bool)[:, 1 : w + 1]  # a strided slice, as the block's mask gives
        wire._row_prefixes(width, w, out)
        assert (out == (np.arange(w)[None, :] < width[:, None])).all()


def test_feature_empty_rows_share_the_value_entries_matrix(monkeypatch):
    """A short-entry column with missing cells is one piece (value and ``Feature {}`` rows in one matrix), and its
    records are still the deterministic serialization of the Examples meant."""
    values = np.array([5, 0, 300, 7, 2**40, 1])
    null = np.array([0, 1, 0, 1, 1, 0], bool)
    present = np.array([1, 1, 1, 1, 0, 1], bool)
    cols = {"i": wire.Int64Column(values, present, null), "f": wire.FloatColumn(values.astype(np.float32), None, null)}
    pieces = []
    real = wire._Pieces.bytes

    def spy(self):  # noqa: ANN001, ANN202
        pieces.append(len(self.mats))
        return real(self)

    monkeypatch.setattr(wire._Pieces, "bytes", spy)
    expected = []
    for r in range(6):
        feats = {
            "f": tf.train.Feature() if null[r] else tf.train.Feature(float_list=tf.train.FloatList(value=[values[r]]))
        }
        if present[r]:
            feats["i"] = (
                tf.train.Feature() if null[r] else tf.train.Feature(int64_list=tf.train.Int64List(value=[values[r]]))
            )
        expected.append(
            tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString(deterministic=True)
        )
    assert wire.encode(cols, 6) == expected
    assert pieces == [4]  # the records' tag, their length, one piece per column


def test_length_varint_sizes():
    assert wire._vs(np.array([0, 5, 127])) == 1 and wire._vs(np.zeros(0, np.int64)) == 1
    assert wire._vs(np.array([5, 128, 2**14, 2**35])).tolist() == [1, 2, 3, 6]


def test_tfrecord_frames_are_the_bytes_tf_record_writer_writes(tmp_path):
    rng = np.random.default_rng(3)
    records = [rng.integers(0, 256, k, dtype=np.uint8).tobytes() for k in (0, 1, 5, 400, 70_000, 3, 128, 129) * 50]
    path = str(tmp_path / "ref.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for record in records[2:]:
            writer.write(record)
    offsets = np.concatenate(([0], np.cumsum([len(r) for r in records])))
    data = np.frombuffer(b"".join(records), np.uint8)
    expected = open(path, "rb").read()
    assert wire.tfrecord_frames(data, offsets[2:]).tobytes() == expected  # records from an offset into the data
    assert wire.tfrecord_frames(data.tobytes(), offsets[2:]).tobytes() == expected
    assert wire.tfrecord_frames(b"", np.zeros(1, np.int64)).size == 0


def test_encode_framed_is_the_encoded_records_in_tf_record_writer_frames(tmp_path, monkeypatch):
    """Ingest's path: columns compacted straight into TFRecord frames are the bytes of ``tf.io.TFRecordWriter``
    writing the records ``encode`` gives (every column kind, nulls, entries over 127 bytes, blocks mid-batch)."""
    batch = _edge_batch()
    rng = np.random.default_rng(11)
    n = 2000
    generated = pa.RecordBatch.from_arrays(
        [
            pa.array(rng.integers(-(10**12), 10**12, n), mask=rng.random(n) < 0.2),
            pa.array(rng.lognormal(3.0, 2.0, n)),
            pa.array(rng.choice(np.array(["", "a", "bb" * 70, "ccc"], dtype=object), n)).cast(pa.large_binary()),
            pa.array(rng.integers(0, 300, n)),
        ],
        names=["i", "f", "s", "small"],
    )
    for b, block_rows in ((batch, 4096), (batch.slice(2, 5), 4096), (generated, 4096), (generated, 333)):
        monkeypatch.setattr(wire, "BLOCK_ROWS", block_rows)
        cols = example_wire_arrow.columns(b)
        path = str(tmp_path / "ref.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for record in wire.encode(cols, b.num_rows):
                writer.write(record)
        expected = open(path, "rb").read()
        assert wire.encode_framed(cols, b.num_rows).tobytes() == expected
        assert b"".join(part.tobytes() for part in wire.encode_framed_blocks(cols, b.num_rows)) == expected
        assert wire.tfrecord_frames(*wire.encode_joined(cols, b.num_rows)).tobytes() == expected
    assert wire.encode_framed(example_wire_arrow.columns(batch.slice(0, 0)), 0).size == 0


# ----------------------------------------------- the prediction log's path: columns vs per-row protobuf


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


def test_map_entries_in_the_runtime_s_deterministic_order():
    names = ["a", "all_null", "ab", "b", "B", "aa", "", "é", "e\u00ff", "\x00"]
    example = tf.train.Example()
    for name in names:
        example.features.feature[name].int64_list.value.append(1)
    cols = {name: wire.Int64Column(np.ones(1, np.int64)) for name in names}
    assert wire.encode(cols, 1) == [example.SerializeToString(deterministic=True)]


def test_every_column_kind_with_absent_and_null_rows():
    """Each column kind, per-row presence and ``Feature {}`` rows, long and short entries: the deterministic
    serialization of the Examples meant."""
    rows = 6
    present = np.array([1, 1, 0, 1, 1, 1], bool)
    null = np.array([0, 1, 1, 0, 0, 1], bool)
    long_value = b"L" * 300
    cols = {
        "c": wire.ConstBytesColumn(b"model-a", present, null),
        "c_long": wire.ConstBytesColumn(long_value),
        "f": wire.FloatColumn(np.arange(rows * 2, dtype=np.float32).reshape(rows, 2), None, null),
        "i": wire.Int64Column(np.array([-1, 0, 2**40, 5, 127, 128]), present, null),
        "s": wire.BytesColumn.of_strings(["a", "", "ccc", "d" * 200, "e", "f"]),
        "s_buf": wire.BytesColumn(b"xyyzzz" + b"w" * 130, present, np.array([1, 2, 3, 0, 130, 0]), null),
    }
    expected = []
    for r in range(rows):
        feats = {
            "c_long": tf.train.Feature(bytes_list=tf.train.BytesList(value=[long_value])),
            "s": tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[[b"a", b"", b"ccc", b"d" * 200, b"e", b"f"][r]])
            ),
            "f": tf.train.Feature()
            if null[r]
            else tf.train.Feature(float_list=tf.train.FloatList(value=[2 * r, 2 * r + 1])),
        }
        if present[r]:
            feats["c"] = (
                tf.train.Feature() if null[r] else tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"model-a"]))
            )
            i = [-1, 0, 2**40, 5, 127, 128][r]
            feats["i"] = tf.train.Feature() if null[r] else tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))
            s = [b"x", b"yy", b"zzz", b"", b"w" * 130, b""][r]
            feats["s_buf"] = (
                tf.train.Feature() if null[r] else tf.train.Feature(bytes_list=tf.train.BytesList(value=[s]))
            )
        expected.append(
            tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString(deterministic=True)
        )
    assert wire.encode(cols, rows) == expected
    data, offsets = wire.encode_joined(cols, rows)
    assert (
        data.tobytes() == b"".join(expected)
        and offsets.tolist() == np.cumsum([0] + [len(e) for e in expected]).tolist()
    )


def test_tfx_bsl_decodes_the_log_records_as_tensorflow_does():
    """tfx-bsl's C++ decoder (what TFDV uses on the log) reads the bulk-encoded records."""
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
