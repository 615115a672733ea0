"""Ingest: CSV (local path or any ``tf.io.gfile`` URI) -> tf.Example TFRecord shards split into train/eval.

The CSV is streamed in bounded chunks (pyarrow's streaming CSV reader), so memory does not grow with the file,
and read **once** when the first chunk's column types hold for the whole file:

1. the first chunk's cells give each column's type (int64 if every present cell is an integer, else float64 if
   every present cell is a number, else string);
2. every chunk is cast to those types, its rows' split decided, both splits encoded a whole batch at a time
   (``components/_shared/example_wire.py``: the deterministic serialization of what tfx-bsl's
   ``RecordBatchToExamplesEncoder`` encodes) -- in worker processes, one per available CPU
   (``components/ingest/chunks.py``), results taken in chunk order -- and appended to the split's shards, each with
   its columnar copy (``part-NNNNN.arrow``, which the statistics step reads instead of decoding the TFRecords;
   layout: ``components/_shared/artifacts/examples``);
3. when a later chunk needs a wider type (int -> float -> string; e.g. the first float in row 900,000), what was
   written is dropped and the file is read twice more: a scan taking each column's widest type over every chunk,
   then the write with those types. The shards are the same bytes whichever way they were written (tested).

* Empty cells are missing values: the example carries the feature with no value list, which every reader
  (``tf.io.parse_example``, tfx_bsl/TFDV, TFT) treats as absent.
* The split is a deterministic hash of the row's *text* (all cells) and ``seed``: the same row lands in the
  same split on any machine, whatever else the file contains; identical rows always share a split.

Every input problem (missing/empty/header-only file, ragged row, duplicate or empty column name, an empty split)
raises ``IngestError``, and leaves nothing behind in the output folder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import tensorflow as tf

from components._shared import artifacts
from components._shared import lineage as lineage_lib
from components._shared.artifacts import SPLITS, examples_writers
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts.examples import (  # noqa: F401  (re-exported: the readers' old home)
    columns_schema,
    iter_split_batches,
    load_split,
    split_to_pandas,
)
from components._shared.cpus import available_cpus
from components._shared.log import get_logger, timed
from components.ingest import reading
from components.ingest.chunks import (  # noqa: F401  (re-exported: typing and split lived here)
    TYPE_ORDER,
    ChunkJob,
    ChunkPool,
    ChunkResult,
    Widened,
    WorkerDied,
    assign_splits,
    cast_batch,
    chunk_type,
    row_hashes,
    worker_count,
)
from components.ingest.reading import IngestError, Opener, text_batches  # noqa: F401  (re-exported)

log = get_logger("ingest")


@dataclass
class IngestResult:
    columns: dict[str, str]
    splits: dict[str, int]
    rows: int
    source: str = ""
    seconds: float = 0.0
    source_sha256: str = ""
    files: dict[str, list[str]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ scan


@dataclass
class Scan:
    """What the first pass learns: column names and types, and each row's split (True = eval)."""

    names: list[str]
    columns: dict[str, str]
    is_eval: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.is_eval)

    def splits(self) -> dict[str, int]:
        n_eval = int(self.is_eval.sum())
        return {"train": self.rows - n_eval, "eval": n_eval}


def scan_csv(data_uri: str, eval_fraction: float = 0.2, seed: int = 0) -> tuple[Opener, Scan]:
    """First pass over the CSV: header checks, column types over every chunk, split of every row."""
    opener = reading.opener(data_uri)
    names = reading.read_header(opener, data_uri)
    types = dict.fromkeys(names, TYPE_ORDER[0])
    masks = []
    for text in text_batches(opener, names, data_uri):
        for name, col in zip(names, text.columns, strict=True):
            if types[name] != "string":
                types[name] = chunk_type(col, types[name])
        masks.append(assign_splits(row_hashes(text, seed), eval_fraction))
    is_eval = np.concatenate(masks) if masks else np.zeros(0, bool)
    if not len(is_eval):
        raise IngestError(f"CSV file {data_uri} has a header but no data rows")
    return opener, Scan(names=names, columns=types, is_eval=is_eval)


