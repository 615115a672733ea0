"""One chunk of the CSV: its column types, its rows' split, its encoding, and the worker processes doing that for
several chunks at once.

Ingest reads the CSV (one process: pyarrow's streaming reader) and hands each chunk of text to :class:`ChunkPool`,
which runs :func:`process_chunk` (cast to the column types, hash each row into its split, encode both splits as
framed TFRecord bytes + columnar copies) in ``workers`` processes and gives the results back **in chunk order**, so
the shard writers append exactly what one process would have appended, batch for batch: the shards are
byte-identical whatever the worker count (``tests/unit/test_ingest.py``).

Workers (:func:`worker_count`): one per CPU this process may run on (``components/_shared/cpus.py``: its CPU
affinity, capped by a cgroup CPU quota such as a Kubernetes CPU limit), at most ``MAX_WORKERS`` and no more than
the file's chunks; one = everything in this process, no pool. Memory: at most ``2 * workers`` chunks are in flight
(each ~``BLOCK_BYTES`` of CSV, its typed columns and its encoded bytes), so memory does not grow with the file.
Workers are forked before the CSV reader starts its threads and never touch TensorFlow. A worker that dies (the
out-of-memory killer's SIGKILL, a native crash) fails the step at once with :class:`WorkerDied`, never a hang.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from components._shared.artifacts import SPLITS
from components._shared.artifacts.examples import shard_path
from components._shared.artifacts.examples_writers import EncodedBatch, Written, encode_batch, framed_parts
from components._shared.cpus import available_cpus  # noqa: F401  (ingest's worker count)

#: kfx column types, narrowest first: a column takes the widest type any of its chunks needs.
TYPE_ORDER = ("int", "float", "string")
_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "string": pa.large_binary()}
#: Chunks in flight per worker (bounds memory; 2 keeps a worker busy while its last result is written).
IN_FLIGHT_PER_WORKER = 2
#: At most this many workers however many CPUs (each holds up to ~0.3 GB while it encodes a chunk; the one reader
#: process feeds at most a few: beyond that the step stays within its memory bound rather than scaling on).
MAX_WORKERS = 4
#: A worker waiting for its chunk's turn checks this often whether the pool is closing (see :class:`ChunkPool`).
_TURN_POLL_S = 0.5


def worker_count(cpus: int, source_bytes: int, block_bytes: int) -> int:
    """Worker processes for a CSV of ``source_bytes`` read in ``block_bytes`` chunks: one per CPU, no more than
    the chunks or :data:`MAX_WORKERS`; 1 (no worker process) for a one-chunk file or one CPU."""
    chunks = -(-source_bytes // block_bytes)
    return max(1, min(cpus, chunks, MAX_WORKERS)) if chunks > 1 else 1


class Widened(ValueError):
    """A chunk needs a wider type than the one its column was cast to (its ``types``: the columns it widens)."""

    def __init__(self, types: dict[str, str]) -> None:
        super().__init__(f"chunk widens column type(s) {types}")
        self.types = types


# ---------------------------------------------------------------------------------------------- typing


def _cast(values: pa.Array, kind: str) -> pa.Array | None:
    """``values`` (text) cast to ``kind``, tolerating padding such as " 12"; None when some cell doesn't fit."""
    for candidate in (values, None):
        try:
            if candidate is None:
                candidate = pc.utf8_trim_whitespace(values)
            return pc.cast(candidate, _ARROW_TYPES[kind])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def chunk_type(values: pa.Array, at_least: str = "int") -> str:
    """The narrowest kfx type (not narrower than ``at_least``) every present cell of ``values`` fits."""
    for kind in TYPE_ORDER[TYPE_ORDER.index(at_least) :]:
        if kind == "string":
            return kind
        # a failed cast over many values is slow: try the first values first
        if _cast(values.slice(0, 4096), kind) is not None and _cast(values, kind) is not None:
            return kind
    return "string"


def cast_batch(text: pa.RecordBatch, columns: dict[str, str]) -> pa.RecordBatch:
    """A text batch cast to the column types (int64 / float64 / large_binary); :class:`Widened` naming the columns
    (and the types they need) where some cell does not fit."""
    arrays, widened = [], {}
    for name, col in zip(text.schema.names, text.columns, strict=True):
        typed = _cast(col, columns[name]) if columns[name] != "string" else col.cast(pa.large_binary())
        if typed is None:
            widened[name] = chunk_type(col, columns[name])
        arrays.append(typed)
    if widened:
        raise Widened(widened)
    return pa.RecordBatch.from_arrays(arrays, names=text.schema.names)


