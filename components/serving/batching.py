"""Micro-batching: concurrent requests share one TensorFlow call.

One TensorFlow call costs far more than the HTTP round trip, so validated requests go onto a queue (one
per call path) and one worker thread runs the model on everything that queued while its previous call
ran, up to ``max_rows`` rows. There is no artificial wait: a lone request is called at once and pays
nothing extra. If a combined call fails, each request is retried alone so one bad request can't fail
its neighbours.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any

import numpy as np

from components._shared._compat.asyncio import peek_nowait
from components.serving.codec import RAW, Batch

Call = Callable[[Batch], np.ndarray]  # runs the model on one batch (in the TensorFlow thread)


class _Pending:
    """One validated request waiting for the TensorFlow thread."""

    __slots__ = ("batch", "future")

    def __init__(self, batch: Batch, future: asyncio.Future):
        self.batch = batch
        self.future = future


def combine(items: list[Batch]) -> Batch:
    """Several batches of one path -> one batch (rows in order)."""
    if len(items) == 1:
        return items[0]
    path, rows = items[0].path, sum(b.rows for b in items)
    if path == RAW:
        return Batch(path, {f: np.concatenate([b.data[f] for b in items]) for f in items[0].data}, rows)
    return Batch(path, [x for b in items for x in b.data], rows)


class MicroBatcher:
    """Runs ``call`` in one worker thread, on micro-batches of the requests that arrive concurrently."""

    def __init__(self, call: Call, max_rows: int, enabled: bool = True):
        self.call = call
        self.max_rows = max_rows
        self.enabled = enabled
        self.calls = 0  # TensorFlow calls made (fewer than requests when batching works)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._queues: dict[str, asyncio.Queue] = {}
        self._workers: dict[str, asyncio.Task] = {}

    async def run(self, batch: Batch) -> np.ndarray:
        """The model's output rows for ``batch``."""
        if not self.enabled:
            return await self._in_thread(batch)
        loop = asyncio.get_running_loop()
        worker = self._workers.get(batch.path)
        if worker is None or worker.done():
            self._queues[batch.path] = asyncio.Queue()
            self._workers[batch.path] = loop.create_task(self._work(self._queues[batch.path]))
        future = loop.create_future()
        self._queues[batch.path].put_nowait(_Pending(batch, future))
        return await future

    async def _in_thread(self, batch: Batch) -> np.ndarray:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kfx-tf")
        self.calls += 1
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.call, batch)

    async def _work(self, queue: asyncio.Queue) -> None:
        while True:
            items = await self._take(queue)
            try:
                out = await self._in_thread(combine([it.batch for it in items]))
            except Exception as e:
                await self._retry_alone(items, e)
                continue
            start = 0
            for it in items:
                _settle(it.future, result=out[start : start + it.batch.rows])
                start += it.batch.rows

    async def _take(self, queue: asyncio.Queue) -> list[_Pending]:
        """The next request, plus every queued one that still fits in ``max_rows``."""
        items = [await queue.get()]
        rows = items[0].batch.rows
        while (nxt := peek_nowait(queue)) is not None and rows + nxt.batch.rows <= self.max_rows:
            items.append(queue.get_nowait())
            rows += nxt.batch.rows
        return items

    async def _retry_alone(self, items: list[_Pending], error: Exception) -> None:
        if len(items) == 1:
            _settle(items[0].future, exc=error)
            return
        for it in items:
            try:
                _settle(it.future, result=await self._in_thread(it.batch))
            except Exception as e:
                _settle(it.future, exc=e)

    def stop(self) -> None:
        for task in self._workers.values():
            task.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _settle(future: asyncio.Future, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
