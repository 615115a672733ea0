"""The monitoring reports: the data checks page and the decision page (self-contained HTML, inline SVG, no CDN)."""

from __future__ import annotations

from typing import Any

from components._shared import report as r


def _feature_section(features: list[dict[str, Any]], thresholds: Any) -> str:
    rows, classes = [], []
    for f in features:
        over = (
            (f["drift"] or 0) > thresholds.max_drift
            or (f["skew"] or 0) > thresholds.max_skew
            or max(f["psi_previous"] or 0, f["psi_training"] or 0) > thresholds.max_psi
        )
        rows.append([f["feature"], f["measure"], f["drift"], f["skew"], f["psi_previous"], f["psi_training"]])
        classes.append("bad" if over else "")
    header = ["feature", "measure", "drift vs previous", "skew vs training", "PSI vs previous", "PSI vs training"]
    drift = sorted(((f["feature"], f["drift"]) for f in features if f["drift"] is not None), key=lambda x: -x[1])
    skew = sorted(((f["feature"], f["skew"]) for f in features if f["skew"] is not None), key=lambda x: -x[1])
    charts = []
    if drift:
        charts.append(r.bars(drift, threshold=thresholds.max_drift, title="drift vs previous window", width=420))
    if skew:
        charts.append(r.bars(skew, threshold=thresholds.max_skew, title="skew vs training data", width=420))
    return r.section(
        "Every feature",
        r.row(*charts) if charts else "",
        r.table(rows, header, classes),
        note="L-infinity distance for categorical features, Jensen-Shannon divergence for numeric ones; PSI for "
        "numeric features. Red rows pass a threshold.",
    )


def data_checks_page(checks: Any, thresholds: Any) -> str:
    """The data checks of a window: schema anomalies, then drift/skew/PSI of every feature."""
    findings = checks.schema_anomalies + checks.drift_findings
    text = f"{len(findings)} finding(s): max drift {checks.max_drift:.3f}, max skew {checks.max_skew:.3f}, "
    text += f"max PSI {checks.max_psi:.3f}"
    parts = [r.banner(text, not findings)]
    if findings:
        parts.append(r.section("Findings", r.table([[f.feature, f.kind, f.source, f.value_text(), f.description]
                                                    for f in findings], ["feature", "kind", "where", "value",
                                                                         "description"])))  # fmt: skip
    parts.append(_feature_section(checks.per_feature(), thresholds))
    parts.append(r.section("Rows", r.table([[k, v] for k, v in checks.rows.items()], ["statistics", "rows"])))
    if checks.notes:
        parts.append(r.section("Notes", *(r.muted(n) for n in checks.notes)))
    return r.page("kfx monitoring: data checks", parts)


def _quality_rows(quality: dict[str, Any], metric: str) -> tuple[list[list[Any]], list[str]]:
    rows = []
    for s in [quality["overall"], *quality["slices"]]:
        real, est = s["realised"], s["estimated"]
        rows.append([s["slice"], s["rows"], s["labelled"], real.get("auc"), est.get("auc"), real.get("f1"),
                     est.get("f1"), real.get("precision"), real.get("recall")])  # fmt: skip
    return rows, ["slice", "rows", "labelled", "realised AUC", "estimated AUC", "realised F1", "estimated F1",
                  "realised precision", "realised recall"]  # fmt: skip


def decision_page(decision: dict[str, Any], thresholds: Any) -> str:
    """The monitoring report: the decision and its reasons, quality (realised, estimated), data checks."""
    w, retrain = decision["window"], decision["retrain"]
    head = "RETRAIN: " + "; ".join(decision["reasons"]) if retrain else "No retraining: the model is healthy"
    parts = [r.banner(head, not retrain)]
    if decision["observations"]:
        parts.append(r.section("Observations", *(r.muted(o) for o in decision["observations"])))
    rows, header = _quality_rows(decision["quality"], thresholds.metric)
    overall = decision["quality"]["overall"]
    metric_bars = [(k, overall[kind].get(thresholds.metric)) for kind, k in (("realised", "realised"),
                   ("estimated", "estimated (CBPE)")) if overall[kind].get(thresholds.metric) is not None]  # fmt: skip
    chart = r.bars(metric_bars, threshold=thresholds.tau, higher_is_better=True, title=f"{thresholds.metric} vs tau",
                   width=420) if metric_bars else ""  # fmt: skip
    cal = decision["calibration"]
    parts.append(r.section("Quality", chart, r.table(rows, header),
                           note=f"estimated = CBPE with {cal['method']} ({cal['note']})"))  # fmt: skip
    data = decision["data"]
    parts.append(_feature_section(data["features"], thresholds))
    if data.get("findings"):
        parts.append(r.section("Data findings", r.table([[f["feature"], f["kind"], f["source"], f["description"]]
                                                         for f in data["findings"]],
                                                        ["feature", "kind", "where", "description"])))  # fmt: skip
    model = decision["model"]
    parts.append(r.section("Inputs", r.table([["window", f"{w['start']} .. {w['end']}"], ["rows", w["rows"]],
                                              ["labelled rows", w["labelled"]],
                                              ["realised quality on rows from", w.get("realised_from", "")], ["model", model.get("uri", "")],
                                              ["found from", model.get("source", "")]], ["", ""])))  # fmt: skip
    sub = f"window {w['start']} .. {w['end']} · {w['rows']:,} predictions · {w['labelled']:,} labelled"
    return r.page("kfx monitoring: decision", parts, subtitle=sub)
