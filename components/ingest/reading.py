"""Reading the CSV for ingest: a fresh stream of it per read (a local path, or any ``tf.io.gfile`` URI), its header
checks, and its rows as text RecordBatches of about ``BLOCK_BYTES`` of CSV each (pyarrow's streaming reader)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import tensorflow as tf

from components._shared import artifacts

#: Bytes of CSV parsed per chunk (bounds the memory of every pass and worker).
BLOCK_BYTES = 16 << 20


class IngestError(ValueError):
    """The input CSV can't be ingested; the message names the file and what to fix."""


Opener = Callable[[], "pa.NativeFile | str"]


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _local_path(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def opener(data_uri: str) -> Opener:
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


def read_header(opener: Opener, data_uri: str) -> list[str]:
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


def source_size(data_uri: str) -> int:
    """Bytes of the CSV at ``data_uri``."""
    return os.path.getsize(_local_path(data_uri)) if _is_local(data_uri) else tf.io.gfile.stat(data_uri).length
