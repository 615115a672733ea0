"""Writers of the examples layout (``examples.py`` names every file and holds the readers): tf.Example shards
written from Arrow by kfx's vectorised encoder (``components/_shared/example_wire.py``) with their columnar copies
(ingest), and shards of already serialized records (transform)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import tensorflow as tf

from components._shared.artifacts import register_filesystem
from components._shared.artifacts.examples import (
    SHARD_BYTES,
    columnar_path,
    shard_path,
    split_dir,
    to_list_batch,
)

if TYPE_CHECKING:
    import pyarrow as pa


class EncodedBatch(NamedTuple):
    """A batch encoded for a shard (:func:`encode_batch`): what :meth:`ShardWriter.write_encoded` appends.

    Picklable, so a worker process can encode while another writes (``components/ingest/chunks.py``)."""

    framed: Any  # the records framed as TFRecord bytes (what tf.io.TFRecordWriter writes): uint8 arrays to write one
    # after the other (:func:`framed_parts`; the encoder's blocks), one uint8 array, or a :class:`Written` (already
    # in their shard, written there by the process that encoded them)
    record_bytes: int  # bytes of the records alone (the shard size rule counts these)
    columnar: Any  # the rows' columnar copy (:func:`to_list_batch`), or None
    rows: int


def encode_batch(batch: pa.RecordBatch, columnar: bool = False) -> EncodedBatch:
    """Scalar columns (int64 / float64 / binary, nulls = missing) as one shard write: the whole batch encoded at
    once (:mod:`components._shared.example_wire`, its Arrow columns from ``example_wire_arrow``: the deterministic
    serialization of what tfx-bsl's ``RecordBatchToExamplesEncoder`` encodes) and framed as TFRecords; with
    ``columnar`` also its columnar copy."""
    from components._shared import example_wire, example_wire_arrow

    # the bytes tf.io.TFRecordWriter would write, at once
    framed = example_wire.encode_framed_blocks(example_wire_arrow.columns(batch), batch.num_rows)
    copy = to_list_batch(batch) if columnar else None
    return EncodedBatch(framed, sum(int(b.size) for b in framed) - 16 * batch.num_rows, copy, batch.num_rows)


class Written(NamedTuple):
    """Where a batch's framed records were written (by the process that encoded them, ingest's workers): shard
    ``shard`` of the split, from byte ``offset``. The :class:`ShardWriter` that appends the batch places it there by
    the same shard rule (it checks), keeps its books and its columnar copy, and writes no record bytes itself."""

    shard: int
    offset: int


def framed_parts(encoded: EncodedBatch) -> list[Any]:
    """An encoded batch's framed bytes as uint8 arrays to write one after the other."""
    return encoded.framed if isinstance(encoded.framed, list) else [encoded.framed]


_WRITTEN_ELSEWHERE = object()  # a ShardWriter's open shard whose records other processes write


