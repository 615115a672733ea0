"""The artifact contract's text (``components/_shared/artifacts/__init__.py``) as globs, to check real outputs.

``unnamed_files(dir, kind)`` lists the files of an artifact directory that the contract's section for ``kind`` does
not name; tests of each step assert it is empty.
"""

from __future__ import annotations

import fnmatch
import os
import re

from components._shared import artifacts


def sections(doc: str | None = None) -> dict[str, str]:
    """Contract text per section: a line at column 0 starts a section named by its text before `` (``."""
    out: dict[str, str] = {}
    name = None
    for line in (doc if doc is not None else artifacts.__doc__ or "").splitlines():
        if line and not line[0].isspace():
            name = line.split(" (")[0].strip()
            out[name] = ""
        elif name is not None:
            out[name] += line + "\n"
    return out


def _patterns(kind: str) -> list[str]:
    """The contract's ``<dir>/...`` entries of ``kind`` as globs (``<split>`` and other ``<...>`` -> ``*``)."""
    out = []
    for line in sections()[kind].splitlines():
        token = line.strip().split(" ")[0]
        if token.startswith("<dir>/"):
            out.append(re.sub(r"<[^>]+>", "*", token[len("<dir>/") :]))
    return out


def unnamed_files(root: str, kind: str) -> list[str]:
    """Files under an artifact directory of ``kind`` that no entry of the contract names (a ``dir/`` entry names
    everything under it)."""
    patterns = _patterns(kind)
    found = []
    for d, _dirs, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
            if not any(
                fnmatch.fnmatch(rel, p) or (p.endswith("/") and fnmatch.fnmatch(rel, p + "*")) for p in patterns
            ):
                found.append(rel)
    return found
