"""The vectorised tf.Example encoder writes, row for row, the deterministic serialization of what tfx-bsl's
``RecordBatchToExamplesEncoder`` encodes from the same batch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from tensorflow.core.example.example_pb2 import Example
from tfx_bsl.coders import example_coder

from components._shared.artifacts.examples import to_list_batch
from components._shared.tf_example import encode_batch, varints

pytestmark = pytest.mark.unit


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


def test_edge_values_byte_for_byte():
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([1, None, -5, 300, 2**63 - 1, -(2**63), 0, 127, 128]),
            pa.array([1.5, None, float("nan"), 2.0, -0.0, 1e300, float("inf"), 1e-45, 3.3]),
            pa.array(
                [b"ab", None, b"", b"x" * 200, "é".encode(), b"y" * 70_000, b"\x00", b"z" * 127, b"q"],
                pa.large_binary(),
            ),
            pa.array(["s", "t", None, "", "ü" * 3, "v", "w", "x", "y"]),
        ],
        names=["zz", "a", "m" * 120, "B"],
    )
    _assert_same(batch)


def test_generated_columns_byte_for_byte():
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
    _assert_same(pa.RecordBatch.from_arrays(arrays, names=names))


def test_one_row_and_no_rows():
    _assert_same(pa.RecordBatch.from_arrays([pa.array([7])], names=["only"]))
    assert len(encode_batch(pa.RecordBatch.from_arrays([pa.array([], pa.int64())], names=["only"]))) == 0


def test_varints_match_the_protobuf_encoding():
    from google.protobuf.internal.encoder import _VarintBytes

    values = np.array([0, 1, 127, 128, 300, 2**35, 2**63 - 1, -1, -(2**63)], np.int64)
    expected = [_VarintBytes(int(v) & (2**64 - 1)) for v in values]
    assert varints(values).to_pylist() == expected


def test_tfrecord_frames_are_the_bytes_tf_record_writer_writes(tmp_path):
    import tensorflow as tf

    from components._shared.tf_example import tfrecord_frames

    rng = np.random.default_rng(3)
    records = [rng.integers(0, 256, k, dtype=np.uint8).tobytes() for k in (0, 1, 5, 400, 70_000, 3, 128, 129) * 50]
    path = str(tmp_path / "ref.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for record in records[2:]:
            writer.write(record)
    sliced = pa.array(records, pa.large_binary()).slice(2)  # an offset into the array's buffers, too
    assert tfrecord_frames(sliced).to_pybytes() == open(path, "rb").read()
    assert tfrecord_frames(pa.array([], pa.large_binary())).size == 0
