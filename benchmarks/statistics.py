"""Statistics benchmark: ingest + statistics as the pipeline runs them, against a pandas baseline, same run.

    python benchmarks/statistics.py                  # 1M rows x 20 columns (14 numeric, 6 categorical), 3 reps
    python benchmarks/statistics.py --rows 200000 --reps 5

Lines printed (each the median and min-max of ``--reps`` repetitions, and the peak RSS of its process):

* **pipeline path** (the headline) -- what ``make run`` does: the ingest step (CSV -> sharded tf.Example TFRecords,
  each shard with its columnar copy) and then the statistics step (TFDV statistics per split, from the columnar
  copies), each in its own process, as kfp.local runs them;
* **direct** -- ``statistics_from_csv`` (CSV -> Arrow -> TFDV, no examples artifact): a second, clearly separate
  line; the pipeline does not take this path;
* **pandas baseline** -- ``read_csv`` + ``describe`` + 10-bin histograms + ``value_counts``.

Once, untimed against the target, the statistics step also runs decoding the TFRecords (``columnar=False``, the
path before the columnar copies): its statistics files must be byte-identical to the pipeline path's.

Every path's imports happen before its clock starts. Before any ratio is printed the results are checked equal:
rows exact (CSV, ingest, statistics), the statistics files byte-identical to TFDV over the decoded tf.Examples, and
per column the non-missing count exact and the sum, min and max of numeric values within 1e-6 of pandas'.
The CSV is generated once (seeded) and cached under ``.bench/``. Target: pipeline path within 2x of pandas.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# this file's name shadows the standard library's statistics module: import the project from its root instead
sys.path[:] = [os.path.dirname(HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != HERE]
from benchmarks._steps import ROOT, median, run_step, same_stats, summary  # noqa: E402

N_NUMERIC = 14
N_CATEGORICAL = 6
TARGET_RATIO = 2.0
CACHE = os.path.join(ROOT, ".bench")


def make_csv(rows: int, seed: int = 0) -> str:
    """A cached ``rows`` x 20 CSV: 14 numeric (ints and floats, some missing) + 6 categorical columns."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = os.path.join(CACHE, f"stats_{rows}x20_seed{seed}.csv")
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {}
    for i in range(N_NUMERIC):
        if i % 2 == 0:
            values = np.round(rng.lognormal(3.0, 1.0, rows), 6)
        else:
            values = rng.integers(0, 10_000_000 if i % 4 == 1 else 50, rows)
        missing = rng.random(rows) < (0.02 * (i % 3))
        cols[f"num_{i:02d}"] = pa.array(values, mask=missing)
    for j in range(N_CATEGORICAL):
        cardinality = [5, 20, 100, 1000, 12, 300][j]
        vocab = np.array([f"c{j}_{k}" for k in range(cardinality)], dtype=object)
        probs = 1.0 / np.arange(1, cardinality + 1)
        cols[f"cat_{j}"] = pa.array(rng.choice(vocab, rows, p=probs / probs.sum()))
    tmp = path + ".tmp"
    pacsv.write_csv(pa.table(cols), tmp)
    os.replace(tmp, path)
    return path


