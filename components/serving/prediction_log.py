"""Prediction logging: the model server records every prediction, off the request path.

The log's layout, record format and writer are ``components._shared.artifacts.prediction_log`` (tf.Example
TFRecords partitioned by hour, which TFDV and kfx's monitoring read; the same writer backs the KServe
payload-logger sink). This module only adapts the server to it:

``PredictionLogger.record`` appends the request's id, time, raw values as sent (orjson bytes: nothing the
garbage collector has to walk) and output rows to a buffer under a lock, O(1) on the request path. A
background thread turns the buffer into ``Record`` rows and hands them to ``PredictionLogWriter`` every
``flush_seconds`` or when ``flush_rows`` rows wait. ``close()`` (after a clean shutdown) writes the rest,
so a clean shutdown loses nothing. A failed write is counted in the writer's ``errors`` and serving goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import orjson

from components._shared.artifacts.prediction_log import PredictionLogWriter, Record

log = logging.getLogger("kfx.serving")


class _Chunk(NamedTuple):
    request_id: str
    timestamp_us: int  # microseconds since the epoch, UTC
    raw: bytes  # orjson of {feature: values as sent (None = omitted)}
    out: np.ndarray  # [rows, k]


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

    def record(self, request_id: str, raw: dict[str, list], out: np.ndarray, timestamp_us: int | None = None) -> None:
        """Log one answered request (called on the event loop: no I/O, no conversion here), at ``timestamp_us``
        (UTC microseconds; default now)."""
        at = time.time_ns() // 1000 if timestamp_us is None else timestamp_us
        chunk = _Chunk(request_id, at, orjson.dumps(raw), out)
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
                self.writer.log(self._records(chunks))
                self.writer.flush()

    def _records(self, chunks: list[_Chunk]) -> list[Record]:
        features = list(self._features())
        records = []
        for c in chunks:
            raw = orjson.loads(c.raw)
            columns = [raw.get(f) or [None] * len(c.out) for f in features]
            for i, prediction in enumerate(c.out.tolist()):
                row = {f: col[i] for f, col in zip(features, columns, strict=True)}
                records.append(Record(c.request_id, row, prediction, self.model_name, self.revision, c.timestamp_us))
        return records

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
