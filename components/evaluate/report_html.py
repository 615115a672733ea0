"""The evaluation report: one self-contained HTML page (inline SVG from ``components._shared.report``, no
scripts, styles, fonts or images from anywhere else), built from the evaluation summary dict alone.

Sections: verdict and checks (with the naive-baseline note), overall metrics (candidate vs baseline side by side),
the task's pictures (binary: ROC, precision-recall, calibration, confusion heat map; multiclass: confusion heat map
and per-class precision/recall/F1; regression: predicted vs actual and residuals), per-slice metric bars against
the thresholds.
"""

from __future__ import annotations

import math
from typing import Any

from components._shared import report as r
from components._shared.tasks import BINARY, MULTICLASS, REGRESSION
from components.evaluate.tfma_config import LOWER_IS_BETTER, MAIN_METRICS

MODELS = ("candidate", "baseline")


def _verdict(s: dict[str, Any]) -> list[str]:
    out = [r.banner("BLESSED" if s["blessed"] else "NOT BLESSED: " + "; ".join(s["reasons"]), s["blessed"])]
    out += [r.banner(note, None) for note in s.get("notes", [])]
    rows = [(c["kind"], c["metric"], "pass" if c["passed"] else "FAIL", c["text"]) for c in s["checks"]]
    classes = ["" if c["passed"] else "bad" for c in s["checks"]]
    naive = s.get("naive") or {}
    if naive:
        rows.append(("naive", naive["metric"], "note" if naive["barely"] else "info", naive["naive_text"]))
        classes.append("warn" if naive["barely"] else "")
    if rows:
        out.append(r.table(rows, ["kind", "metric", "result", "check"], row_classes=classes))
    else:
        out.append(r.muted("No thresholds were configured: nothing blocks the blessing."))
    if s.get("baseline"):
        out.append(r.muted(f"Baseline model: {s['baseline']}"))
    return out


def _overall(s: dict[str, Any]) -> str:
    names = [m for m in MAIN_METRICS[s["task"]] if m in s["overall"]]
    names += sorted(set(s["overall"]) - set(names))
    base = s.get("baseline_overall") or {}
    header = ["metric", "candidate"] + (["baseline", "change"] if base else [])
    rows = []
    for n in names:
        v, b = s["overall"].get(n), base.get(n)
        row: list[Any] = [n, v]
        if base:
            row += [b, (v - b) if v is not None and b is not None else None]
        rows.append(row)
    return r.table(rows, header)


def _pairs(xs: list[float], ys: list[float]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in zip(xs, ys, strict=False) if x is not None and y is not None]


def _binary(curves: dict[str, dict[str, Any]]) -> list[str]:
    roc = {m: _pairs(c["roc"]["fpr"], c["roc"]["tpr"]) for m, c in curves.items() if c.get("roc")}
    pr = {m: _pairs(c["pr"]["recall"], c["pr"]["precision"]) for m, c in curves.items() if c.get("pr")}
    cal = {
        m: _pairs(c["calibration"]["predicted"], c["calibration"]["actual"])
        for m, c in curves.items()
        if c.get("calibration")
    }
    charts = []
    if roc:
        charts.append(
            r.line_chart(roc, "false positive rate", "true positive rate", "ROC", (0, 1), (0, 1), diagonal=True)
        )
    if pr:
        charts.append(r.line_chart(pr, "recall", "precision", "Precision-recall", (0, 1), (0, 1)))
    if cal:
        charts.append(
            r.line_chart(
                cal, "mean prediction", "fraction positive", "Calibration", (0, 1), (0, 1), diagonal=True, markers=True
            )
        )
    out = (
        [r.section("Curves (overall)", r.row(*charts), note="Dashed: a coin toss (ROC), perfect calibration.")]
        if charts
        else []
    )
    return out + _confusions(curves)


def _confusions(curves: dict[str, dict[str, Any]]) -> list[str]:
    maps = []
    for m, c in curves.items():
        cm = c.get("confusion")
        if cm:
            title = f"{m} (threshold {r.fmt(cm['threshold'], 3)})" if "threshold" in cm else m
            maps.append(r.heatmap(cm["matrix"], cm["categories"], title=title, x_label="predicted", y_label="actual"))
    return [r.section("Confusion matrix (rows: actual, columns: predicted)", r.row(*maps))] if maps else []


