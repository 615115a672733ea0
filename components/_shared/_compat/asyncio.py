"""asyncio internals kfx relies on (the model server's micro-batcher).

Checked against CPython 3.11 (``asyncio.Queue`` keeps its items in the private deque ``_queue``).
"""

from __future__ import annotations

import asyncio
from typing import Any

CHECKED = "CPython 3.11"


def peek_nowait(queue: asyncio.Queue) -> Any | None:
    """The item ``queue.get_nowait()`` would return next, without removing it; None when the queue is empty.

    Public asyncio has no peek. The micro-batcher needs one to decide whether the next request still fits
    in the batch before taking it. Fallback when ``_queue`` is gone (a future Python): None, i.e. "nothing to
    add", so batches close early: slower (fewer requests per TensorFlow call), never wrong.
    Checked: CPython 3.11 (``asyncio.Queue._queue`` is a ``collections.deque``).
    """
    items = getattr(queue, "_queue", None)
    if items is None:
        return None
    return items[0] if items else None


def peek_is_fast(queue: asyncio.Queue) -> bool:
    """Whether :func:`peek_nowait` sees the queue's items (False means the slow fallback is in use)."""
    return hasattr(queue, "_queue")
