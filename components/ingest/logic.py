"""Ingest: CSV (local path or any ``tf.io.gfile`` URI) -> tf.Example TFRecord shards split into train/eval.

The CSV is streamed twice in bounded chunks (pyarrow's streaming CSV reader), so memory does not grow with the
file:

1. **scan**: every cell is read as text; each column's type is the widest any chunk needs (int64 if every
   present cell is an integer, else float64 if every present cell is a number, else string: a column whose
   type is revealed only in a late chunk is typed correctly), and each row's split is decided;
2. **write**: each chunk is cast to the final types, split, encoded a whole batch at a time
   (``components/_shared/example_wire.py``: the deterministic serialization of what tfx-bsl's
   ``RecordBatchToExamplesEncoder`` encodes, 2-2.5x as fast) and appended to the split's shards, each with its columnar
   copy (``part-NNNNN.arrow``, which the statistics step reads instead of decoding the TFRecords; layout:
   ``components/_shared/artifacts/examples``).

* Empty cells are missing values: the example carries the feature with no value list, which every reader
  (``tf.io.parse_example``, tfx_bsl/TFDV, TFT) treats as absent.
* The split is a deterministic hash of the row's *text* (all cells) and ``seed``: the same row lands in the
  same split on any machine, whatever else the file contains; identical rows always share a split.

Every input problem (missing/empty/header-only file, ragged row, duplicate or empty column name) raises
``IngestError`` before anything is written.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import tensorflow as tf

from components._shared import artifacts
from components._shared import lineage as lineage_lib
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts.examples import (  # noqa: F401  (re-exported: the readers' old home)
    columns_schema,
    iter_split_batches,
    load_split,
    split_to_pandas,
)
from components._shared.log import get_logger, timed

log = get_logger("ingest")

#: Bytes of CSV parsed per chunk (bounds the memory of both passes).
BLOCK_BYTES = 16 << 20

#: kfx column types, narrowest first: a column takes the widest type any of its chunks needs.
TYPE_ORDER = ("int", "float", "string")
_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "string": pa.large_binary()}


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
    """A text batch cast to the final column types (int64 / float64 / large_binary)."""
    arrays = []
    for name, col in zip(text.schema.names, text.columns, strict=True):
        typed = _cast(col, columns[name]) if columns[name] != "string" else col.cast(pa.large_binary())
        if typed is None:  # the scan typed this column over the same cells: cannot happen
            raise IngestError(f"column {name!r} does not fit type {columns[name]} in a later read of the file")
        arrays.append(typed)
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
    ``seed`` changes the hash.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise IngestError(f"eval_fraction must be strictly between 0 and 1, got {eval_fraction}")
    with timed(log, f"scanning {data_uri} (types, split)") as t:
        opener, scan = scan_csv(data_uri, eval_fraction, seed)
        t["rows"] = scan.rows
    columns, splits = scan.columns, scan.splits()
    log.info("columns: %s", ", ".join(f"{k}:{v}" for k, v in columns.items()))
    empty = [name for name, n in splits.items() if n == 0]
    if empty:
        raise IngestError(
            f"CSV file {data_uri}: split {empty[0]!r} got 0 of {scan.rows} rows with eval_fraction="
            f"{eval_fraction}; give more rows or a different eval_fraction"
        )

    with timed(log, f"writing tf.Examples to {output_dir}") as t:
        writers = {name: examples_layout.ShardWriter(output_dir, name, shard_bytes, columnar=True) for name in splits}
        try:
            for batch, mask in typed_batches(opener, scan, data_uri):
                writers["train"].write(batch.filter(pa.array(~mask)))
                writers["eval"].write(batch.filter(pa.array(mask)))
        finally:
            for writer in writers.values():
                writer.close()
        t["rows"] = scan.rows
    seconds = t["seconds"]
    files = {name: w.files for name, w in writers.items()}
    with timed(log, f"hashing {data_uri} (lineage: the data's content hash)") as h:
        source_sha256 = lineage_lib.file_sha256(data_uri)
        h["rows"] = scan.rows
    for name, w in writers.items():
        log.info("split %s: %s rows in %d shard(s) under %s", name, f"{w.rows:,}", len(w.files), w.dir)
    examples_layout.write_meta(
        output_dir,
        {
            "columns": columns,
            "column_order": scan.names,  # write_json sorts keys; this keeps the CSV's order
            "splits": splits,
            "shards": {name: len(f) for name, f in files.items()},
            "source": data_uri,
            "source_sha256": source_sha256,
            "rows": scan.rows,
            "eval_fraction": eval_fraction,
            "seed": seed,
        },
    )
    return IngestResult(
        columns=columns,
        splits=splits,
        rows=scan.rows,
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
