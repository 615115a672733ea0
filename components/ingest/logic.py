"""Ingest: CSV (local path or any ``tf.io.gfile`` URI) -> tf.Example TFRecords split into train/eval.

* Parsing is pyarrow's multi-threaded CSV reader; every column is first read as text, then typed over the
  *whole* column (int64 if every present cell is an integer, else float64 if every present cell is a
  number, else string), so an integral column with missing values stays ``int``.
* Empty cells are missing values: the example carries the feature with no value list, which every reader
  (``tf.io.parse_example``, tfx_bsl/TFDV, TFT) treats as absent.
* The split is a deterministic hash of the row's *text* (all cells) and ``seed``: the same row lands in the
  same split on any machine, whatever else the file contains; identical rows always share a split.
* Serialization is tfx_bsl's C++ ``RecordBatchToExamplesEncoder`` (no per-row Python proto building).

Every input problem (missing/empty/header-only file, ragged row, duplicate or empty column name) raises
``IngestError`` before anything is written.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.coders import example_coder

from components._shared import artifacts
from components._shared.log import get_logger, timed

log = get_logger("ingest")

#: Rows encoded and written per chunk (bounds the memory held by serialized examples).
_CHUNK_ROWS = 65_536

_TYPE_NAMES = {"int": pa.int64(), "float": pa.float64(), "string": pa.large_binary()}


class IngestError(ValueError):
    """The input CSV can't be ingested; the message names the file and what to fix."""


