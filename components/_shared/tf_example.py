"""The tf.Example wire format written from Arrow columns, vectorised: one serialized ``tf.train.Example`` per row.

tfx-bsl's ``RecordBatchToExamplesEncoder`` builds and serializes a C++ proto per row (~6 µs per 20-feature row, the
largest cost of ingest). Rows of *scalar* columns (0 or 1 value per cell, as ingest writes) have a fixed shape, so
each column's share of every record can be built at once with numpy and Arrow kernels and the columns joined row by
row. The bytes are exactly the proto's deterministic serialization (``SerializeToString(deterministic=True)``:
features in key order) of the example tfx-bsl encodes from the same batch (``tests/unit/test_tf_example.py`` checks
it value by value, nulls, NaN, negative and large integers, empty and long strings included):

    Example   { 1: Features { 1: repeated MapEntry { 1: key, 2: Feature } } }
    Feature   { 1: BytesList { 1: repeated bytes } | 2: FloatList { 1: packed float } | 3: Int64List { 1: packed varint } }

A null cell is a feature with no value list (``Feature {}``), which tfx-bsl decodes as a null list and TFDV counts
as missing, as with tfx-bsl's encoder.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_BIN = pa.large_binary()
_SEP = pa.scalar(b"", _BIN)  # binary_join_element_wise's separator: none
_LEN = 0x0A  # field 1, wire type 2 (length-delimited)
#: Above this many bytes of padded row (sum of the columns' widest entries) rows are joined, not padded.
MAX_ROW_WIDTH = 4096
_FEATURE_KIND = {"bytes": 0x0A, "float": 0x12, "int": 0x1A}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varints(values: np.ndarray) -> pa.LargeBinaryArray:
    """Each value's protobuf varint (int64 two's complement, so a negative value takes 10 bytes)."""
    v = np.ascontiguousarray(values).astype(np.int64, copy=False).view(np.uint64)
    n = len(v)
    if n and int(v.max()) < 0x80:  # the common case for lengths: one byte each
        data, offsets = v.astype(np.uint8), np.arange(n + 1, dtype=np.int64)
    else:
        sizes = np.ones(n, np.int64)
        for k in range(1, 10):
            sizes += v >= np.uint64(1 << (7 * k))
        groups = np.empty((n, 10), np.uint8)
        for k in range(10):
            groups[:, k] = ((v >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8) | 0x80
        groups[np.arange(n), sizes - 1] &= 0x7F
        data = groups[np.arange(10) < sizes[:, None]]
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
    return pa.LargeBinaryArray.from_buffers(_BIN, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _lengths(payload: pa.Array) -> np.ndarray:
    return pc.binary_length(payload).to_numpy(zero_copy_only=False)


def _wrap(tag: int, payload: pa.Array) -> pa.Array:
    """``tag``, varint(length), payload: a length-delimited field around each row's payload."""
    return pc.binary_join_element_wise(pa.scalar(bytes([tag]), _BIN), varints(_lengths(payload)), payload, _SEP)


def _fixed_width(values: np.ndarray) -> pa.LargeBinaryArray:
    """Each value's little-endian bytes (float32: 4 bytes)."""
    raw = np.ascontiguousarray(values.astype(values.dtype.newbyteorder("<"), copy=False)).view(np.uint8)
    width = values.dtype.itemsize
    offsets = np.arange(len(values) + 1, dtype=np.int64) * width
    return pa.LargeBinaryArray.from_buffers(_BIN, len(values), [None, pa.py_buffer(offsets), pa.py_buffer(raw)])


def _value_list(col: pa.Array) -> tuple[int, pa.Array]:
    """(Feature's oneof tag, the list message of each row's one value); rows of null cells hold garbage."""
    if pa.types.is_integer(col.type):
        return _FEATURE_KIND["int"], _wrap(_LEN, varints(_int_values(col)))  # Int64List { 1: packed }
    if pa.types.is_floating(col.type):
        return _FEATURE_KIND["float"], _wrap(_LEN, _fixed_width(_float_values(col)))  # FloatList { 1: packed }
    return _FEATURE_KIND["bytes"], _wrap(_LEN, _bytes_values(col))  # BytesList { 1: value }


