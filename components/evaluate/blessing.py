"""The blessing rules, pure: thresholds and TFMA's verdicts in, checks, reasons, naive-baseline notes out.

A *check* is one configured threshold (value, change vs baseline, or the data-derived naive gate) with its
outcome as a sentence. A *note* does not block the blessing: it says plainly when a model is hardly better than
a naive model (binary: AUC near 0.5, or accuracy within :data:`NAIVE_MARGIN` of the majority-class rate;
multiclass: accuracy within the margin of the majority-class rate; regression: MSE within
:data:`NAIVE_MSE_RATIO` of predicting the mean label).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from components._shared.tasks import BINARY, MULTICLASS, REGRESSION
from components.evaluate.tfma_config import LOWER_IS_BETTER, Thresholds

#: Accuracy this close (absolute) to the majority-class rate "barely beats" the naive baseline.
NAIVE_MARGIN = 0.02
#: AUC below this is "near 0.5": the model hardly ranks better than a coin toss.
NAIVE_AUC = 0.55
#: Regression MSE above this fraction of the label variance (R² below 1 - ratio) barely beats predicting the mean.
NAIVE_MSE_RATIO = 0.95


@dataclass
class Verdict:
    blessed: bool
    checks: list[dict[str, Any]]
    reasons: list[str]
    notes: list[str]
    naive: dict[str, Any]


def fmt(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    if abs(x) >= 1000 or (x != 0 and abs(x) < 0.001):
        return f"{x:.3g}"
    return f"{x:.3f}"


def _check(kind: str, metric: str, value: float | None, bound: float, passed: bool, text: str) -> dict[str, Any]:
    return {"kind": kind, "metric": metric, "value": value, "bound": bound, "passed": passed, "text": text}


def value_checks(overall: dict[str, float], value: dict[str, float], failed: set[tuple[str, bool]]) -> list[dict]:
    checks = []
    for name, bound in value.items():
        v = overall.get(name)
        passed = (name, False) not in failed
        op_fail, op_ok = (">", "<=") if name in LOWER_IS_BETTER else ("<", ">=")
        text = f"{name} {fmt(v)} {op_ok if passed else op_fail} {fmt(bound)} (overall)"
        checks.append(_check("value", name, v, bound, passed, text))
    return checks


def change_checks(
    overall: dict[str, float],
    baseline_overall: dict[str, float],
    diffs: dict[str, float],
    thresholds: Thresholds,
    failed: set[tuple[str, bool]],
) -> list[dict]:
    if not baseline_overall:
        return []
    checks = []
    for name in sorted(set(thresholds.change) | set(thresholds.relative_change)):
        cand, base = overall.get(name), baseline_overall.get(name)
        diff = diffs.get(name, (cand - base) if cand is not None and base is not None else None)
        lower_better = name in LOWER_IS_BETTER
        degradation = None if diff is None else (diff if lower_better else -diff)
        if name in thresholds.change:
            allowed = thresholds.change[name]
            allowed_text = f"allowed {fmt(allowed)}"
        else:
            allowed = thresholds.relative_change[name]
            allowed_text = f"allowed {allowed:.0%} of baseline"
        if degradation is not None and degradation > 0:
            moved = f"{'rose' if lower_better else 'dropped'} {fmt(degradation)}"
        else:
            moved = f"did not degrade ({'+' if (diff or 0) >= 0 else ''}{fmt(diff)})"
        text = f"{name} {moved} vs baseline ({fmt(cand)} vs {fmt(base)}), {allowed_text}"
        checks.append(_check("change", name, diff, allowed, (name, True) not in failed, text))
    return checks


def naive_baseline(
    task: str, overall: dict[str, float], confusion: dict[str, Any] | None, label_variance: float | None
) -> dict[str, Any]:
    """What a naive model scores on this eval data: {"metric", "value", "naive", "naive_text", "barely"}."""
    if task == BINARY:
        p = overall.get("mean_label")
        acc, auc = overall.get("binary_accuracy"), overall.get("auc")
        if p is None or acc is None:
            return {}
        majority = max(p, 1.0 - p)
        barely = acc <= majority + NAIVE_MARGIN or (auc is not None and auc < NAIVE_AUC)
        naive_text = (
            f"always predicting the majority class ({'1' if p >= 0.5 else '0'}) scores accuracy {fmt(majority)}"
        )
        return {
            "metric": "binary_accuracy",
            "value": acc,
            "naive": majority,
            "auc": auc,
            "naive_text": naive_text,
            "barely": barely,
        }
    if task == MULTICLASS and confusion:
        rows = [sum(r) for r in confusion["matrix"]]
        acc = overall.get("sparse_categorical_accuracy")
        if not sum(rows) or acc is None:
            return {}
        majority = max(rows) / sum(rows)
        label = confusion["categories"][rows.index(max(rows))]
        naive_text = f"always predicting the majority class ({label}) scores accuracy {fmt(majority)}"
        barely = acc <= majority + NAIVE_MARGIN
        return {
            "metric": "sparse_categorical_accuracy",
            "value": acc,
            "naive": majority,
            "naive_text": naive_text,
            "barely": barely,
        }
    if task == REGRESSION and label_variance and overall.get("mean_squared_error") is not None:
        mse = overall["mean_squared_error"]
        naive_text = f"always predicting the mean label scores mean_squared_error {fmt(label_variance)}"
        return {
            "metric": "mean_squared_error",
            "value": mse,
            "naive": label_variance,
            "naive_text": naive_text,
            "barely": mse >= NAIVE_MSE_RATIO * label_variance,
        }
    return {}


def naive_note(task: str, naive: dict[str, Any]) -> str | None:
    """A plain sentence when the model barely beats (or does not beat) the naive baseline, else None."""
    if not naive or not naive["barely"]:
        return None
    metric, value, base = naive["metric"], naive["value"], naive["naive"]
    worse = value > base if metric in LOWER_IS_BETTER else value < base
    verb = "does NOT beat" if worse else "barely beats"
    text = f"The model {verb} a naive baseline: {metric} {fmt(value)}, while {naive['naive_text']}"
    if task == BINARY and naive.get("auc") is not None and naive["auc"] < NAIVE_AUC:
        text += f"; AUC {fmt(naive['auc'])} is close to 0.5 (a coin toss)"
    return text + ". Check the features, the label and the amount of training before relying on it."


def naive_gate(task: str, naive: dict[str, Any]) -> list[dict]:
    """Data-derived default for multiclass (no other default there): accuracy must beat the majority class."""
    if task != MULTICLASS or not naive:
        return []
    acc, majority = naive["value"], naive["naive"]
    passed = acc > majority
    text = f"sparse_categorical_accuracy {fmt(acc)} {'>' if passed else '<='} {fmt(majority)} majority-class rate (overall)"
    return [_check("naive", "sparse_categorical_accuracy", acc, majority, passed, text)]


def decide(
    task: str,
    checks: list[dict[str, Any]],
    failures: Iterable[tuple[str, bool, str]],
    validation_ok: bool,
    other_problems: list[str],
    naive: dict[str, Any],
) -> Verdict:
    """Blessed when every check passed and TFMA's validation agrees; reasons name each failure."""
    reasons = [c["text"] for c in checks if not c["passed"]]
    known = {(c["metric"], c["kind"] == "change") for c in checks}
    for name, is_diff, message in failures:  # anything TFMA failed that kfx did not configure (should not happen)
        if (name, is_diff) not in known:
            reasons.append(f"{name}: {message or 'failed its threshold'}")
    reasons += other_problems
    if not validation_ok and not reasons:
        reasons.append("TFMA validation failed (see validations.tfrecord in the evaluation artifact's tfma/)")
    note = naive_note(task, naive)
    return Verdict(validation_ok and not reasons, checks, reasons, [note] if note else [], naive)