def typed_batches(opener: Opener, scan: Scan, data_uri: str) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Second pass: each chunk cast to the scanned types, with its rows' eval mask."""
    start = 0
    for text in text_batches(opener, scan.names, data_uri):
        mask = scan.is_eval[start : start + text.num_rows]
        start += text.num_rows
        yield cast_batch(text, scan.columns), mask
    if start != scan.rows:
        raise IngestError(f"CSV file {data_uri} changed while being read: {start:,} rows now, {scan.rows:,} before")


# ----------------------------------------------------------------------------------------------- write


def _write_pass(
    opener: Opener,
    names: list[str],
    data_uri: str,
    output_dir: str,
    job: ChunkJob,
    shard_bytes: int,
    workers: int,
    forked: Callable[[], None] = lambda: None,
) -> tuple[dict[str, str], dict[str, examples_writers.ShardWriter]]:
    """One read of the CSV: every chunk cast to ``job.types`` (empty: the first chunk's types), split and encoded
    (``workers`` processes, results in chunk order) and appended to its split's shards.

    Returns the types and the (closed) writers; raises :class:`Widened` when a later chunk needs a wider type.
    ``forked`` is called once the worker processes are started (threads may start then).
    """
    writers = {name: examples_writers.ShardWriter(output_dir, name, shard_bytes, columnar=True) for name in SPLITS}
    if "://" not in output_dir:  # workers write the records into the shards themselves (chunks._Turns)
        job = job._replace(output_dir=output_dir, shard_bytes=shard_bytes)

    def append(result: ChunkResult) -> None:
        if result.widened:
            raise Widened(result.widened)
        for name, encoded in result.encoded.items():
            writers[name].write_encoded(encoded)

    try:
        with ChunkPool(workers) as pool:  # forks before the CSV reader starts its threads
            forked()
            for text in text_batches(opener, names, data_uri):
                if text.num_rows == 0:
                    continue
                if not job.types:
                    job = job._replace(types={n: chunk_type(c) for n, c in zip(names, text.columns, strict=True)})
                for result in pool.submit(text, job):
                    append(result)
            for result in pool.drain():
                append(result)
    finally:
        for writer in writers.values():
            writer.close()
    if not job.types:
        raise IngestError(f"CSV file {data_uri} has a header but no data rows")
    return job.types, writers


def _remove_output(output_dir: str, created: bool) -> None:
    """Leave nothing of a failed ingest: the output folder when ingest created it, else the split folders."""
    targets = [output_dir] if created else [examples_layout.split_dir(output_dir, s) for s in SPLITS]
    for target in targets:
        if tf.io.gfile.exists(target):
            tf.io.gfile.rmtree(target)


class _SourceHash:
    """The CSV's sha256 (lineage) computed in a thread beside the write (hashlib and file reads release the GIL),
    started once the worker processes are forked; :meth:`result` waits for it (or computes it, never started)."""

    def __init__(self, data_uri: str) -> None:
        self.data_uri = data_uri
        self._thread: threading.Thread | None = None
        self._out: list = []

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kfx-ingest-sha256", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._out.append(lineage_lib.file_sha256(self.data_uri))
        except BaseException as e:  # noqa: BLE001  (raised by result())
            self._out.append(e)

    def result(self) -> str:
        self.start()
        self._thread.join()
        if isinstance(self._out[0], BaseException):
            raise self._out[0]
        return self._out[0]


