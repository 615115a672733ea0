"""Prediction logging: the model server records every prediction, off the request path.

``PredictionLogger.record`` only appends the request's already-parsed columns and its output to an
in-memory buffer (under a lock, O(1)); a background thread turns the buffer into Parquet parts and
writes them (layout: ``components._shared.artifacts.prediction_log``) every ``flush_seconds`` or when
``flush_rows`` rows are waiting. ``close()`` (on a clean shutdown) writes what is left, so a clean shutdown
loses nothing. A failed write is retried at the next flush while the buffer holds fewer than
``max_buffer_rows`` rows; beyond that the oldest rows are dropped and counted (``dropped_rows``) and the
error logged: serving never stops because the log's storage is down.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import orjson
import pyarrow as pa

from components._shared.artifacts import prediction_log as layout

log = logging.getLogger("kfx.serving")
_HOUR_US = 3600 * 10**6  # the log's partitions are UTC hours


class _Chunk(NamedTuple):
    """One answered request, kept compact: bytes and numbers are not traversed by Python's garbage collector,
    so a full buffer does not slow down every collection on the request path."""

    request_id: str
    timestamp_us: int  # microseconds since the epoch
    raw: bytes  # orjson of {feature: values as sent (None = omitted)}
    out: np.ndarray  # [rows, k] float32


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
        max_buffer_rows: int = 1_000_000,
    ):
        self.uri, self.model_name, self.revision = uri, model_name, revision
        self._features = features  # the model's raw features {name: kind}, known once it has loaded
        self.flush_seconds, self.flush_rows, self.max_buffer_rows = flush_seconds, flush_rows, max_buffer_rows
        self.written_rows = self.dropped_rows = self.parts = 0
        self._writer = f"{socket.gethostname()}-{os.getpid()}"
        self._chunks: list[_Chunk] = []
        self._rows = 0
        self._lock = threading.Lock()  # guards the buffer
        self._flushing = threading.Lock()  # one flush at a time
        self._wake = threading.Event()
        self._closed = False
        # The first conversion imports more of pyarrow (seconds, holding the GIL): now, not in the middle of traffic.
        layout.to_table({c: [] for c in layout.META_COLUMNS}, {})
        self._thread = threading.Thread(target=self._run, name="kfx-prediction-log", daemon=True)
        self._thread.start()

    def record(self, request_id: str, raw: dict[str, list], out: np.ndarray) -> None:
        """Log one answered request (called on the event loop: no I/O, no conversion here)."""
        chunk = _Chunk(request_id, time.time_ns() // 1000, orjson.dumps(raw), out)
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
        """Write everything buffered so far (one part per hour partition)."""
        with self._flushing:
            with self._lock:
                chunks, self._chunks, self._rows = self._chunks, [], 0
            if not chunks:
                return
            by_hour: dict[int, list[_Chunk]] = defaultdict(list)
            for c in chunks:
                by_hour[c.timestamp_us // _HOUR_US].append(c)
            for part in by_hour.values():
                try:
                    self._write(part)
                except Exception as e:  # storage down: keep serving, retry at the next flush
                    log.error(
                        "prediction log: writing %d rows to %s failed: %s", sum(len(c.out) for c in part), self.uri, e
                    )
                    self._requeue(part)

    def _write(self, chunks: list[_Chunk]) -> None:
        """One part from buffered chunks: metadata and predictions as numpy-built Arrow arrays (no per-row Python
        objects), features from the JSON the requests sent."""
        features = self._features()
        rows = np.array([len(c.out) for c in chunks], dtype=np.int64)
        n = int(rows.sum())
        outs = np.concatenate([c.out for c in chunks]).astype(np.float32, copy=False).reshape(n, -1)
        k = outs.shape[1]
        starts = np.repeat(np.cumsum(rows) - rows, rows)
        columns: dict[str, Any] = {
            "request_id": pa.array(np.repeat(np.array([c.request_id for c in chunks], dtype=object), rows)),
            "row": pa.array((np.arange(n) - starts).astype(np.int32)),
            "timestamp": pa.array(np.repeat([c.timestamp_us for c in chunks], rows), pa.timestamp("us", tz="UTC")),
            "model_name": pa.repeat(pa.scalar(self.model_name), n),
            "model_revision": pa.repeat(pa.scalar(self.revision), n),
            "prediction": pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)), outs.ravel()),
        }
        values: dict[str, list] = {f: [] for f in features}
        for c, r in zip(chunks, rows.tolist(), strict=True):
            raw = orjson.loads(c.raw)
            for f, col in values.items():
                col.extend(raw.get(f) or [None] * r)
        columns.update(values)
        table = layout.to_table(columns, features)
        self.parts += 1
        layout.write_part(self.uri, table, _when(chunks[0]), self._writer, self.parts)
        self.written_rows += n

    def _requeue(self, chunks: list[_Chunk]) -> None:
        with self._lock:
            self._chunks[:0] = chunks
            self._rows += sum(len(c.out) for c in chunks)
            while self._rows > self.max_buffer_rows and self._chunks:
                dropped = self._chunks.pop(0)
                self._rows -= len(dropped.out)
                self.dropped_rows += len(dropped.out)

    def close(self, timeout: float = 60.0) -> None:
        """Stop the background thread and write what is left (a clean shutdown loses nothing)."""
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        self.flush()
        log.info(
            "prediction log %s: %d rows in %d parts, %d dropped",
            self.uri,
            self.written_rows,
            self.parts,
            self.dropped_rows,
        )


def _when(chunk: _Chunk) -> datetime:
    return datetime.fromtimestamp(chunk.timestamp_us / 1e6, UTC)