class ShardWriter:
    """Writes one split's tf.Examples into ``part-NNNNN.tfrecord`` shards, starting a new one past ``shard_bytes``.

    ``write(batch)`` takes scalar columns (int64 / float64 / binary, nulls = missing) and encodes the whole batch
    at once (:func:`encode_batch`); ``write_encoded`` appends a batch encoded elsewhere (another process) with
    the same result. The shard rule: a batch goes to the current shard unless that already holds ``shard_bytes``
    of records, so the boundaries depend only on the batches and their order. With ``columnar`` each shard also
    gets its columnar copy (``part-NNNNN.arrow``: :func:`to_list_batch` of the same rows).
    """

    def __init__(self, examples_dir: str, split: str, shard_bytes: int = SHARD_BYTES, columnar: bool = False) -> None:
        self.examples_dir = examples_dir
        self.split = split
        self.dir = split_dir(examples_dir, split)
        self.shard_bytes = shard_bytes
        self.columnar = columnar
        self.files: list[str] = []
        self.rows = 0
        self._writer: Any = None  # the open shard (a local file, or a gfile stream for any other URI)
        self._arrow: Any = None  # (ipc writer, its sink, its path) while a columnar copy is open
        self._bytes = 0  # records in the open shard (the shard rule counts these)
        self._file_bytes = 0  # its bytes (records and their frames)
        register_filesystem(examples_dir)
        tf.io.gfile.makedirs(self.dir)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.write_encoded(encode_batch(batch, self.columnar))

    def write_encoded(self, encoded: EncodedBatch) -> None:
        """Append a batch :func:`encode_batch` encoded (with ``columnar`` as this writer's)."""
        if encoded.rows == 0:
            return
        if self.columnar and encoded.columnar is None:
            raise ValueError("this writer keeps columnar copies: encode the batch with columnar=True")
        written = isinstance(encoded.framed, Written)
        if self._writer is None or self._bytes >= self.shard_bytes:
            self._next_shard(encoded.columnar, open_records=not written)
        if written:
            place = (len(self.files) - 1, self._file_bytes)
            if tuple(encoded.framed) != place or self._writer is not _WRITTEN_ELSEWHERE:
                raise RuntimeError(f"records written at shard/offset {tuple(encoded.framed)}, expected {place}")
        else:
            for part in framed_parts(encoded):
                self._writer.write(part if "://" not in self.files[-1] else part.tobytes())
        self._bytes += encoded.record_bytes
        self._file_bytes += encoded.record_bytes + 16 * encoded.rows
        if self._arrow is not None:
            self._arrow[0].write_batch(encoded.columnar)
        self.rows += encoded.rows

    def _next_shard(self, copy: pa.RecordBatch | None, open_records: bool = True) -> None:
        self._close_shard()
        path = shard_path(self.examples_dir, self.split, len(self.files))
        self.files.append(path)
        if not open_records:  # its records are written by the processes that encode them (:class:`Written`)
            self._writer = _WRITTEN_ELSEWHERE
        else:
            self._writer = open(path, "wb") if "://" not in path else tf.io.gfile.GFile(path, "wb")  # noqa: SIM115
        self._bytes = self._file_bytes = 0
        if self.columnar:
            import pyarrow as pa

            # local: straight to the file; any other URI: buffered (one shard's copy) and uploaded on close
            path = columnar_path(path)
            sink = pa.OSFile(path, "wb") if "://" not in path else pa.BufferOutputStream()
            self._arrow = (pa.ipc.new_file(sink, copy.schema), sink, path)

    def _close_shard(self) -> None:
        if self._writer is not None:
            if self._writer is not _WRITTEN_ELSEWHERE:
                self._writer.close()
            self._writer = None
        if self._arrow is not None:
            writer, sink, path = self._arrow
            writer.close()
            if "://" in path:
                with tf.io.gfile.GFile(path, "wb") as f:
                    f.write(sink.getvalue().to_pybytes())
            else:
                sink.close()
            self._arrow = None

    def close(self) -> None:
        self._close_shard()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordShardWriter:
    """Writes already serialized records of one split into ``part-NNNNN.tfrecord`` shards (``tf.io.TFRecordWriter``,
    any gfile URI), starting a new shard once the current one holds ``shard_bytes`` of records: the transform
    step's output, whatever encoded it. ``files`` and ``rows`` say what was written."""

    def __init__(self, examples_dir: str, split: str, shard_bytes: int = SHARD_BYTES) -> None:
        self.examples_dir = examples_dir
        self.split = split
        self.shard_bytes = shard_bytes
        self.files: list[str] = []
        self.rows = 0
        self._writer: Any = None
        self._bytes = 0
        register_filesystem(examples_dir)
        tf.io.gfile.makedirs(split_dir(examples_dir, split))

    def write(self, records: Iterable[bytes]) -> None:
        for record in records:
            if self._writer is None or self._bytes >= self.shard_bytes:
                self._close_shard()
                self.files.append(shard_path(self.examples_dir, self.split, len(self.files)))
                self._writer = tf.io.TFRecordWriter(self.files[-1])
                self._bytes = 0
            self._writer.write(record)
            self._bytes += len(record)
            self.rows += 1

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        """Closes the open shard; a split with no rows still gets one (empty) shard, as readers expect one."""
        if not self.files:
            self.files.append(shard_path(self.examples_dir, self.split, 0))
            self._writer = tf.io.TFRecordWriter(self.files[-1])
        self._close_shard()

    def __enter__(self) -> RecordShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["EncodedBatch", "RecordShardWriter", "ShardWriter", "Written", "encode_batch", "framed_parts"]