# ----------------------------------------------------------------------------------------------- split


def row_hashes(text: pa.RecordBatch | pa.Table, seed: int = 0) -> np.ndarray:
    """uint64 hash of each row's cell texts (pandas' fixed-key SipHash: the same on every machine).

    Each cell's text is hashed as UTF-8 bytes, as ``pd.util.hash_array(texts, categorize=True)`` (which kfx used
    before) hashes it, without its Python-object factorize: a column with few distinct texts is dictionary-encoded
    first so each distinct text is hashed once; a column of mostly distinct texts is hashed as it is (bytes
    objects hash ~4x faster than str, which pandas encodes first). Both give the same values.
    """
    h = np.full(text.num_rows, np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(seed & 0xFFFFFFFFFFFFFFFF))
    mult = np.uint64(1_000_003)
    with np.errstate(over="ignore"):
        for col in text.columns:
            chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
            parts = [_cell_hashes(pc.fill_null(chunk, "").cast(pa.binary())) for chunk in chunks]
            h = (h * mult) ^ (np.concatenate(parts) if parts else np.zeros(0, np.uint64))
        # final avalanche (splitmix64) so the low bits of every column matter
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def _cell_hashes(texts: pa.Array) -> np.ndarray:
    """pandas' SipHash of each (binary) cell: through a dictionary when the first cells repeat, else directly."""
    sample = texts.slice(0, 4096)
    if len(sample) and len(pc.unique(sample)) > len(sample) // 2:
        return pd.util.hash_array(texts.to_numpy(zero_copy_only=False), categorize=False)
    encoded = pc.dictionary_encode(texts)
    distinct = pd.util.hash_array(encoded.dictionary.to_numpy(zero_copy_only=False), categorize=False)
    return distinct.take(encoded.indices.to_numpy())


