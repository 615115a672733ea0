"""Prediction logging: the model server records every prediction, off the request path.

The log's layout, record format and writer are ``components._shared.artifacts.prediction_log`` (tf.Example
TFRecords partitioned by hour, which TFDV and kfx's monitoring read; the same writer backs the KServe
payload-logger sink). This module only adapts the server to it:

``PredictionLogger.record`` appends the request's id, time, values and output array to a buffer under a lock: a
constant number of Python operations per request, whatever its rows. The values are the numpy columns the model
was called with when they are exactly the values sent (no missing value was filled: the common case; no copy),
else the raw values as sent (one orjson call: bytes, nothing the garbage collector has to walk). A background
thread, every ``flush_seconds`` or when ``flush_rows`` rows wait, turns the buffer into columnar ``LogBatch``es
(``np.concatenate`` per feature; one orjson call for all raw requests) and has ``PredictionLogWriter`` encode them
in bulk (numpy, not one protobuf object per value: the thread barely competes with the request path for the GIL)
and write them. ``close()`` (after a clean shutdown) writes the rest, so a clean shutdown loses nothing. A failed
write is counted in the writer's ``errors`` and serving goes on.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import orjson

from components._shared.artifacts.prediction_log import LogBatch, PredictionLogWriter

log = logging.getLogger("kfx.serving")


class _Chunk(NamedTuple):
    request_id: str
    timestamp_us: int  # microseconds since the epoch, UTC
    raw: bytes | None  # orjson of {feature: values as sent (None = omitted)}, when ``columns`` is None
    columns: dict[str, np.ndarray] | None  # {feature: the values sent, as the model's numpy column}
    out: np.ndarray  # [rows, k]


def check_log_uri(uri: str) -> None:
    """ValueError when this environment's TensorFlow cannot write ``uri`` (its scheme has no filesystem): say so
    at startup rather than lose every row at the first flush."""
    import tensorflow as tf

    try:
        tf.io.gfile.exists(uri)
    except tf.errors.UnimplementedError:
        scheme = uri.split("://", 1)[0]
        raise ValueError(
            f"--prediction-log {uri}: TensorFlow in the serving environment has no {scheme}:// filesystem (s3:// needs "
            "tensorflow-io, which is not in the serving image); log to a local directory (a volume) or gs://, or send "
            "KServe's payload logger to kfx's payload sink, which runs on the runtime image and writes s3:// "
            "(manifests/README.md)"
        ) from None


class PredictionLogger:
    """Buffers predictions and writes them to ``uri`` from a background thread."""

    def __init__(
        self,
        uri: str,
        model_name: str,
        revision: str,
        features: Callable[[], dict[str, str]],
        flush_seconds: float = 10.0,
        flush_rows: int = 20_000,
    ):
        self.uri, self.model_name, self.revision = uri, model_name, revision
        self._features = features  # the model's raw features {name: kind}, known once it has loaded
        self.flush_seconds, self.flush_rows = flush_seconds, flush_rows
        # The writer's own thread never fires (ours decides when to write): one writer thread, not two.
        self.writer = PredictionLogWriter(uri, max_rows=2**62, max_seconds=10**9)
        self._chunks: list[_Chunk] = []
        self._rows = 0
        self._lock = threading.Lock()  # guards the buffer
        self._flushing = threading.Lock()  # one flush at a time
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kfx-prediction-log-buffer", daemon=True)
        self._thread.start()

    @property
    def written_rows(self) -> int:
        return self.writer.rows_written

    def record(
        self,
        request_id: str,
        raw: dict[str, list],
        out: np.ndarray,
        timestamp_us: int | None = None,
        *,
        columns: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Log one answered request at ``timestamp_us`` (UTC microseconds; default now). Called on the event loop:
        no I/O, no conversion here. ``columns``: the same values as ``raw`` as numpy columns (every feature, none
        missing), kept instead of ``raw`` when given."""
        at = time.time_ns() // 1000 if timestamp_us is None else timestamp_us
        chunk = (
            _Chunk(request_id, at, None, columns, out)
            if columns
            else _Chunk(request_id, at, orjson.dumps(raw), None, out)
        )
        with self._lock:
            self._chunks.append(chunk)
            self._rows += len(out)
            full = self._rows >= self.flush_rows
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write everything buffered so far."""
        with self._flushing:
            with self._lock:
                chunks, self._chunks, self._rows = self._chunks, [], 0
            if chunks:
                exact = [c for c in chunks if c.columns is not None]
                raw = [c for c in chunks if c.columns is None]
                if exact:
                    self.writer.log_batch(self._batch(exact, self._columns(exact)))
                if raw:
                    self.writer.log_batch(self._batch(raw, self._raw_columns(raw)))
                self.writer.flush()

    def _columns(self, chunks: list[_Chunk]) -> dict[str, np.ndarray]:
        return {f: np.concatenate([c.columns[f] for c in chunks]) for f in self._features()}

    def _raw_columns(self, chunks: list[_Chunk]) -> dict[str, list]:
        """Values as sent, one list per feature (a feature not sent is None)."""
        raws = orjson.loads(b"[" + b",".join(c.raw for c in chunks) + b"]")
        chain = itertools.chain.from_iterable
        return {
            f: list(chain(raw.get(f) or [None] * len(c.out) for raw, c in zip(raws, chunks, strict=True)))
            for f in self._features()
        }

    def _batch(self, chunks: list[_Chunk], features: dict) -> LogBatch:
        """Buffered requests as one columnar batch."""
        sizes = [len(c.out) for c in chunks]
        return LogBatch(
            request_ids=list(
                itertools.chain.from_iterable([c.request_id] * n for c, n in zip(chunks, sizes, strict=True))
            ),
            timestamps_us=np.repeat(np.array([c.timestamp_us for c in chunks], np.int64), sizes),
            features=features,
            kinds=self._features(),
            predictions=np.concatenate([c.out.reshape(len(c.out), -1) for c in chunks]),
            model=self.model_name,
            revision=self.revision,
        )

    def close(self, timeout: float = 60.0) -> None:
        """Stop the background thread and write what is left (a clean shutdown loses nothing)."""
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        self.flush()
        self.writer.close()
        log.info(
            "prediction log %s: %d rows in %d files, %d failed writes %s",
            self.uri,
            self.writer.rows_written,
            len(self.writer.files_written),
            len(self.writer.errors),
            self.writer.errors[-1:] or "",
        )