def _int_values(col: pa.Array) -> np.ndarray:
    return pc.fill_null(col.cast(pa.int64()), 0).to_numpy()


def _float_values(col: pa.Array) -> np.ndarray:
    return pc.fill_null(col.cast(pa.float32()), 0.0).to_numpy()


def _bytes_values(col: pa.Array) -> pa.Array:
    if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type) or pa.types.is_string(col.type)):
        if not pa.types.is_large_string(col.type):
            raise TypeError(f"no tf.Example encoding for Arrow type {col.type}: expected int, float, binary or string")
    return pc.fill_null(col.cast(_BIN), b"")


def _kind(col: pa.Array) -> int:
    if pa.types.is_integer(col.type):
        return _FEATURE_KIND["int"]
    return _FEATURE_KIND["float"] if pa.types.is_floating(col.type) else _FEATURE_KIND["bytes"]


def _entries_general(key_field: bytes, col: pa.Array) -> pa.Array:
    """Map entries with any lengths (multi-byte length varints): nested length-delimited fields."""
    kind, value_list = _value_list(col)
    feature = _wrap(kind, value_list)  # Feature { kind: list }
    entry = pc.binary_join_element_wise(  # MapEntry { 1: key, 2: Feature }
        pa.scalar(key_field + b"\x12", _BIN), varints(_lengths(feature)), feature, _SEP
    )
    return _wrap(_LEN, entry)


