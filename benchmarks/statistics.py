"""Statistics benchmark: kfx's in-memory TFDV path against a pandas baseline, in the same run.

    python benchmarks/statistics.py                 # 1M rows x 20 columns (14 numeric, 6 categorical)
    python benchmarks/statistics.py --rows 200000   # quicker
    python benchmarks/statistics.py --taxi-beam     # also: TFDV's Beam path on the taxi table,
                                                    # DirectRunner in_memory vs multi_processing

The CSV is generated once (seeded) and cached under the temp dir. Target: kfx within 1.5x of pandas
(read_csv + describe + histograms + value counts), with exact row counts.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

N_NUMERIC = 14
N_CATEGORICAL = 6
TARGET_RATIO = 1.5


def make_csv(rows: int, seed: int = 0) -> str:
    """A cached ``rows`` x 20 CSV: 14 numeric (ints and floats, some missing) + 6 categorical columns."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = os.path.join(tempfile.gettempdir(), "kfx_bench", f"stats_{rows}x20_seed{seed}.csv")
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
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


def pandas_baseline(path: str) -> tuple[float, int]:
    import pandas as pd

    start = time.perf_counter()
    df = pd.read_csv(path)
    numeric = df.select_dtypes("number")
    _ = numeric.describe()
    for col in numeric.columns:
        values = numeric[col].dropna().to_numpy()
        _ = np.histogram(values, bins=10)
    for col in df.select_dtypes(exclude="number").columns:
        _ = df[col].value_counts()
    return time.perf_counter() - start, len(df)


def kfx_statistics(path: str) -> tuple[float, int]:
    from components.statistics.logic import statistics_from_csv

    start = time.perf_counter()
    stats = statistics_from_csv(path)
    seconds = time.perf_counter() - start
    return seconds, int(stats.datasets[0].num_examples)


def taxi_beam(taxi_csv: str) -> None:
    """TFDV's Beam path on the taxi table: DirectRunner in_memory vs multi_processing (all cores)."""
    from components.ingest.logic import ingest_csv
    from components.statistics.logic import compute_statistics

    with tempfile.TemporaryDirectory() as d:
        result = ingest_csv(taxi_csv, os.path.join(d, "ex"))
        start = time.perf_counter()
        counts = compute_statistics(os.path.join(d, "ex"), os.path.join(d, "mem"))
        print(f"taxi in-memory path (kfx default):     {time.perf_counter() - start:6.1f} s  rows {dict(counts)}")
        for args in (
            ["--direct_running_mode=in_memory"],
            ["--direct_running_mode=multi_processing", "--direct_num_workers=0"],
        ):
            start = time.perf_counter()
            counts = compute_statistics(
                os.path.join(d, "ex"), os.path.join(d, "b"), beam_pipeline_args=args, mode="beam"
            )
            seconds = time.perf_counter() - start
            exact = dict(counts) == result.splits
            print(f"taxi Beam {' '.join(args):55s} {seconds:6.1f} s  rows {dict(counts)} exact={exact}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--taxi-beam", action="store_true", help="also time TFDV's Beam path on the taxi table")
    parser.add_argument(
        "--taxi",
        default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "chicago_taxi", "data.csv"),
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import components  # noqa: F401  (TF env before TensorFlow loads)

    start = time.perf_counter()
    path = make_csv(args.rows)
    print(
        f"data: {path} ({os.path.getsize(path) / 1e6:.0f} MB, {args.rows:,} rows x 20 columns; ready in {time.perf_counter() - start:.1f} s)"
    )

    # warm the imports so neither side pays TensorFlow's import in its timing
    import pandas  # noqa: F401
    import tensorflow_data_validation  # noqa: F401

    pandas_s, pandas_rows = pandas_baseline(path)
    kfx_s, kfx_rows = kfx_statistics(path)
    ratio = kfx_s / pandas_s
    print(f"pandas read_csv + describe + histograms + value_counts: {pandas_s:6.2f} s  rows {pandas_rows:,}")
    print(f"kfx statistics_from_csv (TFDV in-memory):              {kfx_s:6.2f} s  rows {kfx_rows:,}")
    print(
        f"ratio kfx / pandas: {ratio:.2f}x (target <= {TARGET_RATIO}x)  rows exact: {kfx_rows == pandas_rows == args.rows}"
    )
    if args.taxi_beam:
        taxi_beam(os.path.abspath(args.taxi))
    if kfx_rows != args.rows:
        print("ERROR: row count mismatch", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
