"""Late labels of the prediction log: ``request_id -> label``, joined to the logged predictions on the request id.

Labels arrive after the predictions (a chargeback, a delivery confirmed), as files a person or a job drops at a URI
(local or any ``tf.io.gfile`` URI): one file, or a directory with one file per delivery. Formats:

* CSV with a header row holding ``request_id`` and ``label`` (other columns are ignored)::

      request_id,label
      3f2a-17,1

* JSON lines, one object per line (or one JSON array of such objects)::

      {"request_id": "3f2a-17", "label": 1}

An empty label means "not known yet" and is skipped. What the monitor does with them:
``components/monitor/window.py`` (rows without a label count as unlabelled, for the estimated quality).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from components._shared.artifacts import join

LABEL_COLUMNS = ("request_id", "label")
CSV_SUFFIX, JSONL_SUFFIX, NDJSON_SUFFIX, JSON_SUFFIX = ".csv", ".jsonl", ".ndjson", ".json"
LABEL_SUFFIXES = (CSV_SUFFIX, JSONL_SUFFIX, NDJSON_SUFFIX, JSON_SUFFIX)  # the files read from a labels directory
_LABELS_HELP = 'a CSV with header "request_id,label" or JSON lines {"request_id": "...", "label": 0 or 1}'


def read_labels(uri: str) -> dict[str, Any]:
    """``request_id -> label`` from a labels file, or from every labels file (``LABEL_SUFFIXES``) in a directory, in
    name order (a later file's label for an id wins); ``{}`` while nothing has arrived (no such file or directory).

    A file is JSON lines when its first non-blank character is ``{`` (a JSON array of objects when ``[``), else CSV
    with a header row; either way it needs the columns ``request_id`` and ``label``. A row with an empty label is
    not a label yet and is skipped. Anything else is a ValueError naming the file, the line and what to send."""
    import tensorflow as tf

    if not tf.io.gfile.exists(uri):
        return {}
    if not tf.io.gfile.isdir(uri):
        return _read_labels_file(uri)
    labels: dict[str, Any] = {}
    for name in sorted(tf.io.gfile.listdir(uri)):
        name = name.rstrip("/")
        if name.endswith(LABEL_SUFFIXES) and not name.startswith("."):
            labels.update(_read_labels_file(join(uri, name)))
    return labels


def _read_labels_file(uri: str) -> dict[str, Any]:
    import tensorflow as tf

    with tf.io.gfile.GFile(uri, "rb") as f:
        text = f.read().decode("utf-8-sig")  # a spreadsheet's CSV may start with a byte-order mark
    start = text.lstrip()[:1]
    if not start:
        return {}
    rows = _json_rows(uri, text, start) if start in "{[" else _csv_rows(uri, text)
    labels: dict[str, Any] = {}
    for line, row in rows:
        missing = [c for c in LABEL_COLUMNS if c not in row]
        if missing:
            raise ValueError(
                f"labels file {uri} line {line} has no {' and no '.join(missing)} (has: {', '.join(map(str, row)) or 'nothing'}); "
                f"labels must be {_LABELS_HELP}"
            )
        request_id, label = row["request_id"], row["label"]
        if request_id is None or str(request_id).strip() == "":
            raise ValueError(
                f"labels file {uri} line {line}: empty request_id; every label needs the request id it is for: "
                f"labels must be {_LABELS_HELP}"
            )
        if label is None or (isinstance(label, str) and not label.strip()):
            continue  # not labelled yet
        labels[str(request_id).strip()] = label.strip() if isinstance(label, str) else label
    return labels


def _csv_rows(uri: str, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in LABEL_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"labels file {uri}: the CSV header has no {' and no '.join(missing)} column (header: {','.join(header)}); "
            f"labels must be {_LABELS_HELP}"
        )
    reader.fieldnames = header
    return [(reader.line_num, row) for row in reader]


def _json_rows(uri: str, text: str, start: str) -> list[tuple[int, dict[str, Any]]]:
    if start == "[":
        try:
            rows = list(enumerate(json.loads(text), 1))
        except json.JSONDecodeError as e:
            raise ValueError(f"labels file {uri} is not valid JSON ({e}); labels must be {_LABELS_HELP}") from None
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise ValueError(
                        f"labels file {uri} line {n} is not a JSON object ({e}); labels must be {_LABELS_HELP}"
                    ) from None
    for n, row in rows:
        if not isinstance(row, dict):
            raise ValueError(f"labels file {uri} line {n} is not a JSON object; labels must be {_LABELS_HELP}")
    return rows
