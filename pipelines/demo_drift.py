"""``make demo-drift``: kfx's continuous-training loop on simulated card transactions, end to end on one machine.

    python -m pipelines.demo_drift                              # concept + covariate drift, 30 days each
    python -m pipelines.demo_drift --scenario concept --days 20 --rows-per-day 800
    python -m pipelines.demo_drift --scenario none              # the control: nothing drifts, nothing retrains

Per scenario: the first model is trained on pre-shift days with kfx's training pipeline (kfp.local) and pushed to a
local production folder with its training evidence; the real kfx model server (``.venv-serving``) serves it and logs
every prediction; each simulated day's transactions go through it over HTTP; labels arrive ``--label-delay`` days
late; the monitor judges the model daily (realised AUC/F1 on labelled rows, CBPE estimates before labels arrive,
input drift); when it says retrain, the training pipeline runs on fresh labelled data with production as baseline and
the candidate is rolled out only if blessed. Output: a PNG and a self-contained HTML chart + decision table, and a
one-screen summary (see pipelines/drift_demo/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from pipelines.drift_demo.loop import Config, ScenarioResult, run_scenario

SCENARIO_CHOICES = ("all", "none", "concept", "covariate")
DEFAULT_SCENARIOS = ("concept", "covariate")


def build_parser() -> argparse.ArgumentParser:
    d = Config()
    p = argparse.ArgumentParser(prog="python -m pipelines.demo_drift", description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="all", choices=SCENARIO_CHOICES, help="all = concept and covariate")
    p.add_argument("--days", type=int, default=d.days, help=f"simulated days per scenario (default {d.days})")
    p.add_argument("--rows-per-day", type=int, default=d.rows_per_day, help="transactions (requests) per day")
    p.add_argument("--shift-day", type=int, default=d.shift_day, help="the day drift starts (ramping over 3 days)")
    p.add_argument("--label-delay", type=int, default=d.label_delay, help="days until a day's labels arrive")
    p.add_argument("--tau", type=float, default=d.tau, help="lowest acceptable AUC of the production model")
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs per run")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--monitor",
        default=d.monitor,
        choices=("in-process", "kfp"),
        help="in-process: the monitoring steps' logic in this process (seconds a day); kfp: the monitoring pipeline "
        "through kfp.local every day (about a minute a day)",
    )
    p.add_argument("--out", default=d.out, help=f"output folder (default {d.out})")
    p.add_argument("--png-copy", default="", help="also copy the PNG chart here (make demo-drift: docs/)")
    p.add_argument("--serving-python", default=d.serving_python, help="python of the serving environment")
    return p


def config_from(ns: argparse.Namespace) -> Config:
    if ns.days < 3 or ns.rows_per_day < 100:
        raise SystemExit("python -m pipelines.demo_drift: give --days >= 3 and --rows-per-day >= 100")
    return Config(
        days=ns.days,
        rows_per_day=ns.rows_per_day,
        shift_day=ns.shift_day,
        label_delay=ns.label_delay,
        tau=ns.tau,
        epochs=ns.epochs,
        seed=ns.seed,
        out=ns.out,
        serving_python=ns.serving_python,
        monitor=ns.monitor,
    )


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    cfg = config_from(ns)
    # SIGTERM unwinds like Ctrl-C, so the model server this demo started is stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scenarios = DEFAULT_SCENARIOS if ns.scenario == "all" else (ns.scenario,)
    start = time.perf_counter()
    results: list[ScenarioResult] = [run_scenario(cfg, s) for s in scenarios]
    from pipelines.drift_demo.chart import write_html, write_png
    from pipelines.drift_demo.summary import print_summary

    png, html = os.path.join(cfg.out, "demo-drift.png"), os.path.join(cfg.out, "demo-drift.html")
    write_png(results, png)
    write_html(results, html)
    if ns.png_copy:
        os.makedirs(os.path.dirname(os.path.abspath(ns.png_copy)), exist_ok=True)
        shutil.copyfile(png, ns.png_copy)
    print_summary(results, png, html, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