def machine() -> str:
    cpus = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.processor() or platform.machine()}, {cpus} cores, load {load:.1f} at start, {time.strftime('%Y-%m-%d %H:%M %Z')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    if args.reps < 3:
        print(f"note: {args.reps} repetition(s); the project's benchmarks report >= 3", file=sys.stderr)

    path = make_csv(args.rows)
    print(f"machine: {machine()}")
    print(f"data: {path} ({os.path.getsize(path) / 1e6:.0f} MB, {args.rows:,} rows x 20 columns)")
    runs: dict[str, list] = {"pandas": [], "ingest": [], "statistics": [], "direct": []}
    results: dict[str, dict] = {}
    work = tempfile.mkdtemp(prefix="kfx_bench_stats_", dir=CACHE)
    try:
        for rep in range(args.reps):
            ex, st = os.path.join(work, f"ex{rep}"), os.path.join(work, f"st{rep}")
            for name, m in (
                ("pandas", lambda: run_step("pandas_stats", csv=path)),
                ("ingest", lambda ex=ex: run_step("ingest", csv=path, out=ex)),
                ("statistics", lambda ex=ex, st=st: run_step("statistics", examples=ex, out=st)),
                ("direct", lambda: run_step("statistics_from_csv", csv=path)),
            ):
                measured = m()
                runs[name].append(measured)
                results[name] = measured.result
            if rep == 0:  # the reference: the same step decoding the TFRecords
                decoded = run_step("statistics", examples=ex, out=st + "_decoded", columnar=False)
                results["decoded"] = decoded.result
            shards = {s: len(f) for s, f in runs["ingest"][-1].result["files"].items()}
            shutil.rmtree(ex), shutil.rmtree(st, ignore_errors=True), shutil.rmtree(st + "_decoded", ignore_errors=True)
            timed = ", ".join(f"{k} {v[-1].seconds:.2f}s/{v[-1].peak_rss_mb:.0f}MB" for k, v in runs.items())
            print(f"rep {rep + 1}/{args.reps}: {timed}; shards per split {shards}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(args, runs, results, decoded)


def report(args: argparse.Namespace, runs: dict[str, list], results: dict[str, dict], decoded) -> int:
    def secs(name: str) -> list[float]:
        return [m.seconds for m in runs[name]]

    def rss(name: str) -> float:
        return max(m.peak_rss_mb for m in runs[name])

    def line(label: str, seconds: list[float], peak: float) -> None:
        print(f"{label:<74}{summary(seconds):>28}{peak:>13.0f}")

    pipeline = [i + s for i, s in zip(secs("ingest"), secs("statistics"), strict=True)]
    print(f"\n{'path':<74}{'seconds: median (min-max)':>28}{'peak RSS MB':>13}")
    line("pandas baseline (read_csv+describe+histograms+value_counts)", secs("pandas"), rss("pandas"))
    line("PIPELINE PATH: ingest + statistics steps", pipeline, max(rss("ingest"), rss("statistics")))
    line("  ingest step (CSV -> tf.Example shards + columnar copies)", secs("ingest"), rss("ingest"))
    line(
        f"  statistics step (TFDV per split, from {results['statistics']['reader']})",
        secs("statistics"),
        rss("statistics"),
    )
    line("direct statistics_from_csv (CSV -> Arrow -> TFDV; not the pipeline path)", secs("direct"), rss("direct"))
    line("reference: statistics step decoding the TFRecords (rep 1 only)", [decoded.seconds], decoded.peak_rss_mb)

    diffs = {
        "pipeline vs pandas": same_stats(results["statistics"], results["pandas"]),
        "direct vs pandas": same_stats(results["direct"], results["pandas"]),
    }
    if results["statistics"]["sha256"] != results["decoded"]["sha256"]:
        diffs["pipeline vs decoded TFRecords"] = ["statistics files differ byte for byte"]
    rows = {
        "pandas": results["pandas"]["rows"],
        "ingest": results["ingest"]["rows"],
        "statistics": results["statistics"]["rows"],
        "direct": results["direct"]["rows"],
    }
    exact = set(rows.values()) == {args.rows} and results["ingest"]["splits"] == results["statistics"]["splits"]
    bad = {k: v for k, v in diffs.items() if v}
    if bad or not exact:
        print(f"ERROR: results differ, no ratio printed: {bad} rows {rows} exact={exact}", file=sys.stderr)
        return 1
    base = median(secs("pandas"))
    print(
        f"\nresults equal: rows {args.rows:,} exact at every step (splits {results['ingest']['splits']}); statistics "
        "files byte-identical to TFDV over the decoded TFRecords; per-column counts exact, sums/min/max within 1e-6"
    )
    ratio = median(pipeline) / base
    print(
        f"ratio pipeline path / pandas: {ratio:.2f}x (target <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'})"
    )
    print(f"ratio direct / pandas:        {median(secs('direct')) / base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
