"""Quality of a window, overall and per slice: realised on labelled rows, estimated (CBPE) on all rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from components.monitor.cbpe import Calibrator, estimate_quality
from components.monitor.quality import Quality, realised_quality
from components.monitor.window import Window

OVERALL = "Overall"


@dataclass
class SliceQuality:
    slice: str
    rows: int
    labelled: int
    realised: Quality | None
    estimated: Quality

    def as_dict(self) -> dict[str, Any]:
        return {
            "slice": self.slice,
            "rows": self.rows,
            "labelled": self.labelled,
            "realised": self.realised.as_dict() if self.realised else {},
            "estimated": self.estimated.as_dict(),
        }


@dataclass
class Assessment:
    overall: SliceQuality
    slices: list[SliceQuality] = field(default_factory=list)


def _assess(
    name: str, scores: np.ndarray, labels: np.ndarray, calibrator: Calibrator, threshold: float
) -> SliceQuality:
    known = ~np.isnan(labels)
    realised = realised_quality(labels[known].astype(int), scores[known], threshold) if known.any() else None
    return SliceQuality(
        name, int(scores.size), int(known.sum()), realised, estimate_quality(scores, calibrator, threshold)
    )


def assess(
    window: Window,
    calibrator: Calibrator | None = None,
    threshold: float = 0.5,
    slice_features: Sequence[str] = (),
    min_slice_rows: int = 50,
) -> Assessment:
    """Realised and estimated quality of ``window`` overall and for each value of each slice feature with at least
    ``min_slice_rows`` rows (smaller slices say more about noise than about the model)."""
    calibrator = calibrator or Calibrator.identity()
    out = Assessment(_assess(OVERALL, window.scores, window.labels, calibrator, threshold))
    for feature in slice_features:
        values = window.slices[feature]
        for value in sorted({v for v in values if v is not None}, key=str):
            mask = values == value
            if mask.sum() >= min_slice_rows:
                out.slices.append(
                    _assess(f"{feature}={value}", window.scores[mask], window.labels[mask], calibrator, threshold)
                )
    return out
