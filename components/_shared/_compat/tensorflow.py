"""TensorFlow internals kfx relies on. One section per user; each function states the version it was checked on.

The lead merges sections from several branches into this one file; keep each between its markers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# ============================================================================ serving (components/serving)
# The model server calls the ``serving_raw`` concrete function with pre-built tensors in its flat argument
# order: about 2x cheaper per call than the public structured call (which re-validates and re-flattens the
# keyword arguments every time). Checked against tensorflow-cpu 2.21.0 (and 2.16.2):
# ``ConcreteFunction._call_flat(tensor_inputs, captured_inputs)``.

SERVING_CHECKED = "tensorflow-cpu 2.21.0"


def has_call_flat(fn: Any) -> bool:
    """Whether ``fn`` (a ``ConcreteFunction``) still has the private flat call kfx uses (checked: TF 2.21.0)."""
    return callable(getattr(fn, "_call_flat", None)) and hasattr(fn, "captured_inputs")


def call_flat(fn: Any, tensors: Sequence[Any]) -> Any:
    """Call the concrete function ``fn`` on ``tensors`` given in its flat input order (no structure checks).

    Checked: tensorflow-cpu 2.21.0 and 2.16.2. Raises ``RuntimeError`` naming the checked version when the
    private API is gone; callers check its result
    against the public structured call once (at warm-up) and fall back to that call when this fails.
    """
    if not has_call_flat(fn):
        raise RuntimeError(
            f"ConcreteFunction._call_flat is gone (checked against {SERVING_CHECKED}): use the structured call"
        )
    return fn._call_flat(list(tensors), fn.captured_inputs)


# ============================================================================ end serving
