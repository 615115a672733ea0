"""The validation report: a self-contained HTML page (inline SVG, no scripts): anomalies first, each with what to do,
then drift/skew/PSI bars per feature against their threshold lines, then the distributions of the flagged features."""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import statistics_pb2

from components._shared import report as r
from components._shared.stats_view import feature_views
from components.statistics.report_html import feature_card
from components.validate.findings import SOURCE_LABELS, Comparison, advice

if TYPE_CHECKING:
    from components.validate.logic import ValidationResult

#: PSI reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift (the line drawn when PSI is not a gate).
PSI_MAJOR = 0.25
MEASURE_NAMES = {
    "L_INFTY": "L-infinity distance (categorical features)",
    "JENSEN_SHANNON_DIVERGENCE": "Jensen-Shannon divergence (numeric features)",
    "NORMALIZED_ABSOLUTE_DIFFERENCE": "normalized absolute difference",
}
#: Flagged features whose distributions are drawn.
MAX_FEATURE_CARDS = 20

Stats = statistics_pb2.DatasetFeatureStatisticsList


def psi_band(value: float) -> str:
    if value < 0.1:
        return "stable"
    if value < PSI_MAJOR:
        return "moderate shift"
    return "major shift"


def _anomalies(result: ValidationResult) -> str:
    if not result.findings:
        return r.section("Anomalies (0)", r.muted("No anomalies: the data matches the schema and the thresholds."))
    rows = [
        [
            f.feature,
            f.kind,
            SOURCE_LABELS.get(f.source, f.source),
            f.value if f.value is not None else f.observed,
            f.threshold,
            f.description,
            advice(f.kind),
        ]
        for f in result.findings
    ]
    header = ["feature", "kind", "where", "value", "threshold", "description", "what to do"]
    return r.section(
        f"Anomalies ({result.anomaly_count})",
        r.table(rows, header, row_classes=["bad"] * len(rows)),
        note="Continue anyway with --no-fail-on-anomalies (CLI) / fail_on_anomalies=False (pipeline parameter).",
    )


def _comparison_charts(title: str, comparisons: list[Comparison], psi: dict[str, float], psi_threshold: float) -> str:
    charts = []
    for measure in sorted({c.measure for c in comparisons}):
        group = sorted((c for c in comparisons if c.measure == measure), key=lambda c: -c.value / (c.threshold or 1))
        items = [
            (c.feature + (f" ({c.histogram.lower()})" if c.histogram else ""), c.value, c.threshold) for c in group
        ]
        limits = {c.threshold for c in group}
        charts.append(
            r.bars(
                items,
                threshold=limits.pop() if len(limits) == 1 else None,
                title=MEASURE_NAMES.get(measure, measure),
                value_label=measure,
            )
        )
    if psi:
        line = psi_threshold if psi_threshold > 0 else PSI_MAJOR
        charts.append(
            r.bars(
                sorted(psi.items(), key=lambda kv: -kv[1]),
                threshold=line,
                title="population stability index (numeric features)",
                value_label="PSI" + ("" if psi_threshold > 0 else f" (line: major shift {PSI_MAJOR}; not a gate)"),
            )
        )
    rows, classes = [], []
    for c in comparisons:
        p = psi.get(c.feature)
        rows.append(
            [
                c.feature,
                c.measure,
                c.value,
                c.threshold,
                "above threshold" if c.exceeded else "ok",
                p,
                "" if p is None else psi_band(p),
            ]
        )
        classes.append("bad" if c.exceeded else "")
    table = r.table(rows, ["feature", "measure", "value", "threshold", "status", "PSI", "PSI band"], classes)
    return r.section(title, r.row(*charts), table)


def _flagged_distributions(
    result: ValidationResult, stats: dict[str, Stats], previous: Stats | None, serving: Stats | None
) -> str:
    flagged = list(dict.fromkeys(f.feature for f in result.findings if f.feature != "(dataset)"))
    if not flagged:
        return ""
    datasets = dict(stats)
    if previous is not None:
        datasets["previous"] = previous
    if serving is not None:
        datasets["serving"] = serving
    views = {v.name: v for v in feature_views(datasets)}
    cards = [feature_card(views[name]) for name in flagged[:MAX_FEATURE_CARDS] if name in views]
    return r.section("Distributions of the flagged features", *cards) if cards else ""


def _inputs(context: dict, result: ValidationResult) -> str:
    thresholds = context.get("thresholds", {})
    rows = [
        ["statistics", context.get("statistics_dir", "")],
        ["schema", context.get("schema_dir", "")],
        ["previous statistics (drift)", context.get("previous_statistics_uri") or "none"],
        ["serving statistics (skew)", context.get("serving_statistics_uri") or "none"],
        ["examples per split", ", ".join(f"{k}: {v:,}" for k, v in result.num_examples.items())],
        ["thresholds", ", ".join(f"{k} {v:g}" for k, v in thresholds.items())],
        ["label_key", context.get("label_key") or "(not set)"],
    ]
    return r.section("Inputs", r.table(rows, ["input", "value"]))


def render_html(
    result: ValidationResult,
    context: dict,
    stats: dict[str, Stats] | None = None,
    previous: Stats | None = None,
    serving: Stats | None = None,
) -> str:
    """The page: status, anomalies with advice, drift/skew/PSI charts with thresholds, flagged distributions."""
    psi_threshold = float(context.get("thresholds", {}).get("psi_threshold", 0.0))
    sections = [r.banner(result.summary(), ok=result.passed)]
    if result.message:
        sections.append(f"<div class='card'>{r.esc(result.message)}</div>")
    sections.append(_anomalies(result))
    if result.drift or result.psi:
        sections.append(
            _comparison_charts("Drift: current train vs previous train", result.drift, result.psi, psi_threshold)
        )
    if result.skew or result.psi_serving:
        sections.append(_comparison_charts("Skew: train vs serving", result.skew, result.psi_serving, psi_threshold))
    if result.psi or result.psi_serving:
        sections.append(
            r.muted(
                "PSI per numeric feature from the statistics' histograms (bins = the reference's buckets, "
                "open-ended; empty bins count as 1e-4). Usual reading: < 0.1 stable, 0.1–0.25 moderate shift, "
                "> 0.25 major shift."
            )
        )
    sections.append(_flagged_distributions(result, stats or {}, previous, serving))
    sections.append(_inputs(context, result))
    sections.append(
        r.muted(
            f"Generated {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M:%S} UTC by kfx validate with "
            f"tensorflow-data-validation {tfdv.__version__}."
        )
    )
    return r.page("Data validation", [s for s in sections if s])