def _varint_bytes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n x width uint8 groups, sizes): each int64's varint, left-aligned, ``width`` = the longest."""
    v = values.astype(np.int64, copy=False).view(np.uint64)
    sizes = np.ones(len(v), np.int64)
    for k in range(1, 10):
        sizes += v >= np.uint64(1 << (7 * k))
    width = int(sizes.max()) if len(v) else 1
    groups = np.empty((len(v), width), np.uint8)
    for k in range(width):
        groups[:, k] = ((v >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8) | 0x80
    groups[np.arange(len(v)), sizes - 1] &= 0x7F
    return groups, sizes


def _ragged(rows: np.ndarray, sizes: np.ndarray) -> pa.LargeBinaryArray:
    """A binary array of each row's first ``sizes[i]`` bytes of ``rows`` (n x width uint8)."""
    data = rows[np.arange(rows.shape[1]) < sizes[:, None]]
    offsets = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return pa.LargeBinaryArray.from_buffers(_BIN, len(sizes), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _padded(values: pa.Array, lengths: np.ndarray) -> np.ndarray:
    """n x max(length) uint8: each binary value left-aligned (the rest is garbage, cut by the lengths later)."""
    width = int(lengths.max()) if len(lengths) else 0
    if width == 0:
        return np.zeros((len(values), 0), np.uint8)
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64, len(values) + 1, values.offset * 8)
    data = np.frombuffer(data_buf, np.uint8)
    index = np.minimum(offsets[:-1, None] + np.arange(width), len(data) - 1)
    return data[index]


def entry_block(name: str, col: pa.Array) -> _EntryBlock | None:
    """Each row's ``Features.feature`` map entry for column ``name`` as (n x width uint8 rows, sizes), or None when
    an entry is too long for one-byte lengths or too wide for a matrix (the caller then joins general entries).

    Every entry has one shape: ``0a E 0a K key 12 F kind B 0a L value`` (field 1 of Features; the map entry's key
    and its Feature; the Feature's list; the list's one field), every length one byte when E < 128.
    A null cell's entry is ``0a E 0a K key 12 00`` (value ``Feature {}``).
    """
    key = name.encode("utf-8")
    key_field = bytes([_LEN]) + _varint(len(key)) + key
    kind = _kind(col)
    if kind == _FEATURE_KIND["int"]:
        value, lengths = _varint_bytes(_int_values(col))
    elif kind == _FEATURE_KIND["float"]:
        floats = _float_values(col)
        value = np.ascontiguousarray(floats.astype("<f4", copy=False)).view(np.uint8).reshape(len(floats), 4)
        lengths = np.full(len(floats), 4, np.int64)
    else:
        strings = _bytes_values(col)
        lengths = _lengths(strings).astype(np.int64)
        value = None
    size_e = len(key_field) + 2 + (lengths + 4)  # key field, 12 F, Feature (F = len(kind B 0a L value))
    if len(col) and int(size_e.max()) >= 0x80:
        return None
    if value is None:
        value = _padded(strings, lengths)
    return _EntryBlock(key_field, kind, value, lengths, col)


class _EntryBlock:
    """One column's entries, ready to be written as rows of a uint8 matrix (see :func:`entry_block`)."""

    def __init__(self, key_field: bytes, kind: int, value: np.ndarray, lengths: np.ndarray, col: pa.Array) -> None:
        self.key_field, self.kind, self.value, self.lengths = key_field, kind, value, lengths
        self.prefix = 2 + len(key_field) + 6
        self.width = self.prefix + value.shape[1]
        self.sizes = len(key_field) + 8 + lengths  # 0a E, key field, 12 F kind B 0a L, value
        self.null = None
        if col.null_count:
            self.empty = bytes([_LEN]) + _varint(len(key_field) + 2) + key_field + b"\x12\x00"  # Feature {}
            self.null = ~col.is_valid().to_numpy(zero_copy_only=False)
            self.sizes[self.null] = len(self.empty)

    def write(self, rows: np.ndarray) -> None:
        """Write the entries into ``rows`` (n x ``width``), each left-aligned.

        Every entry's head (all but the value) depends only on the value's length, so the heads are rows of a small
        table (one per length, and one for a null cell), written with one gather.
        """
        top = int(self.lengths.max()) if len(self.lengths) else 0
        lengths = np.arange(top + 2)
        at = 2 + len(self.key_field)
        table = np.empty((top + 2, self.prefix), np.uint8)
        table[:] = np.frombuffer(bytes([_LEN, 0]) + self.key_field + bytes([0x12, 0, self.kind, 0, _LEN, 0]), np.uint8)
        table[:, 1] = np.minimum(len(self.key_field) + 6 + lengths, 0x7F)  # E (entry_block checked E < 128)
        table[:, at + 1] = np.minimum(lengths + 4, 0x7F)  # F = len(kind B 0a L value)
        table[:, at + 3] = np.minimum(lengths + 2, 0x7F)  # B = len(0a L value)
        table[:, at + 5] = np.minimum(lengths, 0x7F)  # L
        index = self.lengths
        if self.null is not None:  # the last row: a null cell's whole entry (shorter than the head)
            table[top + 1, : len(self.empty)] = np.frombuffer(self.empty, np.uint8)
            index = np.where(self.null, top + 1, self.lengths)
        rows[:, : self.prefix] = table[index]
        rows[:, self.prefix :] = self.value


def feature_entries(name: str, col: pa.Array) -> pa.Array:
    """Each row's ``Features.feature`` map entry for column ``name``, serialized (any lengths)."""
    block = entry_block(name, col)
    if block is not None:
        rows = np.empty((len(col), block.width), np.uint8)
        block.write(rows)
        return _ragged(rows, block.sizes)
    key = name.encode("utf-8")
    key_field = bytes([_LEN]) + _varint(len(key)) + key
    entries = _entries_general(key_field, col)
    if col.null_count:
        empty = bytes([_LEN]) + _varint(len(key_field) + 2) + key_field + b"\x12\x00"
        entries = pc.if_else(col.is_valid(), entries, pa.scalar(empty, _BIN))
    return entries


def encode_batch(batch: pa.RecordBatch | pa.Table) -> pa.LargeBinaryArray:
    """Serialized tf.Examples, one per row of ``batch`` (scalar columns: int / float / binary / string, nulls
    missing), features in key order (the proto's deterministic serialization)."""
    if batch.num_rows == 0 or batch.num_columns == 0:
        return pa.array([b"\x0a\x00"] * batch.num_rows, _BIN)  # Example { features: {} }
    order = sorted(range(batch.num_columns), key=lambda i: batch.schema.names[i].encode("utf-8"))
    columns = [(batch.schema.names[i], _combined(batch.column(i))) for i in order]
    blocks = [entry_block(name, col) for name, col in columns]
    if any(b is None for b in blocks) or sum(b.width for b in blocks) > MAX_ROW_WIDTH:
        parts = [feature_entries(name, col) for name, col in columns]
        total = sum(_lengths(p).astype(np.int64) for p in parts)
        records = pc.binary_join_element_wise(pa.scalar(bytes([_LEN]), _BIN), varints(total), *parts, _SEP)
        return records.combine_chunks() if isinstance(records, pa.ChunkedArray) else records
    total = sum(b.sizes for b in blocks)
    header, header_sizes = _varint_bytes(total)
    widths = [1 + header.shape[1]] + [b.width for b in blocks]
    rows = np.empty((batch.num_rows, sum(widths)), np.uint8)
    keep = np.empty(rows.shape, bool)
    rows[:, 0], rows[:, 1 : widths[0]], keep[:, 0] = _LEN, header, True
    keep[:, 1 : widths[0]] = np.arange(header.shape[1]) < header_sizes[:, None]
    at = widths[0]
    for block in blocks:
        block.write(rows[:, at : at + block.width])
        keep[:, at : at + block.width] = np.arange(block.width) < block.sizes[:, None]
        at += block.width
    offsets = np.zeros(batch.num_rows + 1, np.int64)
    np.cumsum(1 + header_sizes + total, out=offsets[1:])
    data = rows[keep]
    return pa.LargeBinaryArray.from_buffers(_BIN, batch.num_rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _combined(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


# --------------------------------------------------------------------------------------------- TFRecord


def _masked_crc(crcs: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC32C: ((crc >> 15) | (crc << 17)) + 0xa282ead8, modulo 2**32."""
    c = crcs.astype(np.uint64)
    return ((((c >> np.uint64(15)) | (c << np.uint64(17))) + np.uint64(0xA282EAD8)) & np.uint64(0xFFFFFFFF)).astype(
        "<u4"
    )


def tfrecord_frames(records: pa.LargeBinaryArray) -> pa.Buffer:
    """``records`` framed as a TFRecord file's bytes (uncompressed), exactly what ``tf.io.TFRecordWriter`` writes:
    per record uint64 length, uint32 masked CRC32C of the length, the data, uint32 masked CRC32C of the data
    (all little-endian). One CRC call per record (``google_crc32c``, C), no Python object per record besides."""
    import google_crc32c

    n = len(records)
    if n == 0:
        return pa.py_buffer(b"")
    _, offsets_buf, data_buf = records.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64, n + 1, records.offset * 8)
    lengths = np.diff(offsets)
    data = data_buf.to_pybytes()[offsets[0] : offsets[-1]]
    bounds = (offsets - offsets[0]).tolist()
    crc = google_crc32c.value
    data_crcs = np.fromiter((crc(data[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)), np.uint32, n)
    distinct, index = np.unique(lengths, return_inverse=True)
    length_crcs = np.array([crc(int(x).to_bytes(8, "little")) for x in distinct], np.uint32)[index]
    header = np.empty((n, 12), np.uint8)
    header[:, :8] = lengths.astype("<u8").view(np.uint8).reshape(n, 8)
    header[:, 8:] = _masked_crc(length_crcs).view(np.uint8).reshape(n, 4)
    footer = _masked_crc(data_crcs).view(np.uint8).reshape(n, 4)
    framed = pc.binary_join_element_wise(_rows(header), records, _rows(footer), _SEP)
    _, framed_offsets, framed_data = framed.buffers()
    bounds = np.frombuffer(framed_offsets, np.int64, n + 1, framed.offset * 8)
    return framed_data.slice(int(bounds[0]), int(bounds[-1] - bounds[0]))


def _rows(matrix: np.ndarray) -> pa.LargeBinaryArray:
    """Each row of an n x w uint8 matrix as one binary value."""
    n, width = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.LargeBinaryArray.from_buffers(
        _BIN, n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(matrix))]
    )


__all__ = ["encode_batch", "feature_entries", "tfrecord_frames", "varints"]
