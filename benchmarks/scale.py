"""Scale benchmark: the whole local taxi pipeline at 15k, 150k, 1.5M and 15M rows.

    python benchmarks/scale.py --sizes 15k,150k,1.5M          # what fits in minutes on 2 cores
    python benchmarks/scale.py --sizes 15M --reps 1           # `make bench-scale` runs all four

Data: the Chicago taxi sample (``../shared/data/chicago_taxi/data.csv``) resampled with replacement to each size,
with seeded noise on the continuous columns (fares, miles, tips, coordinates, durations, timestamps); generated
once per size and cached under ``.bench/``.

Each step (ingest, statistics, schema, validate, transform, train, evaluate) runs in its own process with the
arguments the taxi pipeline gives it (as kfp.local runs one process per task), over the previous step's
artifacts. Printed per size and step: median and min-max seconds over ``--reps``, rows/s, microseconds per row,
and peak RSS. Row counts are checked exact at every step. Targets: cost per row flat or falling from 150k to 15M;
peak RSS of every step under 4 GB at 15M rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != HERE]
from benchmarks._steps import ROOT, TAXI_CSV, median, run_step, summary  # noqa: E402

CACHE = os.path.join(ROOT, ".bench")
STEPS = ("ingest", "statistics", "schema", "validate", "transform", "train", "evaluate")
RSS_TARGET_MB = 4096
#: Continuous columns that get noise: relative (x * (1 + 2% N(0,1))) for amounts, absolute jitter for the rest.
RELATIVE_NOISE = ("fare", "trip_miles", "tips")
COORDINATES = ("pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude")


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(round(float(text.rstrip("km")) * scale))


def label(rows: int) -> str:
    if rows >= 1_000_000:
        return f"{rows / 1e6:g}M"
    return f"{rows / 1e3:g}k" if rows >= 1000 else str(rows)


def make_taxi(rows: int, seed: int = 0, chunk: int = 500_000) -> str:
    """The taxi table resampled to ``rows`` rows with seeded noise, written once (streamed in chunks)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    path = os.path.join(CACHE, f"taxi_{label(rows)}_seed{seed}.csv")
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    source = pacsv.read_csv(TAXI_CSV)
    rng = np.random.default_rng(seed)
    tmp = path + ".tmp"
    with pacsv.CSVWriter(tmp, source.schema) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            part = source.take(pa.array(rng.integers(0, source.num_rows, n)))
            cols = {}
            for name in part.column_names:
                col = part[name].combine_chunks()
                if name in RELATIVE_NOISE:
                    col = pc.round(pc.multiply(col, pa.array(1 + 0.02 * rng.standard_normal(n))), 2)
                elif name in COORDINATES:
                    col = pc.round(pc.add(col, pa.array(0.002 * rng.standard_normal(n))), 6)
                elif name == "trip_seconds":
                    col = pc.max_element_wise(pc.add(col, pa.array(rng.integers(-5, 6, n))), 0)
                elif name == "trip_start_timestamp":
                    col = pc.add(col, pa.array(rng.integers(-900, 901, n)))
                cols[name] = col.cast(source.schema.field(name).type)
            writer.write_table(pa.table(cols, schema=source.schema))
    os.replace(tmp, path)
    return path


def run_pipeline(csv: str, work: str) -> dict[str, object]:
    """Every step once, each in its own process; ``{step: Measured}``."""
    d = {k: os.path.join(work, k) for k in ("ex", "st", "schema", "anom", "graph", "tx", "model", "eval")}
    return {
        "ingest": run_step("ingest", csv=csv, out=d["ex"]),
        "statistics": run_step("statistics", examples=d["ex"], out=d["st"], html=os.path.join(work, "stats.html")),
        "schema": run_step("schema", statistics=d["st"], out=d["schema"]),
        "validate": run_step("validate", statistics=d["st"], schema=d["schema"], out=d["anom"]),
        "transform": run_step("transform", examples=d["ex"], schema=d["schema"], graph=d["graph"], out=d["tx"]),
        "train": run_step("train", transformed=d["tx"], graph=d["graph"], out=d["model"]),
        "evaluate": run_step("evaluate", model=d["model"], examples=d["ex"], out=d["eval"]),
    }


def check_rows(rows: int, m: dict) -> list[str]:
    """Row counts every step reports against the size (and the eval split ingest wrote)."""
    splits = m["ingest"].result["splits"]
    checks = {
        "ingest rows": m["ingest"].result["rows"],
        "statistics rows": m["statistics"].result["rows"],
        "validate rows": sum(m["validate"].result["rows"].values()),
        "transform rows": sum(m["transform"].result["rows"].values()),
        "train rows": sum(m["train"].result["rows"].values()),
    }
    bad = [f"{k} {v:,} != {rows:,}" for k, v in checks.items() if v != rows]
    if m["evaluate"].result["example_count"] != splits["eval"]:
        bad.append(f"evaluate examples {m['evaluate'].result['example_count']:,} != eval split {splits['eval']:,}")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="15k,150k,1.5M,15M")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", default="", help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load {load:.1f} at start, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    report: dict[str, dict] = {}
    failures = []
    for rows in sizes:
        csv = make_taxi(rows)
        print(f"\n== {label(rows)} rows: {csv} ({os.path.getsize(csv) / 1e6:.0f} MB)", flush=True)
        runs: list[dict] = []
        for rep in range(args.reps):
            work = os.path.join(CACHE, f"scale_{label(rows)}_work")
            shutil.rmtree(work, ignore_errors=True)
            try:
                runs.append(run_pipeline(csv, work))
            finally:
                shutil.rmtree(work, ignore_errors=True)
            bad = check_rows(rows, runs[-1])
            failures += [f"{label(rows)} rep {rep + 1}: {b}" for b in bad]
            total = sum(m.seconds for m in runs[-1].values())
            print(f"rep {rep + 1}/{args.reps}: {total:.1f} s, rows exact: {not bad}", flush=True)
        print(f"{'step':<12}{'seconds: median (min-max)':>28}{'rows/s':>12}{'us/row':>9}{'peak RSS MB':>13}")
        per_step = {}
        for step in STEPS:
            secs = [r[step].seconds for r in runs]
            rss = max(r[step].peak_rss_mb for r in runs)
            med = median(secs)
            per_step[step] = {"seconds": secs, "median": med, "peak_rss_mb": rss, "us_per_row": med / rows * 1e6}
            print(f"{step:<12}{summary(secs):>28}{rows / med:>12,.0f}{med / rows * 1e6:>9.1f}{rss:>13.0f}")
        totals = [sum(r[s].seconds for s in STEPS) for r in runs]
        peak = max(v["peak_rss_mb"] for v in per_step.values())
        print(
            f"{'total':<12}{summary(totals):>28}{rows / median(totals):>12,.0f}{median(totals) / rows * 1e6:>9.1f}{peak:>13.0f}"
        )
        auc = [r["evaluate"].result["auc"] for r in runs]
        print(f"AUC (eval split): {summary(auc)}; peak RSS of any step {peak:.0f} MB (target < {RSS_TARGET_MB})")
        report[label(rows)] = {"rows": rows, "steps": per_step, "total": totals, "auc": auc, "peak_rss_mb": peak}
    if len(report) > 1:
        print(
            "\ncost per row (us, median total) by size: "
            + ", ".join(f"{k}: {median(v['total']) / v['rows'] * 1e6:.1f}" for k, v in report.items())
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if failures:
        print("ERROR: row counts not exact:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
