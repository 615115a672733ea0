"""Realised quality of a binary classifier on labelled rows: ROC AUC, precision, recall, F1, accuracy.

Pure numpy on (label, probability) arrays: the prediction log already holds the model's probabilities, so no model
is run again. AUC is the Mann-Whitney statistic with ties counted half, identical to TFMA's and scikit-learn's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Quality:
    rows: int
    positives: int
    auc: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    accuracy: float | None

    def as_dict(self) -> dict[str, float]:
        """The metrics that exist, as floats (KFP metadata takes no nulls)."""
        return {k: float(v) for k, v in asdict(self).items() if v is not None}


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None or precision + recall == 0:
        return None
    return 2 * precision * recall / (precision + recall)


def roc_auc(labels: np.ndarray, scores: np.ndarray, positive_weight: np.ndarray | None = None) -> float | None:
    """ROC AUC of ``scores`` against 0/1 ``labels`` (ties count half); None when one class is absent.

    With ``positive_weight`` (each row's weight as a positive; ``1 - weight`` as a negative) it is the expected AUC
    of fractional labels, which CBPE uses with the model's calibrated probabilities.
    """
    scores = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(labels if positive_weight is None else positive_weight, dtype=np.float64)
    neg = 1.0 - pos
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    s, p, n = scores[order], pos[order], neg[order]
    # group ties: a positive beats every negative with a lower score and half of those with the same score
    _, starts = np.unique(s, return_index=True)
    pos_per = np.add.reduceat(p, starts)
    neg_per = np.add.reduceat(n, starts)
    neg_below = np.concatenate([[0.0], np.cumsum(neg_per)[:-1]])
    wins = np.sum(pos_per * (neg_below + 0.5 * neg_per))
    if positive_weight is not None:
        wins -= 0.5 * np.sum(p * n)  # a row is never paired with itself
        total = total_pos * total_neg - np.sum(p * n)
        return float(wins / total) if total > 0 else None
    return float(wins / (total_pos * total_neg))


def realised_quality(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> Quality:
    """Quality of binary predictions with known 0/1 labels, deciding positive at ``probability >= threshold``."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"labels and probabilities differ in shape: {y.shape} vs {p.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1 for binary quality")
    pred = p >= threshold
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return Quality(
        rows=int(y.size),
        positives=int(y.sum()),
        auc=roc_auc(y, p),
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        accuracy=_ratio(float(np.sum(pred == (y == 1))), float(y.size)),
    )
