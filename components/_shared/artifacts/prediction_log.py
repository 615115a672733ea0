"""The prediction log: every prediction a served kfx model made, in a layout TFDV reads directly.

Layout under a log root (a local directory or any ``tf.io.gfile`` URI)::

    <root>/date=YYYY-MM-DD/hour=HH/part-<first timestamp us>-<writer id>-<seq>.tfrecord

Each record is a ``tf.Example`` holding the request's raw features under their own names (a missing value is an
absent feature, as in kfx's examples artifacts) plus the kfx meta features below. Because it is tf.Example TFRecords,
a window of the log is an input TFDV reads as it is (``tfdv.generate_statistics_from_tfrecord``), and kfx's
statistics step reads the files of a window like a split of an examples artifact.

Meta features (never model inputs): ``kfx_request_id`` (bytes), ``kfx_timestamp_us`` (int64, UTC microseconds),
``kfx_model`` (bytes), ``kfx_revision`` (bytes), ``kfx_prediction`` (float list: the model's outputs for the row).

Labels arrive later, as a CSV or JSON-lines file/URI with columns ``request_id`` and ``label``; they are joined on
the request id by :func:`read_labels` / the monitoring step.

:class:`PredictionLogWriter` buffers records and writes them from a background thread (off the request path), at
most ``max_rows`` per file or every ``max_seconds``; :meth:`PredictionLogWriter.close` writes everything still
buffered, so a clean shutdown loses nothing.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from components._shared.artifacts import join

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


def _feature(value: Any) -> Any:
    import tensorflow as tf

    if isinstance(value, bool | int) and not isinstance(value, float):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    if isinstance(value, float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    if isinstance(value, bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(value).encode()]))


def encode(record: Record) -> bytes:
    """A serialized tf.Example of ``record`` (None and NaN features are left out: missing)."""
    import tensorflow as tf

    feats = {}
    for name, value in record.features.items():
        if value is None or (isinstance(value, float) and value != value):
            continue
        feats[name] = _feature(value)
    feats[REQUEST_ID] = _feature(record.request_id)
    feats[TIMESTAMP] = _feature(int(record.timestamp_us))
    feats[MODEL] = _feature(record.model)
    feats[REVISION] = _feature(record.revision)
    feats[PREDICTION] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in record.prediction]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


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
    """Buffered, thread-backed writer of prediction-log files. ``log`` never touches storage."""

    def __init__(self, root: str, max_rows: int = 10_000, max_seconds: float = 10.0) -> None:
        self.root, self.max_rows, self.max_seconds = root, max_rows, max_seconds
        self._id = uuid.uuid4().hex[:12]
        self._seq = 0
        self._buffer: list[Record] = []
        self._cond = threading.Condition()
        self._closed = False
        self.rows_written = 0
        self.files_written: list[str] = []
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="kfx-prediction-log", daemon=True)
        self._thread.start()

    def log(self, records: Iterable[Record]) -> None:
        """Queue records for writing (O(1) per record on the caller's thread)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("prediction log writer is closed")
            self._buffer.extend(records)
            if len(self._buffer) >= self.max_rows:
                self._cond.notify()

    def flush(self) -> None:
        """Write everything buffered now (on the caller's thread)."""
        with self._cond:
            batch, self._buffer = self._buffer, []
        self._write(batch)

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
                self._cond.wait_for(lambda: self._closed or len(self._buffer) >= self.max_rows, self.max_seconds)
                if self._closed:
                    return
                batch, self._buffer = self._buffer, []
            self._write(batch)

    def _write(self, batch: list[Record]) -> None:
        if not batch:
            return
        import tensorflow as tf

        by_partition: dict[str, list[Record]] = {}
        for r in batch:
            by_partition.setdefault(partition(r.timestamp_us), []).append(r)
        for part, records in by_partition.items():
            self._seq += 1
            name = f"part-{records[0].timestamp_us:017d}-{self._id}-{self._seq:06d}{FILE_SUFFIX}"
            directory = join(self.root, *part.split("/"))
            try:
                tf.io.gfile.makedirs(directory)
                tmp, final = join(directory, f".{name}.tmp"), join(directory, name)
                with tf.io.TFRecordWriter(tmp) as w:
                    for r in records:
                        w.write(encode(r))
                tf.io.gfile.rename(tmp, final, overwrite=True)  # readers never see a half-written file
            except Exception as e:  # noqa: BLE001  (a background thread: record the failure, keep serving)
                self.errors.append(f"{type(e).__name__}: {e}")
                continue
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


def read_labels(uri: str) -> dict[str, Any]:
    """``request_id -> label`` from a CSV (header ``request_id,label``) or JSON-lines file; {} when it doesn't exist."""
    import tensorflow as tf

    if not tf.io.gfile.exists(uri):
        return {}
    with tf.io.gfile.GFile(uri) as f:
        text = f.read()
    if uri.endswith((".jsonl", ".json")):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    missing = {"request_id", "label"} - set(rows[0]) if rows else set()
    if missing:
        raise ValueError(f"labels file {uri} lacks column(s) {', '.join(sorted(missing))}; it needs request_id,label")
    return {str(r["request_id"]): r["label"] for r in rows}
