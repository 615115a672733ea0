"""A window of the prediction log as arrays: scores, labels where known, and the slice values of each row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from components._shared.artifacts import prediction_log as plog
from components._shared.artifacts.labels import read_labels


@dataclass
class Window:
    request_ids: list[str]
    scores: np.ndarray  # the model's first output per row (binary: probability of class 1)
    labels: np.ndarray  # float: 0/1 where a label arrived, NaN where not yet
    slices: dict[str, np.ndarray]  # feature -> value per row (object array), for per-slice quality

    @property
    def labelled(self) -> np.ndarray:
        return ~np.isnan(self.labels)

    def __len__(self) -> int:
        return len(self.request_ids)


def _label(value: Any, request_id: str = "") -> float:
    if value is None or value == "":
        return np.nan
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = np.nan
    if v not in (0.0, 1.0):
        raise ValueError(
            f"label {value!r} of request {request_id!r} is not 0 or 1: realised quality is computed for binary models;"
            " fix the labels file"
        )
    return v


def from_records(
    records: Sequence[dict[str, Any]], labels: dict[str, Any], slice_features: Sequence[str] = ()
) -> Window:
    """A window from decoded log records and a ``request_id -> label`` mapping (labels may cover some rows only)."""
    ids = [str(r[plog.REQUEST_ID]) for r in records]
    scores = np.array([(r.get(plog.PREDICTION) or [np.nan])[0] for r in records], dtype=np.float64)
    y = np.array([_label(labels.get(i), i) for i in ids], dtype=np.float64)
    slices = {f: np.array([r.get(f) for r in records], dtype=object) for f in slice_features}
    return Window(ids, scores, y, slices)


def load(
    log_uri: str, start: datetime, end: datetime, labels_uri: str = "", slice_features: Sequence[str] = ()
) -> Window:
    """The rows logged in ``[start, end)``, joined with the labels that have arrived."""
    records = plog.read_window(log_uri, start, end)
    labels = read_labels(labels_uri) if labels_uri else {}
    return from_records(records, labels, slice_features)