@dataclass
class IngestResult:
    columns: dict[str, str]
    splits: dict[str, int]
    rows: int
    source: str = ""
    seconds: float = 0.0
    files: dict[str, list[str]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- reading


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _local_path(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def _open_source(data_uri: str) -> pa.NativeFile | str:
    """A local path (read by pyarrow directly) or an in-memory buffer of a remote gfile object."""
    if _is_local(data_uri):
        path = _local_path(data_uri)
        if not os.path.isfile(path):
            raise IngestError(f"CSV file {data_uri} does not exist")
        if os.path.getsize(path) == 0:
            raise IngestError(f"CSV file {data_uri} is empty (0 bytes); expected a header line and data rows")
        return path
    artifacts.register_filesystem(data_uri)
    if not tf.io.gfile.exists(data_uri):
        raise IngestError(f"CSV file {data_uri} does not exist")
    with tf.io.gfile.GFile(data_uri, "rb") as f:
        data = f.read()
    if not data:
        raise IngestError(f"CSV file {data_uri} is empty (0 bytes); expected a header line and data rows")
    return pa.BufferReader(pa.py_buffer(data))


def _read_header(source: pa.NativeFile | str, data_uri: str) -> list[str]:
    if isinstance(source, str):
        with open(source, newline="", encoding="utf-8-sig") as f:
            first = f.readline()
    else:
        head = source.read(1 << 20)
        source.seek(0)
        first = head.decode("utf-8-sig", errors="replace").splitlines()[0] if head else ""
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


def _find_ragged_line(source: pa.NativeFile | str, n_cols: int) -> tuple[int, int] | None:
    """(1-based physical line, cells) of the first row whose cell count differs from the header's."""
    if isinstance(source, str):
        f = open(source, newline="", encoding="utf-8-sig")  # noqa: SIM115
    else:
        source.seek(0)
        f = io.TextIOWrapper(io.BytesIO(source.read()), encoding="utf-8-sig", newline="")
    with f:
        reader = csv.reader(f)
        for row in reader:
            if row and len(row) != n_cols:
                return reader.line_num, len(row)
    return None


def read_csv_table(data_uri: str) -> pa.Table:
    """Parse ``data_uri`` into an Arrow table typed per whole column (int64 / float64 / large_binary).

    Raises IngestError for a missing, empty or header-only file, a ragged row (naming its line) or a
    duplicate column name.
    """
    source = _open_source(data_uri)
    names = _read_header(source, data_uri)
    ragged: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        ragged.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as e:
        raise IngestError(f"CSV file {data_uri} could not be parsed: {e}") from e
    if ragged:
        first = ragged[0]
        line, cells = first.number, first.actual_columns
        if line is None:
            found = _find_ragged_line(source, len(names))
            line, cells = found if found else ("?", cells)
        raise IngestError(
            f"CSV file {data_uri}: line {line} has {cells} cells but the header has {len(names)} columns "
            f"({len(ragged)} ragged row(s) in total); fix or remove the row"
        )
    if table.num_rows == 0:
        raise IngestError(f"CSV file {data_uri} has a header but no data rows")
    return table


def _infer_column(col: pa.ChunkedArray) -> tuple[str, pa.ChunkedArray]:
    """Type a text column over all its values: int if all integral, else float if all numeric, else string."""
    # a failed cast over the whole column is slow: try the first values first, then the whole column
    head = col.slice(0, 4096)
    for name in ("int", "float"):
        for values in (head, col):
            try:
                typed = pc.cast(values, _TYPE_NAMES[name])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                try:  # tolerate padding such as " 12"
                    typed = pc.cast(pc.utf8_trim_whitespace(values), _TYPE_NAMES[name])
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    break
        else:
            return name, typed
    return "string", col.cast(pa.large_binary())


def infer_types(table: pa.Table) -> tuple[dict[str, str], pa.Table]:
    """Columns' kfx type names and the typed table."""
    types: dict[str, str] = {}
    arrays = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        types[name], typed = _infer_column(col)
        arrays.append(typed)
    return types, pa.Table.from_arrays(arrays, names=table.column_names)


# ----------------------------------------------------------------------------------------------- split


def row_hashes(text_table: pa.Table, seed: int = 0) -> np.ndarray:
    """uint64 hash of each row's cell texts (pandas' fixed-key SipHash: the same on every machine)."""
    h = np.full(text_table.num_rows, np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(seed & 0xFFFFFFFFFFFFFFFF))
    mult = np.uint64(1_000_003)
    with np.errstate(over="ignore"):
        for col in text_table.columns:
            values = pc.fill_null(col, "").to_numpy()
            h = (h * mult) ^ pd.util.hash_array(values.astype(object, copy=False), categorize=True)
        # final avalanche (splitmix64) so the low bits of every column matter
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def assign_splits(hashes: np.ndarray, eval_fraction: float) -> np.ndarray:
    """Boolean mask: True where a row goes to eval (hash, as a fraction of 2**64, below ``eval_fraction``)."""
    unit = (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return unit < eval_fraction


# ----------------------------------------------------------------------------------------------- write


def _to_list_array(col: pa.Array) -> pa.Array:
    """One value per row as a list array; a null cell becomes a null list (no value in the example)."""
    valid = col.is_valid()
    counts = pc.cast(valid, pa.int64()).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(col) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    values = col.drop_null() if col.null_count else col
    if pa.types.is_floating(values.type):
        values = values.cast(pa.float32())
    return pa.LargeListArray.from_arrays(
        pa.array(offsets, pa.int64()), values, mask=pc.invert(valid) if col.null_count else None
    )


def _write_split(table: pa.Table, path: str) -> None:
    encoder = example_coder.RecordBatchToExamplesEncoder()
    with tf.io.TFRecordWriter(path) as writer:
        for batch in table.to_batches(max_chunksize=_CHUNK_ROWS):
            lists = [_to_list_array(c) for c in batch.columns]
            for record in encoder.encode(pa.RecordBatch.from_arrays(lists, names=batch.schema.names)):
                writer.write(record)


def ingest_csv(
    data_uri: str,
    output_dir: str,
    eval_fraction: float = 0.2,
    seed: int = 0,
) -> IngestResult:
    """Convert the CSV at ``data_uri`` into the examples artifact at ``output_dir``.

    Layout (``components/_shared/artifacts.py``): ``train/part-00000.tfrecord``, ``eval/part-00000.tfrecord``
    and ``examples.json``. ``eval_fraction`` is the share of rows hashed into eval; ``seed`` changes the hash.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise IngestError(f"eval_fraction must be strictly between 0 and 1, got {eval_fraction}")
    with timed(log, f"reading {data_uri}") as t:
        text = read_csv_table(data_uri)
        t["rows"] = text.num_rows
    with timed(log, f"typing {text.num_columns} columns"):
        columns, typed = infer_types(text)
    log.info("columns: %s", ", ".join(f"{k}:{v}" for k, v in columns.items()))
    with timed(log, f"hash-splitting (eval_fraction={eval_fraction}, seed={seed})") as t:
        is_eval = assign_splits(row_hashes(text, seed), eval_fraction)
        t["rows"] = len(is_eval)
    del text
    parts = {"train": typed.filter(pa.array(~is_eval)), "eval": typed.filter(pa.array(is_eval))}
    splits = {name: part.num_rows for name, part in parts.items()}
    empty = [name for name, n in splits.items() if n == 0]
    if empty:
        raise IngestError(
            f"CSV file {data_uri}: split {empty[0]!r} got 0 of {typed.num_rows} rows with eval_fraction="
            f"{eval_fraction}; give more rows or a different eval_fraction"
        )

    files: dict[str, list[str]] = {}
    with timed(log, f"writing tf.Examples to {output_dir}") as t:
        for name, part in parts.items():
            tf.io.gfile.makedirs(artifacts.split_dir(output_dir, name))
            path = os.path.join(artifacts.split_dir(output_dir, name), "part-00000.tfrecord")
            _write_split(part, path)
            files[name] = [path]
            log.info("split %s: %s rows -> %s", name, f"{part.num_rows:,}", path)
        t["rows"] = typed.num_rows
    meta = {
        "columns": columns,
        "column_order": list(columns),  # write_json sorts keys; this keeps the CSV's order
        "splits": splits,
        "source": data_uri,
        "rows": typed.num_rows,
        "eval_fraction": eval_fraction,
        "seed": seed,
    }
    artifacts.write_json(os.path.join(output_dir, artifacts.EXAMPLES_META), meta)
    return IngestResult(
        columns=columns, splits=splits, rows=typed.num_rows, source=data_uri, seconds=t["seconds"], files=files
    )


# ------------------------------------------------------------------------------------------------ read


def read_examples_meta(examples_dir: str) -> dict:
    """The ``examples.json`` of an examples artifact."""
    path = os.path.join(examples_dir, artifacts.EXAMPLES_META)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path} not found: {examples_dir} is not an ingest examples artifact")
    return artifacts.read_json(path)


def columns_schema(columns: dict[str, str]) -> schema_pb2.Schema:
    """A bare TFMD schema (names + types only) for kfx column types."""
    kinds = {"int": schema_pb2.INT, "float": schema_pb2.FLOAT, "string": schema_pb2.BYTES}
    schema = schema_pb2.Schema()
    for name, kind in columns.items():
        schema.feature.add(name=name, type=kinds[kind])
    return schema


def iter_records(files: Sequence[str]) -> Iterator[bytes]:
    """Serialized records of TFRecord files (any gfile URI; ``.gz`` files are read as GZIP), CRC-checked.

    TF's C++ record reader without tf.data's start-up cost (~1 s per process), which dominates small splits.
    """
    from tensorflow.python.util import deprecation

    for path in files:
        options = tf.io.TFRecordOptions("GZIP") if path.endswith(".gz") else None
        with deprecation.silence():
            yield from tf.compat.v1.io.tf_record_iterator(path, options)


def decode_batches(
    files: Sequence[str], schema: schema_pb2.Schema | None = None, batch_size: int = _CHUNK_ROWS
) -> Iterator[pa.RecordBatch]:
    """Arrow RecordBatches (list-typed columns) of tf.Examples in ``files``, decoded by tfx_bsl's C++ decoder.

    With ``schema`` every schema feature is a column, typed as declared, even where a batch has no value.
    """
    decoder = example_coder.ExamplesToRecordBatchDecoder(schema.SerializeToString() if schema else None)
    chunk: list[bytes] = []
    for record in iter_records(files):
        chunk.append(record)
        if len(chunk) >= batch_size:
            yield decoder.DecodeBatch(chunk)
            chunk = []
    if chunk:
        yield decoder.DecodeBatch(chunk)


def iter_split_batches(
    examples_dir: str, split: str, batch_size: int = _CHUNK_ROWS, columns: dict[str, str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Yield Arrow RecordBatches (list-typed columns) decoded from one split's TFRecords by tfx_bsl.

    With ``columns`` (or an ``examples.json`` next to the splits) every column is present and typed
    even if a batch has no value for it.
    """
    if columns is None:
        meta_path = os.path.join(examples_dir, artifacts.EXAMPLES_META)
        if tf.io.gfile.exists(meta_path):
            columns = artifacts.read_json(meta_path).get("columns")
    schema = columns_schema(columns) if columns else None
    yield from decode_batches(artifacts.split_files(examples_dir, split), schema, batch_size)


def load_split(examples_dir: str, split: str, columns: Sequence[str] | None = None) -> pa.RecordBatch:
    """All examples of one split as one Arrow RecordBatch (columns are lists, as tfx_bsl decodes them).

    ``columns`` keeps only those columns (in that order).
    """
    batches = list(iter_split_batches(examples_dir, split))
    if not batches:
        raise ValueError(f"split {split!r} of {examples_dir} has no examples")
    table = pa.Table.from_batches(batches).combine_chunks()
    if columns is None:
        meta_path = os.path.join(examples_dir, artifacts.EXAMPLES_META)
        if tf.io.gfile.exists(meta_path):
            meta = artifacts.read_json(meta_path)
            order = meta.get("column_order") or list(meta.get("columns", {}))
            if sorted(order) == sorted(table.column_names):
                table = table.select(order)
    else:
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise KeyError(f"column(s) {missing} not in split {split!r} of {examples_dir}")
        table = table.select(list(columns))
    out = table.to_batches()
    return out[0] if len(out) == 1 else pa.Table.from_batches(out).combine_chunks().to_batches()[0]


def split_to_pandas(examples_dir: str, split: str) -> pd.DataFrame:
    """One split as a DataFrame with one scalar per cell (None/NaN where the value is missing)."""
    batch = load_split(examples_dir, split)
    data = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        flat = pc.list_element(col, 0) if len(col) else col.flatten()
        if pa.types.is_large_binary(flat.type) or pa.types.is_binary(flat.type):
            flat = flat.cast(pa.large_string())
        data[name] = flat.to_pandas()
    return pd.DataFrame(data)


__all__ = [
    "IngestError",
    "IngestResult",
    "ingest_csv",
    "load_split",
    "iter_split_batches",
    "read_csv_table",
    "read_examples_meta",
    "split_to_pandas",
    "columns_schema",
]