def _write_examples(
    data_uri: str, output_dir: str, eval_fraction: float, seed: int, shard_bytes: int, source_hash: _SourceHash
) -> tuple[list[str], dict[str, str], dict[str, examples_writers.ShardWriter]]:
    """The CSV into shards, in one read when the first chunk's column types hold for the whole file (the usual
    case), else (a column widens in a later chunk) the shards written so far are dropped and the file is read
    twice more: a scan for the whole file's types, then the write. The output is the same either way."""
    opener = reading.opener(data_uri)
    names = reading.read_header(opener, data_uri)
    workers = worker_count(available_cpus(), reading.source_size(data_uri), reading.BLOCK_BYTES)
    job = ChunkJob({}, eval_fraction, seed, columnar=True)
    with timed(log, f"writing tf.Examples of {data_uri} to {output_dir} ({workers} worker process(es))") as t:
        try:
            columns, writers = _write_pass(
                opener, names, data_uri, output_dir, job, shard_bytes, workers, source_hash.start
            )
        except Widened as w:
            log.info(
                "column type(s) %s show only after the first chunk: rewriting with the whole file's types", w.types
            )
            _remove_output(output_dir, created=False)
            opener, scan = scan_csv(data_uri, eval_fraction, seed)
            job = job._replace(types=scan.columns)
            columns, writers = _write_pass(
                opener, names, data_uri, output_dir, job, shard_bytes, workers, source_hash.start
            )
        t["rows"] = sum(w.rows for w in writers.values())
    return names, columns, writers


def ingest_csv(
    data_uri: str,
    output_dir: str,
    eval_fraction: float = 0.2,
    seed: int = 0,
    shard_bytes: int = examples_layout.SHARD_BYTES,
) -> IngestResult:
    """Convert the CSV at ``data_uri`` into the examples artifact at ``output_dir``.

    Layout: ``components/_shared/artifacts/examples.py`` (``<split>/part-NNNNN.tfrecord`` shards of about
    ``shard_bytes`` each, and ``examples.json``). ``eval_fraction`` is the share of rows hashed into eval;
    ``seed`` changes the hash. On an :class:`IngestError` (bad input) or a :class:`WorkerDied` (a worker process
    killed, e.g. out of memory) nothing is left in ``output_dir``.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise IngestError(f"eval_fraction must be strictly between 0 and 1, got {eval_fraction}")
    artifacts.register_filesystem(output_dir)
    created = not tf.io.gfile.exists(output_dir)
    start = time.perf_counter()
    try:
        source_hash = _SourceHash(data_uri)
        names, columns, writers = _write_examples(data_uri, output_dir, eval_fraction, seed, shard_bytes, source_hash)
        splits = {name: w.rows for name, w in writers.items()}
        rows = sum(splits.values())
        empty = [name for name, n in splits.items() if n == 0]
        if empty:
            raise IngestError(
                f"CSV file {data_uri}: split {empty[0]!r} got 0 of {rows} rows with eval_fraction="
                f"{eval_fraction}; give more rows or a different eval_fraction"
            )
    except (IngestError, WorkerDied):
        _remove_output(output_dir, created)
        raise
    seconds = time.perf_counter() - start
    log.info("columns: %s", ", ".join(f"{k}:{v}" for k, v in columns.items()))
    files = {name: w.files for name, w in writers.items()}
    with timed(log, f"hashing {data_uri} (lineage: the data's content hash; in a thread beside the write)") as h:
        source_sha256 = source_hash.result()
        h["rows"] = rows
    for name, w in writers.items():
        log.info("split %s: %s rows in %d shard(s) under %s", name, f"{w.rows:,}", len(w.files), w.dir)
    examples_layout.write_meta(
        output_dir,
        {
            "columns": columns,
            "column_order": names,  # write_json sorts keys; this keeps the CSV's order
            "splits": splits,
            "shards": {name: len(f) for name, f in files.items()},
            "source": data_uri,
            "source_sha256": source_sha256,
            "rows": rows,
            "eval_fraction": eval_fraction,
            "seed": seed,
        },
    )
    return IngestResult(
        columns=columns,
        splits=splits,
        rows=rows,
        source=data_uri,
        seconds=seconds,
        files=files,
        source_sha256=source_sha256,
    )


def read_examples_meta(examples_dir: str) -> dict:
    """The ``examples.json`` of an examples artifact."""
    return examples_layout.read_meta(examples_dir)


__all__ = [
    "IngestError",
    "IngestResult",
    "Scan",
    "WorkerDied",
    "cast_batch",
    "columns_schema",
    "ingest_csv",
    "iter_split_batches",
    "load_split",
    "read_examples_meta",
    "scan_csv",
    "split_to_pandas",
    "text_batches",
    "typed_batches",
]