def per_class(cm: dict[str, Any]) -> list[tuple[str, float, float, float, int]]:
    """(class, precision, recall, F1, support) from a confusion matrix (rows actual, columns predicted)."""
    m = cm["matrix"]
    out = []
    for i, name in enumerate(cm["categories"]):
        tp, actual, predicted = m[i][i], sum(m[i]), sum(row[i] for row in m)
        p = tp / predicted if predicted else math.nan
        rec = tp / actual if actual else math.nan
        f1 = 2 * p * rec / (p + rec) if predicted and actual and (p + rec) else math.nan
        out.append((name, p, rec, f1, actual))
    return out


def _multiclass(curves: dict[str, dict[str, Any]]) -> list[str]:
    out = _confusions(curves)
    cm = curves.get("candidate", {}).get("confusion")
    if cm:
        rows = per_class(cm)
        charts = [
            r.bars([(row[0], row[k]) for row in rows], title=title, value_label=title.lower(), width=360)
            for k, title in ((1, "Precision"), (2, "Recall"), (3, "F1"))
        ]
        out.append(
            r.section(
                "Per-class metrics (candidate)",
                r.row(*charts),
                r.table(rows, ["class", "precision", "recall", "F1", "support"]),
            )
        )
    return out


def _regression(sample: dict[str, Any] | None) -> list[str]:
    if not sample or not sample.get("label"):
        return []
    y, p = sample["label"], sample["prediction"]
    lo, hi = min(y + p), max(y + p)
    scatter = r.line_chart(
        {"candidate": list(zip(y, p, strict=True))},
        "actual",
        "predicted",
        "Predicted vs actual",
        (lo, hi),
        (lo, hi),
        diagonal=True,
        markers=True,
    )
    residuals = r.line_chart(
        {"residual": [(b, a - b) for a, b in zip(y, p, strict=True)]},
        "predicted",
        "actual - predicted",
        "Residuals",
        markers=True,
    )
    note = f"{len(y)} of the first {sample['rows']} eval rows; dashed: perfect prediction."
    return [r.section("Predictions (candidate)", r.row(scatter, residuals), note=note)]


def _slices(s: dict[str, Any]) -> list[str]:
    if len(s["slices"]) <= 1:
        return []
    bounds = {c["metric"]: c["bound"] for c in s["checks"] if c["kind"] == "value"}
    names = list(bounds) or [m for m in MAIN_METRICS[s["task"]] if m != "example_count"][:2]
    charts = []
    for name in names:
        items = [(sl["slice"], sl["metrics"][name]) for sl in s["slices"] if sl["metrics"].get(name) is not None]
        if items:
            charts.append(
                r.bars(
                    items,
                    threshold=bounds.get(name),
                    title=name,
                    value_label=name,
                    higher_is_better=name not in LOWER_IS_BETTER,
                )
            )
    counts = [(sl["slice"], sl["metrics"].get("example_count") or 0) for sl in s["slices"]]
    charts.append(r.bars(counts, title="example_count", value_label="examples"))
    return [
        r.section(
            "Metrics per slice",
            r.row(*charts),
            note="Thresholds gate the Overall slice; other slices are shown, not gated.",
        )
    ]


def render(summary: dict[str, Any]) -> str:
    """The report page for an evaluation summary (``artifacts.evaluation`` SUMMARY_FILE content)."""
    s, task = summary, summary["task"]
    curves = {m: s["curves"][m] for m in MODELS if s.get("curves", {}).get(m)}
    sections = [r.section("Verdict", *_verdict(s)), r.section("Overall metrics", _overall(s))]
    if task == BINARY:
        sections += _binary(curves)
    elif task == MULTICLASS:
        sections += _multiclass(curves)
    elif task == REGRESSION:
        sections += _regression(s.get("predictions"))
    sections += _slices(s)
    subtitle = f"{task}, label '{s['label_key']}' (from {s.get('label_from', '?')}), {s.get('example_count', 0):,} eval examples"
    return r.page("Model evaluation", sections, subtitle=subtitle)