def assign_splits(hashes: np.ndarray, eval_fraction: float) -> np.ndarray:
    """Boolean mask: True where a row goes to eval (hash, as a fraction of 2**64, below ``eval_fraction``)."""
    unit = (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return unit < eval_fraction


# ----------------------------------------------------------------------------------------------- chunk


class ChunkJob(NamedTuple):
    """What every chunk shares: the column types to cast to, the split rule, whether to keep columnar copies; and
    (a local folder) where worker processes write the records of each split's shards themselves (:class:`_Turns`),
    with the shard size rule (``""``: they hand the records back)."""

    types: dict[str, str]
    eval_fraction: float
    seed: int
    columnar: bool
    output_dir: str = ""
    shard_bytes: int = 0


def split_and_encode(batch: pa.RecordBatch, is_eval: np.ndarray, columnar: bool) -> dict[str, EncodedBatch]:
    """A typed chunk's rows by split (``is_eval``), each encoded for its split's shards."""
    return {
        "train": encode_batch(batch.filter(pa.array(~is_eval)), columnar),
        "eval": encode_batch(batch.filter(pa.array(is_eval)), columnar),
    }


class ChunkResult(NamedTuple):
    """A processed chunk: each split's encoded rows, or (nothing encoded) the wider types some columns need."""

    encoded: dict[str, EncodedBatch] | None
    widened: dict[str, str] | None = None


def process_chunk(
    text: pa.RecordBatch, job: ChunkJob, spool: str | None = None, index: int | None = None
) -> ChunkResult:
    """One chunk of CSV text, cast to ``job.types``, split and encoded (:func:`split_and_encode`); or, when some
    column needs a wider type than ``job.types`` gives it, the types it needs and nothing encoded.

    ``spool``: a path stem; each split's encoded bytes go to local files there (:func:`_spool`) instead of riding
    back through the result (pickling tens of MB per chunk through a pipe costs about as much as encoding them).
    In a :class:`ChunkPool` worker with ``job.output_dir`` (``index``: the chunk's number) the records go straight
    into their shards instead, at the place :class:`_Turns` reserves in chunk order; only the columnar copies are
    spooled.
    """
    turns = _TURNS if index is not None and job.output_dir and spool is not None else None
    places = None
    try:
        try:
            batch = cast_batch(text, job.types)
        except Widened as w:
            return ChunkResult(None, w.types)
        is_eval = assign_splits(row_hashes(text, job.seed), job.eval_fraction)
        encoded = split_and_encode(batch, is_eval, job.columnar)
        if turns is not None:
            places = turns.reserve(index, encoded, job)
    finally:
        if turns is not None and places is None:
            turns.reserve(index, {}, job)  # nothing written: the next chunk's turn all the same
    if places is not None:
        encoded = {split: _write_records(e, places.get(split), job, split) for split, e in encoded.items()}
    if spool is not None:
        encoded = {split: _spool(e, f"{spool}-{split}") for split, e in encoded.items()}
    return ChunkResult(encoded)


class _Turns:
    """Where each chunk's records go, decided in chunk order by the worker processes themselves: a chunk waits for
    the one before it to have taken its place, takes its own by the shard rule of :class:`ShardWriter` (a batch
    goes to the split's current shard unless that already holds ``shard_bytes`` of records), and writes its records
    there while later chunks take theirs. Shared by the forked workers (a lock and a few integers per split)."""

    def __init__(self, context: Any, splits: tuple[str, ...]) -> None:
        self.splits = splits
        self.cond = context.Condition()
        self.next = context.RawValue("q", 0)
        self.stopped = context.RawValue("b", 0)  # set by the pool as it closes: waiting workers give up their turn
        self.state = context.RawArray("q", [-1, 0, 0] * len(splits))  # per split: shard, its records, its bytes

    def reserve(self, index: int, encoded: dict[str, EncodedBatch], job: ChunkJob) -> dict[str, Written]:
        """Chunk ``index``'s place in each split's shards (``{}`` takes the turn without writing: a failed chunk)."""
        places = {}
        with self.cond:
            while not self.cond.wait_for(lambda: self.next.value == index or self.stopped.value, _TURN_POLL_S):
                pass
            if self.stopped.value:  # (the pool is closing: the turn will never come)
                raise RuntimeError(f"ingest stopped before chunk {index} got its place in the shards")
            for i, split in enumerate(self.splits):
                e = encoded.get(split)
                if e is None or not e.rows:
                    continue
                shard, records, size = self.state[3 * i : 3 * i + 3]
                if shard < 0 or records >= job.shard_bytes:
                    shard, records, size = shard + 1, 0, 0
                    open(shard_path(job.output_dir, split, shard), "wb").close()  # noqa: SIM115  (created empty)
                places[split] = Written(shard, size)
                self.state[3 * i : 3 * i + 3] = [shard, records + e.record_bytes, size + e.record_bytes + 16 * e.rows]
            self.next.value = index + 1
            self.cond.notify_all()
        return places


_TURNS: _Turns | None = None  # a ChunkPool worker's (set as it starts)


def _init_worker(turns: _Turns) -> None:
    global _TURNS
    _TURNS = turns


def _write_records(encoded: EncodedBatch, place: Written | None, job: ChunkJob, split: str) -> EncodedBatch:
    """A split's framed records written into their shard at ``place``; the batch with ``place`` for its records."""
    if place is None:
        return encoded
    fd = os.open(shard_path(job.output_dir, split, place.shard), os.O_WRONLY)
    try:
        at = place.offset
        for part in framed_parts(encoded):
            view = memoryview(np.ascontiguousarray(part)).cast("B")
            while view.nbytes:
                n = os.pwrite(fd, view, at)
                view, at = view[n:], at + n
    finally:
        os.close(fd)
    return encoded._replace(framed=place)


def _spool(encoded: EncodedBatch, stem: str) -> EncodedBatch:
    """The batch's framed records to ``<stem>.tfrecord`` and its columnar copy to ``<stem>.arrows`` (an Arrow IPC
    stream); returned with the paths in place of the data (:func:`_unspool` reads them back)."""
    if not encoded.rows:
        return encoded
    framed = encoded.framed
    if not isinstance(framed, Written):  # (records already in their shard: nothing to spool)
        framed = stem + ".tfrecord"
        with open(framed, "wb") as f:
            for part in framed_parts(encoded):
                f.write(part)
    copy = None
    if encoded.columnar is not None:
        copy = stem + ".arrows"
        with pa.OSFile(copy, "wb") as sink, pa.ipc.new_stream(sink, encoded.columnar.schema) as writer:
            writer.write_batch(encoded.columnar)
    return encoded._replace(framed=framed, columnar=copy)


def _unspool(encoded: EncodedBatch) -> EncodedBatch:
    """A spooled batch's data, memory-mapped (no copy), its files unlinked at once (the mappings keep them)."""
    if not encoded.rows:
        return encoded
    framed = encoded.framed
    if isinstance(framed, str):
        framed = np.memmap(encoded.framed, np.uint8, mode="r")
        os.unlink(encoded.framed)
    copy = None
    if encoded.columnar is not None:
        copy = pa.ipc.open_stream(pa.memory_map(encoded.columnar)).read_next_batch()
        os.unlink(encoded.columnar)
    return encoded._replace(framed=framed, columnar=copy)


# ------------------------------------------------------------------------------------------------ pool


class WorkerDied(RuntimeError):
    """A worker process of :class:`ChunkPool` ended abruptly (killed, e.g. by the out-of-memory killer, or crashed
    in native code): the step stops; its message says what to do."""


class ChunkPool:
    """Runs :func:`process_chunk` over chunks in ``workers`` forked processes (1: in this process), results in
    submission order, at most ``IN_FLIGHT_PER_WORKER * workers`` chunks in flight.

    ``submit(text, job)`` returns the results that are due (oldest first) once the window is full; ``drain()`` the
    rest. A worker process that dies (a signal such as the out-of-memory killer's SIGKILL, a crash in native code)
    breaks the pool: the next result raises :class:`WorkerDied` at once (``concurrent.futures`` notices the dead
    process and terminates the others, including any waiting for the dead chunk's turn in :class:`_Turns`).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pending: deque[tuple[int, Any]] = deque()
        self._pool = None
        self._turns: _Turns | None = None
        self._spool_dir: str | None = None
        self._submitted = 0
        if workers > 1:
            import multiprocessing
            import tempfile
            from concurrent.futures import ProcessPoolExecutor

            self._spool_dir = tempfile.mkdtemp(prefix="kfx_ingest_spool_")
            # fork: the workers start at once (no imports: they inherit this process's), before any reader thread
            context = multiprocessing.get_context("fork")
            self._turns = _Turns(context, SPLITS)
            self._pool = ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(self._turns,))
            self._pool.submit(int).result()  # (a fork pool starts all its processes with its first task: now)

    def submit(self, text: pa.RecordBatch, job: ChunkJob) -> Iterator[ChunkResult]:
        if self._pool is None:
            yield process_chunk(text, job)
            return
        index = self._submitted
        spool = os.path.join(self._spool_dir, f"chunk-{index:06d}")
        try:
            self._pending.append((index, self._pool.submit(process_chunk, text, job, spool, index)))
        except BrokenProcessPool as e:  # (a worker died since the last result)
            raise self._died(self._pending[0][0] if self._pending else index, index) from e
        self._submitted += 1
        while len(self._pending) >= IN_FLIGHT_PER_WORKER * self.workers:
            yield self._result(*self._pending.popleft())

    def drain(self) -> Iterator[ChunkResult]:
        while self._pending:
            yield self._result(*self._pending.popleft())

    def _result(self, index: int, pending: Any) -> ChunkResult:
        try:
            result = pending.result()
        except BrokenProcessPool as e:
            raise self._died(index, self._submitted - 1) from e
        if result.encoded is None:
            return result
        return result._replace(encoded={split: _unspool(e) for split, e in result.encoded.items()})

    def _died(self, first: int, last: int) -> WorkerDied:
        return WorkerDied(
            f"an ingest worker process died abruptly (killed, most likely by the out-of-memory killer, or crashed) "
            f"while chunks {first}-{last} of the CSV were being encoded ({self.workers} worker "
            f"processes, each holding up to ~0.3 GB). Give the ingest step more memory (its memory limit), or "
            f"fewer CPUs (its CPU limit sets the number of worker processes), and run it again"
        )

    def close(self) -> None:
        """Stop the workers (pending chunks are dropped: workers waiting for a turn give it up) and remove the
        spool folder."""
        for _, pending in reversed(self._pending):  # newest first: no running chunk waits on a cancelled one
            pending.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._turns.stopped.value = 1
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._spool_dir is not None:
            import shutil

            shutil.rmtree(self._spool_dir, ignore_errors=True)
            self._spool_dir = None

    def __enter__(self) -> ChunkPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
