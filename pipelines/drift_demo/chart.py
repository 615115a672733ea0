"""The drift demo's outputs: a PNG (matplotlib, Agg) and a self-contained HTML page (inline SVG, no network).

Per scenario: daily realised AUC / F1 (labelled rows, known ``label_delay`` days later, drawn at the day they
measure) and the CBPE estimates made on the day itself, the τ line, the day drift starts, days whose input drift
passed its threshold (triangles), and retraining points (green: rolled out, red: production kept); then a table of
every retraining decision with its trigger and outcome.
"""

from __future__ import annotations

import os
from typing import Any

from pipelines.drift_demo.loop import ScenarioResult

ROLLED_OUT, KEPT, SHIFT = "#137333", "#C5221F", "#5f6368"


def series(res: ScenarioResult) -> dict[str, list[tuple[int, float]]]:
    """{"realised AUC", "estimated AUC", "realised F1", "estimated F1"} -> [(day, value)], days with a value."""
    realised: dict[int, Any] = {r.realised_day: r.realised for r in res.reports if r.realised_day is not None}
    realised.update({d: q for d, (q, _rev) in res.backfill.items()})
    out: dict[str, list[tuple[int, float]]] = {}
    for metric in ("auc", "f1"):
        name = metric.upper() if metric == "auc" else "F1"
        out[f"realised {name}"] = [
            (d, getattr(q, metric)) for d, q in sorted(realised.items()) if q and getattr(q, metric) is not None
        ]
        out[f"estimated {name}"] = [
            (r.day, getattr(r.estimated, metric)) for r in res.reports if getattr(r.estimated, metric) is not None
        ]
    return out


def drift_days(res: ScenarioResult) -> list[int]:
    cfg = res.config
    limits = {"max_drift": cfg.max_drift, "max_skew": cfg.max_skew, "max_psi": cfg.max_psi}
    return [r.day for r in res.reports if any(r.data.get(k, 0.0) > v for k, v in limits.items())]


def decision_rows(res: ScenarioResult) -> list[list[Any]]:
    """One row per retraining decision: day, serving version, trigger, outcome, training rows."""
    return [
        [e.day, e.version if e.rolled_out else "-", "; ".join(e.trigger), "; ".join(e.outcome), e.rows]
        for e in res.events
    ]


def _panel(ax: Any, res: ScenarioResult, data: dict, metric: str, tau: float | None) -> None:
    for i, kind in enumerate(("realised", "estimated")):
        pts = data[f"{kind} {metric}"]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, "-" if kind == "realised" else "--", color=("#0072B2", "#E69F00")[i], label=f"{kind}")
    if tau is not None:
        ax.axhline(tau, color="#202124", linestyle=":", linewidth=1, label=f"τ = {tau:g}")
    if res.scenario != "none":
        ax.axvline(res.config.shift_day, color=SHIFT, linestyle="-.", linewidth=1, label="drift starts")
    for e in res.events:
        ax.axvline(e.day, color=ROLLED_OUT if e.rolled_out else KEPT, linewidth=1.5, alpha=0.8)
    lo = ax.get_ylim()[0]
    for d in drift_days(res):
        ax.plot([d], [lo], marker="^", color=KEPT, markersize=6, clip_on=False)
    ax.set_title(f"{res.scenario}: {metric}", fontsize=10)
    ax.set_xlabel("simulated day")
    ax.grid(alpha=0.3)


def write_png(results: list[ScenarioResult], path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(len(results), 2, figsize=(12, 3.6 * len(results)), squeeze=False)
    for row, res in zip(axes, results, strict=True):
        data = series(res)
        _panel(row[0], res, data, "AUC", res.config.tau)
        _panel(row[1], res, data, "F1", None)
    handles = [
        Line2D([], [], color=ROLLED_OUT, label="retrained, rolled out"),
        Line2D([], [], color=KEPT, label="retrained, production kept"),
        Line2D([], [], color=KEPT, marker="^", linestyle="", label="input drift over threshold"),
    ]
    axes[0][0].legend(fontsize=8, loc="lower left")
    axes[0][1].legend(handles=handles, fontsize=8, loc="lower left")
    fig.suptitle("kfx continuous training: realised (labels, delayed) vs estimated (CBPE) quality per day")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _svg_panel(res: ScenarioResult, data: dict, metric: str) -> str:
    from components._shared import report as r

    v_lines = [(float(res.config.shift_day), "drift starts", SHIFT)] if res.scenario != "none" else []
    v_lines += [
        (float(e.day), f"day {e.day}: {'rolled out' if e.rolled_out else 'kept'}", ROLLED_OUT if e.rolled_out else KEPT)
        for e in res.events
    ]
    v_lines += [(float(d), f"day {d}: input drift", "#E69F00") for d in drift_days(res)]
    return r.line_chart(
        {k: [(float(x), float(y)) for x, y in v] for k, v in data.items() if k.endswith(metric)},
        "simulated day",
        metric,
        title=f"{res.scenario}: {metric}",
        x_range=(0.0, float(res.config.days - 1)),
        h_lines=[(res.config.tau, f"τ {res.config.tau:g}")] if metric == "AUC" else [],
        v_lines=v_lines,
        dashed=[f"estimated {metric}"],
        width=520,
        height=300,
    )


def write_html(results: list[ScenarioResult], path: str) -> str:
    from components._shared import report as r

    parts = []
    for res in results:
        data = series(res)
        rows = decision_rows(res)
        table = (
            r.table(rows, ["day", "rolled out", "trigger", "outcome", "training rows"])
            if rows
            else r.muted("no retraining: the monitor never asked for it")
        )
        note = (
            f"{res.config.days} days × {res.config.rows_per_day} requests; labels {res.config.label_delay} days late;"
            " dotted vertical lines: drift start (grey), input drift (orange), retraining (green rolled out, red kept)"
        )
        parts.append(
            r.section(
                f"Scenario: {res.scenario}",
                r.row(_svg_panel(res, data, "AUC"), _svg_panel(res, data, "F1")),
                table,
                note=note,
            )
        )
    html = r.page(
        "kfx continuous training: drift demo",
        parts,
        subtitle="realised (solid) vs estimated (dashed) quality per simulated day",
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(html)
    return path
