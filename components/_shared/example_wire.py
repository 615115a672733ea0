"""kfx's one tf.Example encoder: serialized tf.Examples from columns, in bulk with numpy (no TensorFlow, no
protobuf object per value, no pyarrow: the serving environment imports it), and their TFRecord framing.

Its two users: the prediction log's writer (``components/_shared/artifacts/prediction_log.py``, in the model
server) and ingest's shard writer (``components/_shared/artifacts/examples.py``), whose Arrow batches are turned
into these columns by ``components/_shared/example_wire_arrow.py``.

``encode(columns, rows)`` writes the protobuf wire format of ``tf.train.Example`` directly: for each row, one map
entry per column that has a value in that row, in key order. The bytes are exactly what
``tf.train.Example(...).SerializeToString(deterministic=True)`` gives for the same features (deterministic
serialization writes map entries sorted by key); ``tests/unit/test_example_wire.py`` checks that, that the records
of Arrow batches are the deterministic serialization of what tfx-bsl's ``RecordBatchToExamplesEncoder`` encodes from
them (nulls, NaN, negative and large integers, empty and long strings included), and that tfx-bsl's decoder reads
them back.

Why: building one ``tf.train.Feature`` per value in Python costs microseconds per value under the GIL; here the
per-row work is numpy's (C loops over byte arrays), so the prediction log's writer thread barely competes with the
model server's request path. Measured (``benchmarks/prediction_log_encoding.py``, 18 features): ~2.2 µs per row,
vs ~37 per-row protobuf and ~5.8 for tfx-bsl's C++ ``RecordBatchToExamplesEncoder`` fed the same columns (which
the serving environment does not have anyway).

How: a row's bytes are pieces side by side (:class:`_Pieces`): constant bytes (a key's header), varints of lengths,
payloads; each piece is a ``[rows, width]`` uint8 matrix of which row i uses its first ``width[i]`` bytes, and one
boolean mask keeps the used bytes of every row in order. When every length in a map entry is below 128 the whole
entry is one matrix. Rows go in blocks of at most ``BLOCK_ROWS`` (fewer when long byte strings would make the
padded matrices exceed ``MAX_BLOCK_BYTES``). :func:`encode_framed` (ingest's shards) adds each record's TFRecord
frame as two more pieces (head before, foot after), so the one compaction gives the file's bytes. A column's
``Feature {}`` rows share its value entries' matrix when that is one matrix, and a narrow piece's used bytes are
rows of a precomputed prefix table. Measured (CPU, the split batches of the first 200k rows of the statistics
benchmark's 1M x 20 CSV, 2026-11-27): encode + frame 0.55 s before these (``encode_joined`` + ``tfrecord_frames``,
nulls as pieces of their own), 0.33 s now; taxi 150k: 0.47 -> 0.26.

Columns (each has a value per row; ``present[i]`` False = the feature is absent from row i; ``null[i]`` True = the
feature is there with no value list, ``Feature {}``, as tfx-bsl writes an Arrow null, which TFDV counts as missing):

* :class:`Int64Column` ``int64_list`` of one value (int64 array);
* :class:`FloatColumn` ``float_list``: a float32 array ``[rows]`` (one value) or ``[rows, k]`` (k values);
* :class:`BytesColumn` ``bytes_list`` of one value (a list of ``bytes``, or one buffer and a length per row);
* :class:`ConstBytesColumn` the same bytes in every row (written once per block).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BLOCK_ROWS = 4096
MAX_BLOCK_BYTES = 16 << 20  # bound on a block's padded matrices
_BYTES, _FLOAT, _INT64 = 0x0A, 0x12, 0x1A  # tag of Feature.bytes_list (1), .float_list (2), .int64_list (3)
_LEN1, _LEN2 = 0x0A, 0x12  # tag of a length-delimited field 1 and field 2


@dataclass
class Int64Column:
    values: np.ndarray  # int64 [rows]
    present: np.ndarray | None = None  # bool [rows]; None = every row has a value
    null: np.ndarray | None = None  # bool [rows]: ``Feature {}`` in these rows (their values are ignored)


@dataclass
class FloatColumn:
    values: np.ndarray  # float32 [rows] or [rows, k]
    present: np.ndarray | None = None
    null: np.ndarray | None = None


@dataclass
class BytesColumn:
    values: Sequence[bytes]  # one per row (any value where not present)
    present: np.ndarray | None = None
    lens: np.ndarray | None = None  # given: ``values`` is one buffer of every row's bytes, ``lens[i]`` per row
    null: np.ndarray | None = None

    @classmethod
    def of_strings(cls, values: Sequence[str]) -> BytesColumn:
        """UTF-8 of each string (all str, none missing); an all-ASCII column is encoded in one call."""
        joined = "".join(values)  # TypeError if any value is not a str
        if joined.isascii():
            return cls(joined.encode("ascii"), None, np.fromiter(map(len, values), np.int64, count=len(values)))
        return cls([v.encode() for v in values])


@dataclass
class ConstBytesColumn:
    value: bytes  # the same in every row
    present: np.ndarray | None = None
    null: np.ndarray | None = None


Column = Int64Column | FloatColumn | BytesColumn | ConstBytesColumn


_VARINT_LIMITS = np.array([1 << (7 * i) for i in range(1, 10)], np.uint64)  # the least value of 2, 3, ... 10 bytes


def varint_sizes(v: np.ndarray) -> np.ndarray:
    """Bytes of the base-128 varint of each uint64 in ``v`` (1-10)."""
    v = np.asarray(v).astype(np.uint64, copy=False)
    sizes = np.ones(v.shape, np.int64)
    top = v.max(initial=0)
    for limit in _VARINT_LIMITS:
        if top < limit:
            break
        sizes += v >= limit
    return sizes


def _uint64(v: np.ndarray) -> np.ndarray:
    """int64 as their two's-complement uint64 (protobuf's varint of a negative int64 is 10 bytes)."""
    v = np.asarray(v)
    return v.astype(np.int64, copy=False).view(np.uint64) if v.dtype != np.uint64 else v


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _Pieces:
    """A row's bytes as pieces side by side: each piece is a uint8 matrix ``[rows, w]`` of which row i uses the
    first ``width[i]`` bytes. ``bytes()`` keeps the used bytes of every row, pieces in order (one boolean mask)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.mats: list[np.ndarray] = []
        self.widths: list[np.ndarray] = []
        self._const = b""  # constant bytes not yet added (adjacent constants merge into one piece)
        self._present: np.ndarray | None = None

    def start(self, present: np.ndarray | None) -> None:
        """Following pieces belong to a feature absent where ``present`` is False."""
        self._flush()
        self._present = present

    def const(self, data: bytes) -> None:
        self._const += data

    def varint(self, values: np.ndarray) -> None:
        values = _uint64(values)
        if values.size and (values == values[0]).all():  # the same for every row: a constant
            self.const(_varint(int(values[0])))
            return
        self.add(*_varint_matrix(values))

    def add(self, mat: np.ndarray, width: np.ndarray) -> None:
        self._flush()
        self.mats.append(mat)
        self.widths.append(width if self._present is None else np.where(self._present, width, 0))

    def _flush(self) -> None:
        if self._const:
            data, self._const = self._const, b""
            mat = np.broadcast_to(np.frombuffer(data, np.uint8), (self.rows, len(data)))
            self.add(mat, np.full(self.rows, len(data), np.int64))

    def bytes(self) -> tuple[np.ndarray, np.ndarray]:
        """(every row's bytes, one after the other (uint8); bytes per row)."""
        self._flush()
        if not self.mats:
            return np.zeros(0, np.uint8), np.zeros(self.rows, np.int64)
        big = np.concatenate(self.mats, axis=1)
        lens = np.sum(self.widths, axis=0)
        used = None  # which bytes of ``big`` are kept; pieces every row uses whole need no mask
        at = 0
        for mat, width in zip(self.mats, self.widths, strict=True):
            w = mat.shape[1]
            if w and not (width == w).all():
                if used is None:
                    used = np.ones(big.shape, bool)
                _row_prefixes(width, w, used[:, at : at + w])
            at += w
        return (big.reshape(-1) if used is None else big[used]), lens


