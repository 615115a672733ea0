"""Confidence-based performance estimation (CBPE): expected quality while labels are still missing.

The idea is NannyML's CBPE: when a binary classifier's probabilities are calibrated, row *i* is a positive with
probability ``p_i``. The expected confusion matrix at a threshold is then ``E[TP] = Σ p_i`` over rows predicted
positive, ``E[FP] = Σ (1 - p_i)`` over the same rows, and so on; the expected ROC AUC counts every pair of rows with
weight ``p_i (1 - p_j)``. The estimate tracks the realised value under covariate shift (the input mix changes, the
relation between inputs and label does not); it cannot see concept drift, which only labels reveal.

Calibration is learnt on a reference window with labels (e.g. the evaluation split, or the first labelled days)
by isotonic regression (pool-adjacent-violators, pure numpy), and applied to new windows by interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.monitor.quality import Quality, _f1, _ratio, roc_auc


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from model score to calibrated probability (isotonic regression knots)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, dtype=np.float64), self.x, self.y)

    def to_json(self) -> dict[str, list[float]]:
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, obj: dict[str, list[float]]) -> Calibrator:
        return cls(tuple(obj["x"]), tuple(obj["y"]))

    @classmethod
    def identity(cls) -> Calibrator:
        return cls((0.0, 1.0), (0.0, 1.0))


def fit_calibrator(labels: np.ndarray, scores: np.ndarray) -> Calibrator:
    """Isotonic regression of 0/1 ``labels`` on ``scores`` (pool adjacent violators)."""
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.size == 0:
        return Calibrator.identity()
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    # one block per distinct score, then merge blocks while their means decrease
    uniq, starts = np.unique(s, return_index=True)
    sums = list(np.add.reduceat(y, starts))
    counts = list(np.diff(np.append(starts, y.size)).astype(np.float64))
    xs = [[u] for u in uniq]
    i = 0
    while i < len(sums) - 1:
        if sums[i] / counts[i] > sums[i + 1] / counts[i + 1]:
            sums[i] += sums.pop(i + 1)
            counts[i] += counts.pop(i + 1)
            xs[i] += xs.pop(i + 1)
            i = max(i - 1, 0)
        else:
            i += 1
    knots_x, knots_y = [], []
    for block, total, count in zip(xs, sums, counts, strict=True):
        knots_x += [block[0], block[-1]] if block[0] != block[-1] else [block[0]]
        knots_y += [total / count] * (2 if block[0] != block[-1] else 1)
    return Calibrator(tuple(float(v) for v in knots_x), tuple(float(v) for v in knots_y))


def estimate_quality(scores: np.ndarray, calibrator: Calibrator | None = None, threshold: float = 0.5) -> Quality:
    """Expected quality of a window without labels from the model's own (calibrated) probabilities.

    ``threshold`` applies to the raw model score, as serving decides; the calibrated probability is the row's chance
    of being a positive.
    """
    s = np.asarray(scores, dtype=np.float64)
    p = (calibrator or Calibrator.identity())(s)
    pred = s >= threshold
    tp, fp = float(np.sum(p[pred])), float(np.sum(1.0 - p[pred]))
    fn, tn = float(np.sum(p[~pred])), float(np.sum(1.0 - p[~pred]))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return Quality(
        rows=int(s.size),
        positives=int(round(float(p.sum()))),
        auc=roc_auc(np.zeros_like(p), s, positive_weight=p),
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        accuracy=_ratio(tp + tn, float(s.size)),
    )
