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

import csv
import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import tensorflow as tf

from components._shared import artifacts
from components._shared import lineage as lineage_lib
from components._shared.artifacts import SPLITS
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts.examples import (  # noqa: F401  (re-exported: the readers' old home)
    columns_schema,
    iter_split_batches,
    load_split,
    split_to_pandas,
)
from components._shared.log import get_logger, timed
from components.ingest.chunks import (  # noqa: F401  (re-exported: typing and split lived here)
    TYPE_ORDER,
    ChunkJob,
    ChunkPool,
    ChunkResult,
    Widened,
    assign_splits,
    available_cpus,
    cast_batch,
    chunk_type,
    row_hashes,
)

log = get_logger("ingest")

#: Bytes of CSV parsed per chunk (bounds the memory of every pass and worker).
BLOCK_BYTES = 16 << 20


class IngestError(ValueError):
    """The input CSV can't be ingested; the message names the file and what to fix."""


@dataclass
class IngestResult:
    columns: dict[str, str]
    splits: dict[str, int]
    rows: int
    source: str = ""
    seconds: float = 0.0
    source_sha256: str = ""
    files: dict[str, list[str]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- reading

Opener = Callable[[], "pa.NativeFile | str"]


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _local_path(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def _opener(data_uri: str) -> Opener:
    """A function giving a fresh stream of the CSV each call (a local path, or a gfile stream for any URI)."""
    if _is_local(data_uri):
        path = _local_path(data_uri)
        if not os.path.isfile(path):
            raise IngestError(f"CSV file {data_uri} does not exist")
        size = os.path.getsize(path)
    else:
        artifacts.register_filesystem(data_uri)
        if not tf.io.gfile.exists(data_uri):
            raise IngestError(f"CSV file {data_uri} does not exist")
        size = tf.io.gfile.stat(data_uri).length
    if size == 0:
        raise IngestError(f"CSV file {data_uri} is empty (0 bytes); expected a header line and data rows")
    if _is_local(data_uri):
        return lambda: _local_path(data_uri)
    return lambda: pa.PythonFile(io.BufferedReader(_GFileRaw(data_uri), BLOCK_BYTES), mode="r")


class _GFileRaw(io.RawIOBase):
    """A ``tf.io.gfile`` object as a raw binary stream (pyarrow streams it; GFile alone looks closed to it)."""

    def __init__(self, uri: str) -> None:
        self._f = tf.io.gfile.GFile(uri, "rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        data = self._f.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def _text_stream(source: pa.NativeFile | str, limit: int = -1) -> io.TextIOBase:
    """Text of a local path (streamed) or of a remote stream (its first ``limit`` bytes, or all of it)."""
    if isinstance(source, str):
        return open(source, newline="", encoding="utf-8-sig", errors="replace")  # noqa: SIM115
    try:
        data = source.read(limit) if limit >= 0 else source.read()
    finally:
        source.close()
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="", errors="replace")


def _read_header(opener: Opener, data_uri: str) -> list[str]:
    with _text_stream(opener(), limit=1 << 20) as f:
        first = f.readline()
    if not first.strip():
        raise IngestError(f"CSV file {data_uri} has an empty first line; expected a header line with column names")
    header = next(csv.reader([first]))
    names = [h.strip() for h in header]
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        raise IngestError(f"CSV file {data_uri}: header column(s) {blank} have no name; name every column")
    seen: set[str] = set()
    dups = sorted({n for n in names if n in seen or seen.add(n)})
    if dups:
        raise IngestError(f"CSV file {data_uri}: duplicate column name(s) {dups} in the header; make them unique")
    return names


def _find_ragged_line(opener: Opener, n_cols: int) -> tuple[int, int] | None:
    """(1-based physical line, cells) of the first row whose cell count differs from the header's."""
    with _text_stream(opener()) as f:
        reader = csv.reader(f)
        for row in reader:
            if row and len(row) != n_cols:
                return reader.line_num, len(row)
    return None


def text_batches(opener: Opener, names: list[str], data_uri: str) -> Iterator[pa.RecordBatch]:
    """The CSV's rows as text RecordBatches of about ``BLOCK_BYTES`` of CSV each (empty cell = null).

    Raises IngestError naming the first ragged row once the whole file has been read.
    """
    ragged: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        ragged.append(row)
        return "skip"

    try:
        reader = pacsv.open_csv(
            opener(),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
        yield from reader
    except pa.ArrowInvalid as e:
        raise IngestError(f"CSV file {data_uri} could not be parsed: {e}") from e
    if ragged:
        first = ragged[0]
        line, cells = first.number, first.actual_columns
        if line is None:
            found = _find_ragged_line(opener, len(names))
            line, cells = found if found else ("?", cells)
        raise IngestError(
            f"CSV file {data_uri}: line {line} has {cells} cells but the header has {len(names)} columns "
            f"({len(ragged)} ragged row(s) in total); fix or remove the row"
        )


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
    opener = _opener(data_uri)
    names = _read_header(opener, data_uri)
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


def _source_size(data_uri: str) -> int:
    return os.path.getsize(_local_path(data_uri)) if _is_local(data_uri) else tf.io.gfile.stat(data_uri).length


def _write_pass(
    opener: Opener,
    names: list[str],
    data_uri: str,
    output_dir: str,
    job: ChunkJob,
    shard_bytes: int,
    workers: int,
) -> tuple[dict[str, str], dict[str, examples_layout.ShardWriter]]:
    """One read of the CSV: every chunk cast to ``job.types`` (empty: the first chunk's types), split and encoded
    (``workers`` processes, results in chunk order) and appended to its split's shards.

    Returns the types and the (closed) writers; raises :class:`Widened` when a later chunk needs a wider type.
    """
    writers = {name: examples_layout.ShardWriter(output_dir, name, shard_bytes, columnar=True) for name in SPLITS}

    def append(result: ChunkResult) -> None:
        if result.widened:
            raise Widened(result.widened)
        for name, encoded in result.encoded.items():
            writers[name].write_encoded(encoded)

    try:
        with ChunkPool(workers) as pool:  # forks before the CSV reader starts its threads
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


def _write_examples(
    data_uri: str, output_dir: str, eval_fraction: float, seed: int, shard_bytes: int
) -> tuple[list[str], dict[str, str], dict[str, examples_layout.ShardWriter]]:
    """The CSV into shards, in one read when the first chunk's column types hold for the whole file (the usual
    case), else (a column widens in a later chunk) the shards written so far are dropped and the file is read
    twice more: a scan for the whole file's types, then the write. The output is the same either way."""
    opener = _opener(data_uri)
    names = _read_header(opener, data_uri)
    workers = available_cpus() if _source_size(data_uri) > BLOCK_BYTES else 1
    job = ChunkJob({}, eval_fraction, seed, columnar=True)
    with timed(log, f"writing tf.Examples of {data_uri} to {output_dir} ({workers} worker process(es))") as t:
        try:
            columns, writers = _write_pass(opener, names, data_uri, output_dir, job, shard_bytes, workers)
        except Widened as w:
            log.info(
                "column type(s) %s show only after the first chunk: rewriting with the whole file's types", w.types
            )
            _remove_output(output_dir, created=False)
            opener, scan = scan_csv(data_uri, eval_fraction, seed)
            job = job._replace(types=scan.columns)
            columns, writers = _write_pass(opener, names, data_uri, output_dir, job, shard_bytes, workers)
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
    ``seed`` changes the hash. On an :class:`IngestError` nothing is left in ``output_dir``.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise IngestError(f"eval_fraction must be strictly between 0 and 1, got {eval_fraction}")
    artifacts.register_filesystem(output_dir)
    created = not tf.io.gfile.exists(output_dir)
    start = time.perf_counter()
    try:
        names, columns, writers = _write_examples(data_uri, output_dir, eval_fraction, seed, shard_bytes)
        splits = {name: w.rows for name, w in writers.items()}
        rows = sum(splits.values())
        empty = [name for name, n in splits.items() if n == 0]
        if empty:
            raise IngestError(
                f"CSV file {data_uri}: split {empty[0]!r} got 0 of {rows} rows with eval_fraction="
                f"{eval_fraction}; give more rows or a different eval_fraction"
            )
    except IngestError:
        _remove_output(output_dir, created)
        raise
    seconds = time.perf_counter() - start
    log.info("columns: %s", ", ".join(f"{k}:{v}" for k, v in columns.items()))
    files = {name: w.files for name, w in writers.items()}
    with timed(log, f"hashing {data_uri} (lineage: the data's content hash)") as h:
        source_sha256 = lineage_lib.file_sha256(data_uri)
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
