"""The prediction log: every prediction a served kfx model made, in a layout TFDV reads directly.

Layout under a log root (a local directory or any ``tf.io.gfile`` URI)::

    <root>/date=YYYY-MM-DD/hour=HH/part-<first timestamp us>-<writer id>-<seq>.tfrecord

Each record is a ``tf.Example`` holding the request's raw features under their own names (a missing value is an
absent feature, as in kfx's examples artifacts; a feature has one type in the whole log: its raw-feature kind, or
for records without a model contract, the kind of the column's values) plus the kfx meta features below, features
in key order. Because it is tf.Example TFRecords,
a window of the log is an input TFDV reads as it is (``tfdv.generate_statistics_from_tfrecord``), and kfx's
statistics step reads the files of a window like a split of an examples artifact.

Meta features (never model inputs): ``kfx_request_id`` (bytes), ``kfx_timestamp_us`` (int64, UTC microseconds),
``kfx_model`` (bytes), ``kfx_revision`` (bytes), ``kfx_prediction`` (float list: the model's outputs for the row).

Labels arrive later, as a CSV or JSON-lines file/URI (or a directory of them, one file per delivery) with columns
``request_id`` and ``label``; :func:`read_labels` reads what has arrived so far and the monitoring step joins it on
the request id (``components/monitor/window.py``).

:class:`PredictionLogWriter` buffers records (:class:`Record` rows, or a columnar :class:`LogBatch` from the model
server) and writes them from a background thread (off the request path), at most ``max_rows`` per file or every
``max_seconds``; the tf.Examples are encoded there in bulk by :func:`encode_batch` (numpy, byte-identical to
``tf.train.Example.SerializeToString(deterministic=True)``: ``components/_shared/example_wire.py``).
:meth:`PredictionLogWriter.close` writes everything still buffered, so a clean shutdown loses nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from components._shared import example_wire as wire
from components._shared.artifacts import join
from components._shared.artifacts.labels import read_labels  # noqa: F401  (the labels joined to this log)

REQUEST_ID = "kfx_request_id"
TIMESTAMP = "kfx_timestamp_us"
MODEL = "kfx_model"
REVISION = "kfx_revision"
PREDICTION = "kfx_prediction"
META = (REQUEST_ID, TIMESTAMP, MODEL, REVISION, PREDICTION)
FILE_SUFFIX = ".tfrecord"


@dataclass
class Record:
    """One logged prediction: the raw features of one row and the model's outputs for it."""

    request_id: str
    features: Mapping[str, Any]
    prediction: Sequence[float]
    model: str = ""
    revision: str = ""
    timestamp_us: int = field(default_factory=lambda: time.time_ns() // 1000)


def partition(timestamp_us: int) -> str:
    """``date=YYYY-MM-DD/hour=HH`` of a UTC timestamp in microseconds."""
    t = datetime.fromtimestamp(timestamp_us / 1e6, tz=UTC)
    return f"date={t:%Y-%m-%d}/hour={t:%H}"


@dataclass
class LogBatch:
    """Logged predictions as columns (what the model server hands the writer: no object per row).

    ``features``: raw feature -> values as sent, one per row (None = missing; a list, or a numpy column of the
    feature's kind); ``kinds``: feature -> "int", "float" or "string" (the model's raw-feature kinds; a value is
    logged as its feature's kind, so a feature has one type in the whole log, as TFDV needs). ``predictions``: ``[rows, k]``. ``model``/``revision``: one for all
    rows, or one per row.
    """

    request_ids: Sequence[str]
    timestamps_us: np.ndarray  # int64 [rows], UTC microseconds
    features: Mapping[str, Sequence[Any]]
    kinds: Mapping[str, str]
    predictions: np.ndarray
    model: str | Sequence[str] = ""
    revision: str | Sequence[str] = ""

    def __len__(self) -> int:
        return len(self.request_ids)


def _kind(values: Sequence[Any]) -> str:
    """The kind of a column of Python values (for records that come without the model's contract)."""
    seen = {type(v) for v in values if v is not None}
    if seen and seen <= {int, bool}:
        return "int"
    if seen <= {int, bool, float}:  # also a column of missing values only: nothing is written for it
        return "float"
    return "string"


def batch_of(records: Sequence[Record]) -> LogBatch:
    """Records as a :class:`LogBatch`; each feature's kind from its values (ints, numbers, else strings)."""
    names = list(dict.fromkeys(name for r in records for name in r.features))
    features = {name: [r.features.get(name) for r in records] for name in names}
    width = max((len(r.prediction) for r in records), default=0)
    if any(len(r.prediction) != width for r in records):
        raise ValueError("records of one batch must have predictions of one width")
    return LogBatch(
        request_ids=[r.request_id for r in records],
        timestamps_us=np.array([int(r.timestamp_us) for r in records], np.int64),
        features=features,
        kinds={name: _kind(values) for name, values in features.items()},
        predictions=np.array([list(r.prediction) for r in records], np.float32).reshape(len(records), width),
        model=[r.model for r in records],
        revision=[r.revision for r in records],
    )


def _batches(item: LogBatch | list[Record]) -> list[LogBatch]:
    """A buffered item as batches: records (e.g. of several models, from the payload sink) by prediction width."""
    if isinstance(item, LogBatch):
        return [item]
    by_width: dict[int, list[Record]] = {}
    for r in item:
        by_width.setdefault(len(r.prediction), []).append(r)
    return [batch_of(records) for records in by_width.values()]


def _strings(values: Sequence[Any]) -> wire.BytesColumn:
    try:
        return wire.BytesColumn.of_strings(values)  # all strings: the common case
    except TypeError:  # missing values, bytes or other values
        present = np.fromiter((v is not None for v in values), bool, count=len(values))
        encoded = [v if type(v) is bytes else b"" if v is None else str(v).encode() for v in values]
        return wire.BytesColumn(encoded, None if present.all() else present)


def _column(kind: str, values: Sequence[Any]) -> wire.Column:
    """One raw feature's wire column: None (and NaN) are absent values."""
    if kind == "float":
        floats = np.asarray(values, np.float32 if isinstance(values, np.ndarray) else np.float64)  # None -> NaN
        present = ~np.isnan(floats)
        return wire.FloatColumn(floats.astype(np.float32, copy=False), None if present.all() else present)
    if kind == "int":
        try:
            return wire.Int64Column(np.asarray(values, np.int64))
        except (TypeError, ValueError):  # missing values
            objects = np.array(values, object)
            present = objects != None  # noqa: E711  (elementwise)
            objects[~present] = 0
            return wire.Int64Column(objects.astype(np.int64), present)
    return _strings(values)


def _constant_or_rows(value: str | Sequence[str]) -> wire.Column:
    return wire.ConstBytesColumn(value.encode()) if isinstance(value, str) else _strings(value)


def encode_batch(batch: LogBatch) -> list[bytes]:
    """One serialized tf.Example per row of ``batch`` (raw features present in the row + the meta features)."""
    rows = len(batch)
    columns: dict[str, wire.Column] = {
        name: _column(batch.kinds.get(name, "string"), values) for name, values in batch.features.items()
    }
    columns[REQUEST_ID] = _strings(batch.request_ids)
    columns[TIMESTAMP] = wire.Int64Column(np.asarray(batch.timestamps_us, np.int64))
    columns[MODEL] = _constant_or_rows(batch.model)
    columns[REVISION] = _constant_or_rows(batch.revision)
    columns[PREDICTION] = wire.FloatColumn(np.asarray(batch.predictions, np.float32).reshape(rows, -1))
    return wire.encode(columns, rows)


def encode(record: Record) -> bytes:
    """A serialized tf.Example of one record (None and NaN features are left out: missing)."""
    return encode_batch(batch_of([record]))[0]


def decode(serialized: bytes) -> dict[str, Any]:
    """A logged record as a dict: features as scalars (lists for ``kfx_prediction``), strings decoded."""
    import tensorflow as tf

    example = tf.train.Example.FromString(serialized)
    out: dict[str, Any] = {}
    for name, feat in example.features.feature.items():
        kind = feat.WhichOneof("kind")
        values = list(getattr(feat, kind).value) if kind else []
        if kind == "bytes_list":
            values = [v.decode() for v in values]
        out[name] = values if name == PREDICTION else (values[0] if values else None)
    return out


class PredictionLogWriter:
    """Buffered, thread-backed writer of prediction-log files. ``log``/``log_batch`` never touch storage and do
    O(1) work per call; the tf.Examples are encoded in bulk (:mod:`components._shared.example_wire`) when written."""

    def __init__(self, root: str, max_rows: int = 10_000, max_seconds: float = 10.0) -> None:
        self.root, self.max_rows, self.max_seconds = root, max_rows, max_seconds
        self._id = uuid.uuid4().hex[:12]
        self._seq = 0
        self._buffer: list[LogBatch | list[Record]] = []
        self._rows = 0
        self._cond = threading.Condition()
        self._closed = False
        self.rows_written = 0
        self.files_written: list[str] = []
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="kfx-prediction-log", daemon=True)
        self._thread.start()

    def log(self, records: Iterable[Record]) -> None:
        """Queue records for writing."""
        records = list(records)
        if records:
            self._enqueue(records, len(records))

    def log_batch(self, batch: LogBatch) -> None:
        """Queue a columnar batch for writing."""
        if len(batch):
            self._enqueue(batch, len(batch))

    def _enqueue(self, item: LogBatch | list[Record], rows: int) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("prediction log writer is closed")
            self._buffer.append(item)
            self._rows += rows
            if self._rows >= self.max_rows:
                self._cond.notify()

    def _take(self) -> list[LogBatch | list[Record]]:
        with self._cond:
            batch, self._buffer, self._rows = self._buffer, [], 0
        return batch

    def flush(self) -> None:
        """Write everything buffered now (on the caller's thread)."""
        self._write(self._take())

    def close(self) -> None:
        """Stop the background thread and write what is left: nothing logged before close is lost."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._rows >= self.max_rows, self.max_seconds)
                if self._closed:
                    return
            self._write(self._take())

    def _write(self, items: list[LogBatch | list[Record]]) -> None:
        if not items:
            return
        try:
            batches = [b for item in items for b in _batches(item)]
            serialized = [s for b in batches for s in encode_batch(b)]
            timestamps = np.concatenate([np.asarray(b.timestamps_us, np.int64) for b in batches])
        except Exception as e:  # noqa: BLE001  (a background thread: record the failure, keep serving)
            self.errors.append(f"{type(e).__name__}: {e}")
            return
        hours = timestamps // 3_600_000_000  # rows of one hour go to one file of that hour's partition
        if hours.min() == hours.max():
            self._write_file(int(timestamps[0]), serialized)
            return
        for hour in np.unique(hours):
            rows = np.flatnonzero(hours == hour)
            self._write_file(int(timestamps[rows[0]]), [serialized[i] for i in rows])

    def _write_file(self, first_us: int, records: list[bytes]) -> None:
        import tensorflow as tf

        self._seq += 1
        name = f"part-{first_us:017d}-{self._id}-{self._seq:06d}{FILE_SUFFIX}"
        directory = join(self.root, *partition(first_us).split("/"))
        try:
            tf.io.gfile.makedirs(directory)
            tmp, final = join(directory, f".{name}.tmp"), join(directory, name)
            with tf.io.TFRecordWriter(tmp) as w:
                for r in records:
                    w.write(r)
            tf.io.gfile.rename(tmp, final, overwrite=True)  # readers never see a half-written file
        except Exception as e:  # noqa: BLE001  (a background thread: record the failure, keep serving)
            self.errors.append(f"{type(e).__name__}: {e}")
            return
        self.rows_written += len(records)
        self.files_written.append(final)


def window_files(root: str, start: datetime, end: datetime) -> list[str]:
    """Log files whose hour partition overlaps ``[start, end)`` (UTC), sorted."""
    import tensorflow as tf

    files: list[str] = []
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while hour < end:
        directory = join(root, f"date={hour:%Y-%m-%d}", f"hour={hour:%H}")
        files += tf.io.gfile.glob(join(directory, "part-*" + FILE_SUFFIX))
        hour += timedelta(hours=1)
    return sorted(files)


def read_records(files: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Decoded records of log files, in file order."""
    import tensorflow as tf

    for path in files:
        for serialized in tf.data.TFRecordDataset(path).as_numpy_iterator():
            yield decode(serialized)


def read_window(root: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every logged record with ``start <= timestamp < end``."""
    lo, hi = int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)
    return [r for r in read_records(window_files(root, start, end)) if lo <= r[TIMESTAMP] < hi]