_PREFIX_TABLES: dict[int, np.ndarray] = {}  # w -> [w + 1, w] bool: row k is True in its first k bytes


def _row_prefixes(width: np.ndarray, w: int, out: np.ndarray) -> None:
    """``out[i, j] = j < width[i]`` (``width`` in 0..w): rows of a small table for narrow pieces (a gather of
    precomputed rows is cheaper than the broadcast comparison), the comparison for wide ones."""
    if w > 64:
        np.less(np.arange(w), width[:, None], out=out)
        return
    table = _PREFIX_TABLES.get(w)
    if table is None:
        table = _PREFIX_TABLES[w] = np.arange(w)[None, :] < np.arange(w + 1)[:, None]
    np.take(table, width, axis=0, out=out, mode="clip")


def _varint_matrix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The varint of each uint64 as a row of a uint8 matrix, and its size."""
    sizes = varint_sizes(values)
    mat = np.empty((len(values), int(sizes.max(initial=1))), np.uint8)
    x = values.copy()
    for j in range(mat.shape[1]):
        mat[:, j] = (x & np.uint64(0x7F)).astype(np.uint8) | ((sizes > j + 1).astype(np.uint8) << np.uint8(7))
        x >>= np.uint64(7)
    return mat, sizes


def _entry_matrix(
    head: bytes, tag: int, entry: np.ndarray, feature: np.ndarray, body: np.ndarray, v: np.ndarray, payload: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """A whole map entry per row as one matrix, when every length in it is below 128 (one varint byte)."""
    data, width = payload
    h = len(head)
    mat = np.empty((len(entry), h + 7 + data.shape[1]), np.uint8)
    mat[:, 0] = _LEN1
    mat[:, 1] = entry
    mat[:, 2 : 2 + h] = np.frombuffer(head, np.uint8)
    mat[:, 2 + h] = feature
    mat[:, 3 + h] = tag
    mat[:, 4 + h] = body
    mat[:, 5 + h] = _LEN1
    mat[:, 6 + h] = v
    mat[:, 7 + h :] = data
    return mat, h + 7 + width


def _padded(data: bytes, lens: np.ndarray) -> np.ndarray:
    """Byte strings (one after the other in ``data``, ``lens`` each) as the rows of a zero-padded uint8 matrix."""
    mat = np.zeros((len(lens), int(lens.max(initial=0))), np.uint8)
    mat[np.arange(mat.shape[1]) < lens[:, None]] = np.frombuffer(data, np.uint8)
    return mat


def _vs(n: np.ndarray) -> np.ndarray | int:
    """Varint sizes of lengths (non-negative int64), for arithmetic: 1 when all are below 128 (the common case:
    no per-row array)."""
    return 1 if n.max(initial=0) < 0x80 else varint_sizes(n.astype(np.uint64))


def _body(column: Column, rows: int) -> tuple[int, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """(Feature oneof tag, length of the list's value bytes V, of the whole list message L, payload (mat, width))."""
    if isinstance(column, Int64Column):
        values = _uint64(column.values)
        v = varint_sizes(values)
        return _INT64, v, 1 + _vs(v) + v, None  # the payload is the varint itself
    if isinstance(column, FloatColumn):
        values = np.asarray(column.values, np.float32).reshape(rows, -1)
        v = np.full(rows, 4 * values.shape[1], np.int64)
        mat = np.ascontiguousarray(values.astype("<f4")).view(np.uint8).reshape(rows, -1)
        return _FLOAT, v, (1 + _vs(v) + v) * (values.shape[1] > 0), (mat, v)
    if column.lens is None:
        data, lens = b"".join(column.values), np.fromiter(map(len, column.values), np.int64, count=rows)
    else:
        data, lens = column.values, np.asarray(column.lens, np.int64)
    return _BYTES, lens, 1 + _vs(lens) + lens, (_padded(data, lens), lens)


def _const_entry(key: bytes, value: bytes) -> bytes:
    """The map entry of a bytes feature of one value, as bytes."""
    body = bytes([_LEN1]) + _varint(len(value)) + value
    feature = bytes([_BYTES]) + _varint(len(body)) + body
    entry = bytes([_LEN1]) + _varint(len(key)) + key + bytes([_LEN2]) + _varint(len(feature)) + feature
    return bytes([_LEN1]) + _varint(len(entry)) + entry


def _null_entry(key: bytes) -> bytes:
    """The map entry of a feature with no value list (``Feature {}``)."""
    entry = bytes([_LEN1]) + _varint(len(key)) + key + bytes([_LEN2, 0])
    return bytes([_LEN1]) + _varint(len(entry)) + entry


def key_order(name: str) -> tuple[int, ...]:
    """Sort key of a feature name: the order of the map entries in protobuf's deterministic serialization as the
    installed runtime writes it (upb, protobuf 4.25: by bytes, and where one name is a prefix of another, the longer
    first: "aa" < "ab" < "a" < "b" < ""). ``test_example_wire.py`` checks it against the runtime."""
    return (*name.encode(), 256)


def _mask(mask: np.ndarray | None, lo: int, hi: int) -> np.ndarray | None:
    return None if mask is None else np.asarray(mask[lo:hi], bool)


def _block(
    columns: Mapping[str, Column], lo: int, hi: int, starts: Mapping[str, np.ndarray], framed: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(rows ``lo:hi``'s records one after the other, bytes per record); ``framed``: each record in its TFRecord
    frame (:func:`tfrecord_frames`' bytes), the frame's head and foot pieces of the same padded rows, so the
    records are compacted once, straight into the file's layout (bytes per record include the frame's 16)."""
    rows = hi - lo
    pieces = _Pieces(rows)
    if framed:  # the frame's head: filled in once the record lengths are known
        pieces.add(np.zeros((rows, 12), np.uint8), np.full(rows, 12, np.int64))
    pieces.const(bytes([_LEN1]))
    pieces.start(None)
    total_at = len(pieces.mats)  # the Features length varint goes here, once known
    pieces.add(np.zeros((rows, 0), np.uint8), np.zeros(rows, np.int64))  # placeholder
    total = np.zeros(rows, np.int64)
    for name in sorted(columns, key=key_order):
        column = columns[name]
        present, null = _mask(column.present, lo, hi), _mask(column.null, lo, hi)
        valued = present if null is None else ~null if present is None else present & ~null
        key = name.encode()
        empty_rows = None if null is None else null if present is None else null & present  # ``Feature {}`` rows
        merged = False  # the value entries' matrix holds the ``Feature {}`` rows' entries too
        if isinstance(column, ConstBytesColumn):
            entry = _const_entry(key, column.value)
            total += len(entry) * (1 if valued is None else valued)
            pieces.start(valued)
            pieces.const(entry)
        else:
            sizes, merged = _value_entries(
                pieces, key, _cut(column, lo, hi, starts.get(name)), valued, present, empty_rows
            )
            total += sizes
        if empty_rows is not None:  # the same key's entry in the other rows: ``Feature {}``
            empty = _null_entry(key)
            total += len(empty) * empty_rows
            if not merged:
                pieces.start(empty_rows)
                pieces.const(empty)
    pieces.start(None)
    pieces.mats[total_at], pieces.widths[total_at] = _varint_matrix(total.astype(np.uint64))
    if not framed:
        return pieces.bytes()
    record_lens = 1 + pieces.widths[total_at] + total
    pieces.mats[0] = _frame_heads(record_lens)
    pieces.add(np.zeros((rows, 4), np.uint8), np.full(rows, 4, np.int64))  # the foot: the data's CRC, below
    out, lens = pieces.bytes()
    ends = np.cumsum(lens)
    _put_data_crcs(out, ends - lens + 12, ends - 4)
    return out, lens


def _value_entries(
    pieces: _Pieces,
    key: bytes,
    column: Column,
    valued: np.ndarray | None,
    present: np.ndarray | None = None,
    empty_rows: np.ndarray | None = None,
) -> tuple[np.ndarray, bool]:
    """Add the map entries of a column's values (in the ``valued`` rows) to ``pieces``: (their sizes per row,
    whether the ``empty_rows``' ``Feature {}`` entries went into the same piece). They do when every entry is one
    matrix: a row has one entry of the key or the other, at the same place, so the ``Feature {}`` rows' bytes go in
    that matrix's rows rather than a piece of their own (mostly unused: the padded rows stay narrow)."""
    rows = pieces.rows
    head = bytes([_LEN1]) + _varint(len(key)) + key + bytes([_LEN2])
    tag, v, list_len, payload = _body(column, rows)
    feature_len = 1 + _vs(list_len) + list_len
    entry_len = len(head) + _vs(feature_len) + feature_len
    pieces.start(valued)
    if payload is None:
        payload = _varint_matrix(_uint64(column.values))
    no_values = isinstance(column, FloatColumn) and not v[:1].any()  # an empty float list: nothing after its length
    merged = False
    if entry_len.max(initial=0) < 0x80 and not no_values:  # every length is one byte: the entry is one matrix
        mat, width = _entry_matrix(head, tag, entry_len, feature_len, list_len, v, payload)
        empty = b"" if empty_rows is None else _null_entry(key)
        if empty and mat.shape[1] >= len(empty):
            mat[empty_rows, : len(empty)] = np.frombuffer(empty, np.uint8)
            width = np.where(empty_rows, len(empty), width)
            pieces.start(present)  # the valued rows and the ``Feature {}`` rows
            merged = True
        pieces.add(mat, width)
    else:
        pieces.const(bytes([_LEN1]))
        pieces.varint(entry_len)
        pieces.const(head)
        pieces.varint(feature_len)
        pieces.const(bytes([tag]))
        pieces.varint(list_len)
        if not no_values:
            pieces.const(bytes([_LEN1]))
            pieces.varint(v)
            pieces.add(*payload)
    return (1 + _vs(entry_len) + entry_len) * (1 if valued is None else valued), merged


def _cut(column: Column, lo: int, hi: int, starts: np.ndarray | None) -> Column:
    """Rows ``lo:hi`` of a column's values (``starts``: a bytes buffer column's offsets)."""
    if isinstance(column, BytesColumn) and column.lens is not None:
        return BytesColumn(
            column.values[int(starts[lo]) : int(starts[hi])], lens=np.asarray(column.lens[lo:hi], np.int64)
        )
    return type(column)(column.values[lo:hi])


def _block_rows(columns: Mapping[str, Column], rows: int) -> int:
    """Rows per block: at most BLOCK_ROWS, fewer when long byte strings would make the padded matrices large."""
    width = 64
    for c in columns.values():
        if isinstance(c, ConstBytesColumn):
            width += 32 + len(c.value)
        elif isinstance(c, BytesColumn):
            width += 32 + int(max(map(len, c.values), default=0) if c.lens is None else np.max(c.lens, initial=0))
        else:
            width += 32 + 4 * (np.asarray(c.values).size // max(rows, 1))
    return max(1, min(BLOCK_ROWS, MAX_BLOCK_BYTES // width))


def _blocks(columns: Mapping[str, Column], rows: int, framed: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each block's (records one after the other, bytes per record; ``framed``: as :func:`_block`)."""
    step = _block_rows(columns, rows)
    starts = {  # a bytes buffer column's offsets, once (each block cuts its rows' bytes)
        name: np.concatenate(([0], np.cumsum(c.lens, dtype=np.int64)))
        for name, c in columns.items()
        if isinstance(c, BytesColumn) and c.lens is not None
    }
    for lo in range(0, rows, step):
        yield _block(columns, lo, min(rows, lo + step), starts, framed)


def encode_joined(columns: Mapping[str, Column], rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Every row's serialized tf.Example (see :func:`encode`), one after the other (uint8), and the ``rows + 1`` offsets
    of the records in those bytes (what an Arrow binary array or :func:`tfrecord_frames` takes, no object per row)."""
    blocks = list(_blocks(columns, rows))
    offsets = np.zeros(rows + 1, np.int64)
    if blocks:
        np.cumsum(np.concatenate([lens for _, lens in blocks]), out=offsets[1:])
    data = [d for d, _ in blocks]
    return (data[0] if len(data) == 1 else np.concatenate(data or [np.zeros(0, np.uint8)])), offsets


def encode_framed(columns: Mapping[str, Column], rows: int) -> np.ndarray:
    """Every row's serialized tf.Example (see :func:`encode`) framed as a TFRecord file's bytes (uint8): exactly
    ``tfrecord_frames(*encode_joined(columns, rows))`` (tested), with one compaction of the padded rows fewer: each
    block's records are compacted straight into their frames, the frame's head (length and its CRC) a piece
    before the record's and the data's CRC written into the foot piece after."""
    data = encode_framed_blocks(columns, rows)
    return data[0] if len(data) == 1 else np.concatenate(data or [np.zeros(0, np.uint8)])


def encode_framed_blocks(columns: Mapping[str, Column], rows: int) -> list[np.ndarray]:
    """:func:`encode_framed`'s bytes as its blocks' (uint8 arrays, one after the other): for a writer that writes
    them in turn, without their copy into one buffer."""
    return [d for d, _ in _blocks(columns, rows, framed=True)]


def encode(columns: Mapping[str, Column], rows: int) -> list[bytes]:
    """One serialized tf.Example per row: the columns with a value in that row, as features, in key order."""
    out: list[bytes] = []
    for joined, lens in _blocks(columns, rows):
        data, ends = joined.tobytes(), np.cumsum(lens).tolist()
        out += [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    return out


# --------------------------------------------------------------------------------------------- TFRecord


def _masked_crc(crcs: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC32C: ((crc >> 15) | (crc << 17)) + 0xa282ead8, modulo 2**32."""
    c = crcs.astype(np.uint64)
    return ((((c >> np.uint64(15)) | (c << np.uint64(17))) + np.uint64(0xA282EAD8)) & np.uint64(0xFFFFFFFF)).astype(
        "<u4"
    )


def _frame_heads(lengths: np.ndarray) -> np.ndarray:
    """Each record's frame head ``[n, 12]``: uint64 length and the masked CRC32C of those 8 bytes (little-endian);
    one CRC per distinct length."""
    import google_crc32c

    crc = google_crc32c.value
    lengths = np.asarray(lengths, np.int64)
    distinct, index = np.unique(lengths, return_inverse=True)
    length_crcs = np.array([crc(int(x).to_bytes(8, "little")) for x in distinct], np.uint32)[index]
    n = len(lengths)
    return np.concatenate(
        [lengths.astype("<u8").view(np.uint8).reshape(n, 8), _masked_crc(length_crcs).view(np.uint8).reshape(n, 4)],
        axis=1,
    )


def _put_data_crcs(out: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
    """Write the masked CRC32C of each record ``out[starts[i]:ends[i]]`` into the 4 bytes after it (its frame's foot).
    One CRC call per record (``google_crc32c``, C; imported here: the components environment has it)."""
    import google_crc32c

    n = len(starts)
    if not n:
        return
    data = out.tobytes()  # google_crc32c takes bytes (a slice of bytes is a short copy, cheaper than a view)
    crc = google_crc32c.value
    crcs = np.fromiter(map(crc, map(data.__getitem__, map(slice, starts.tolist(), ends.tolist()))), np.uint32, n)
    out[ends[:, None] + np.arange(4)] = _masked_crc(crcs).view(np.uint8).reshape(n, 4)


def tfrecord_frames(data: bytes | np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Records (``data[offsets[i]:offsets[i + 1]]``, as :func:`encode_joined` gives) framed as a TFRecord file's
    bytes (uncompressed, uint8), exactly what ``tf.io.TFRecordWriter`` writes: per record uint64 length, uint32
    masked CRC32C of the length, the data, uint32 masked CRC32C of the data (all little-endian); no Python object
    per record but its CRC call. (:func:`encode_framed` encodes columns straight into this layout.)"""
    offsets = np.asarray(offsets, np.int64)
    n = len(offsets) - 1
    if n <= 0:
        return np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    out = np.empty(int(offsets[-1] - offsets[0]) + 16 * n, np.uint8)
    starts = offsets[:-1] - offsets[0] + 16 * np.arange(n)  # where each record's frame begins
    is_data = np.ones(len(out), bool)
    head = starts[:, None] + np.arange(12)
    out[head] = _frame_heads(lengths)
    foot = (starts + 12 + lengths)[:, None] + np.arange(4)
    is_data[head], is_data[foot] = False, False
    view = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else np.asarray(data, np.uint8).reshape(-1)
    out[is_data] = view[int(offsets[0]) : int(offsets[-1])]
    _put_data_crcs(out, starts + 12, starts + 12 + lengths)
    return out
