"""The only place kfx touches private or internal APIs of the libraries it runs on.

One module per library (``tensorflow.py``, ``tfdv.py``, ``beam.py``, ``keras.py``, ``kserve.py``,
``asyncio.py``, ``tensorflow_transform.py``, ``tfma/``). Each function here:

* states the library version it was checked against,
* is small, and either falls back to the public API or raises an error that says what broke (:func:`fence`),
* has a test in ``tests/unit/compat/`` (or ``tests/serving/`` for the serving environment) that fails loudly
  when it stops working *or* when the fast path stops being the path taken.

No other kfx module may import a private name of these libraries (``tests/unit/compat/test_fence.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def fence(message: str) -> Iterator[None]:
    """Reach a private API inside this block: an ImportError or AttributeError there (the library moved or dropped
    it) becomes an ImportError with ``message`` (what is gone, the version kfx checked, what to update)."""
    try:
        yield
    except (ImportError, AttributeError) as e:
        raise ImportError(message) from e
