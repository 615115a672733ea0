"""The drift demo's one-screen summary: per scenario, what happened and when, then where the outputs are."""

from __future__ import annotations

import sys
from typing import TextIO

from pipelines.drift_demo.chart import drift_days
from pipelines.drift_demo.loop import ScenarioResult


def first_below(res: ScenarioResult) -> int | None:
    """The first day whose realised AUC fell below τ (known ``label_delay`` days later), or None."""
    days = {r.realised_day: r.realised for r in res.reports if r.realised_day is not None and r.realised}
    days.update({d: q for d, (q, _rev) in res.backfill.items() if q})
    low = [d for d, q in sorted(days.items()) if q.auc is not None and q.auc < res.config.tau]
    return low[0] if low else None


def holdout_aucs(res: ScenarioResult, rows: int = 3000) -> dict[str, float | None]:
    """AUC of every production version on a held-out day well after the shift (a day no model saw)."""
    from components.datagen.fraud import LABEL
    from components.datagen.stream import day_table
    from components.monitor.quality import roc_auc
    from pipelines.drift_demo.steps import score_table

    cfg = res.config
    table = day_table(cfg.days + 30, rows, res.scenario, cfg.shift_day, seed=cfg.seed + 99)
    y = table[LABEL].to_numpy()
    return {v: roc_auc(y, score_table(d, table)) for v, d in sorted(res.versions.items())}


def print_summary(
    results: list[ScenarioResult], png: str, html: str, seconds: float, out: TextIO | None = None
) -> None:
    w = (out or sys.stdout).write
    w("\n" + "=" * 78 + "\n")
    w(f"kfx continuous-training demo: {len(results)} scenario(s) in {seconds:.0f}s\n")
    for res in results:
        cfg = res.config
        w(
            f"\n{res.scenario}: {cfg.days} days x {cfg.rows_per_day} requests, drift from day {cfg.shift_day}, "
            f"labels {cfg.label_delay} days late, tau AUC {cfg.tau:g}\n"
        )
        below, drift = first_below(res), drift_days(res)
        w(
            f"  realised AUC first below tau: {'day ' + str(below) if below is not None else 'never'}; "
            f"input drift over threshold: {'days ' + ','.join(map(str, drift)) if drift else 'never'}\n"
        )
        if not res.events:
            w("  no retraining\n")
        for e in res.events:
            what = f"ROLLED OUT {e.version}" if e.rolled_out else "production KEPT"
            w(f"  day {e.day:2d}: retrain ({'; '.join(e.trigger)}) -> {what}: {'; '.join(e.outcome)}\n")
        held = ", ".join(f"{v} {a:.3f}" if a is not None else f"{v} n/a" for v, a in holdout_aucs(res).items())
        w(f"  AUC on a held-out day {cfg.days + 30} (never served): {held}\n")
        top = sorted(res.seconds.items(), key=lambda kv: -kv[1])
        w("  time: " + ", ".join(f"{k} {v:.0f}s" for k, v in top if v >= 0.5) + "\n")
    w(f"\nchart (PNG):   {png}\nchart (HTML):  {html}\n")
    w(f"per scenario:  {results[0].root if results else ''} (prediction log, labels, production models, runs)\n")
    w("=" * 78 + "\n")
