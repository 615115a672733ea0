"""Arrow batches as columns of kfx's one tf.Example encoder (``components/_shared/example_wire.py``).

Ingest writes batches of *scalar* columns (int / float / binary / string, a null = a missing cell). Each becomes an
encoder column without a Python object per row: integers as int64, floats as float32 (``FloatList``), strings and
binaries as one buffer with a length per row, nulls as ``Feature {}`` (a feature with no value list, as tfx-bsl's
``RecordBatchToExamplesEncoder`` writes them; TFDV counts them as missing). The records are the deterministic
serialization (features in key order) of what tfx-bsl encodes from the same batch (``tests/unit/test_example_wire.py``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from components._shared import example_wire as wire

_BIN = pa.large_binary()


def column(col: pa.Array | pa.ChunkedArray) -> wire.Column:
    """One Arrow column of scalars as an encoder column."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    null = ~col.is_valid().to_numpy(zero_copy_only=False) if col.null_count else None
    if pa.types.is_integer(col.type):
        return wire.Int64Column(pc.fill_null(col.cast(pa.int64()), 0).to_numpy(), null=null)
    if pa.types.is_floating(col.type):
        return wire.FloatColumn(pc.fill_null(col.cast(pa.float32()), 0.0).to_numpy(), null=null)
    if not any(is_type(col.type) for is_type in (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_string)):
        if not pa.types.is_large_string(col.type):
            raise TypeError(f"no tf.Example encoding for Arrow type {col.type}: expected int, float, binary or string")
    strings = pc.fill_null(col.cast(_BIN), b"")
    _, offsets_buf, data_buf = strings.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64, len(strings) + 1, strings.offset * 8)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return wire.BytesColumn(data[offsets[0] : offsets[-1]], lens=np.diff(offsets), null=null)


def columns(batch: pa.RecordBatch | pa.Table) -> dict[str, wire.Column]:
    """A batch's columns by name, as encoder columns."""
    return {name: column(batch.column(i)) for i, name in enumerate(batch.schema.names)}


def encode_batch(batch: pa.RecordBatch | pa.Table) -> pa.LargeBinaryArray:
    """Serialized tf.Examples, one per row of ``batch``, as one Arrow binary array."""
    data, offsets = wire.encode_joined(columns(batch), batch.num_rows)
    return pa.LargeBinaryArray.from_buffers(_BIN, batch.num_rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
