"""The blessing artifact layout (kind ``blessing``, the evaluate step's verdict that deploy obeys).

    <dir>/blessing.json      {"blessed": bool, "reasons": [why not blessed], "baseline": uri | null,
                              "checks": [every check, passed or not, as a sentence],
                              "notes": [warnings that do not block, e.g. "barely beats the naive baseline"]}

Writers and readers go through :func:`write_blessing` / :func:`read_blessing`; deploy serves a model only when
``read_blessing(...)["blessed"] is True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components._shared.artifacts import read_json, register_filesystem, write_json
from components._shared.artifacts.model import join

BLESSING_FILE = "blessing.json"
FILES = (BLESSING_FILE,)


class BlessingError(ValueError):
    """A blessing artifact that is missing or malformed."""


def write_blessing(
    blessing_dir: str,
    blessed: bool,
    reasons: Sequence[str],
    baseline: str | None,
    checks: Sequence[str],
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    blessing = {
        "blessed": bool(blessed),
        "reasons": list(reasons),
        "baseline": baseline or None,
        "checks": list(checks),
        "notes": list(notes),
    }
    register_filesystem(blessing_dir)
    write_json(join(blessing_dir, BLESSING_FILE), blessing)
    return blessing


def read_blessing(blessing_dir: str) -> dict[str, Any]:
    """The blessing as written by evaluate; a BlessingError naming the file and the wiring to check."""
    path = join(blessing_dir, BLESSING_FILE)
    register_filesystem(blessing_dir)
    try:
        blessing = read_json(path)
    except Exception as e:  # tf.errors.NotFoundError, json errors
        raise BlessingError(
            f"cannot read the blessing {path}: {e}; pass the `blessing` output of the evaluate step"
        ) from e
    if not isinstance(blessing, dict) or not isinstance(blessing.get("blessed"), bool):
        raise BlessingError(f"blessing {path} has no boolean 'blessed' field")
    return blessing
