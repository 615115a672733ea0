"""Benchmark steps, each run in its own process (as a pipeline task runs), and the harness that measures them.

    python benchmarks/_steps.py <step> '<json kwargs>'    # prints one line: BENCH_RESULT {...}

A step imports its libraries first (not timed: every measured path pays its imports the same way), then times its
work. The parent (:func:`run_step`) reads the step's ``seconds``, result and peak RSS
(``getrusage`` at the step's exit: its own peak resident set, or its largest subprocess', whichever is larger).

The pipeline steps call the components' logic with the arguments the taxi pipeline gives them (one process per
step, like kfp.local), so a step's time, memory and outputs are the pipeline's. The gate step (failing on anomalies) is
not run: resampled data must not stop a timing run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if __name__ == "__main__":  # benchmarks/statistics.py would shadow the standard library's statistics module
    sys.path[:] = [ROOT] + [p for p in sys.path if os.path.abspath(p or ".") != HERE]
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
TAXI_CSV = os.path.join(SHARED, "data", "chicago_taxi", "data.csv")
TAXI_MODULE = os.path.join(ROOT, "pipelines", "modules", "taxi.py")
TAXI_SCHEMA = os.path.join(ROOT, "pipelines", "schemas", "taxi.pbtxt")
#: The kfx taxi run (same as benchmarks/pipeline.py and the TFX peer): label, task, slices, epochs.
TAXI = dict(label_key="big_tipper", raw_label_key="tips", task="binary", slice_features=["payment_type"], epochs=5)
MARK = "BENCH_RESULT "


# ------------------------------------------------------------------------------------------- harness


@dataclass
class Measured:
    step: str
    seconds: float  # the step's work, timed inside its process
    process_seconds: float  # the whole process, imports included
    peak_rss_mb: float
    result: dict[str, Any] = field(default_factory=dict)


def run_step(step: str, timeout: float | None = None, **kwargs: Any) -> Measured:
    """Run ``step`` in a fresh Python process; its time, peak RSS and result. Raises when the step fails."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "_steps.py"), step, json.dumps(kwargs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    process_seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-25:])
        raise RuntimeError(f"step {step} failed (exit {proc.returncode}):\n{tail}")
    line = next((x for x in reversed(out.splitlines()) if x.startswith(MARK)), None)
    if line is None:
        raise RuntimeError(f"step {step} printed no result:\n{out[-2000:]}\n{err[-2000:]}")
    payload = json.loads(line[len(MARK) :])
    return Measured(step, payload["seconds"], process_seconds, payload["peak_rss_mb"], payload["result"])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2)


def summary(values: list[float]) -> str:
    """``median (min-max)`` of repeated measurements."""
    if len(values) == 1:
        return f"{values[0]:.2f} (1 rep)"
    return f"{median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


# ------------------------------------------------------------------------------- result summaries


def stats_summary(lists: list[Any]) -> dict[str, Any]:
    """Rows, and per column non-missing count, numeric mean, min and max, over DatasetFeatureStatisticsLists
    (merged: the train and eval splits of one CSV add up to the CSV)."""
    rows = 0
    cols: dict[str, dict[str, float]] = {}
    for stats in lists:
        ds = stats.datasets[0]
        rows += int(ds.num_examples)
        for f in ds.features:
            name = f.path.step[0] if f.path.step else f.name
            kind = f.WhichOneof("stats")
            common = getattr(f, kind).common_stats
            c = cols.setdefault(name, {"non_missing": 0, "sum": 0.0, "min": float("inf"), "max": float("-inf")})
            c["non_missing"] += int(common.num_non_missing)
            if kind == "num_stats" and common.num_non_missing:
                c["sum"] += f.num_stats.mean * common.num_non_missing
                c["min"] = min(c["min"], f.num_stats.min)
                c["max"] = max(c["max"], f.num_stats.max)
    return {"rows": rows, "columns": cols}


def same_stats(a: dict[str, Any], b: dict[str, Any], rel: float = 1e-6) -> list[str]:
    """Differences between two :func:`stats_summary`-shaped results (rows and counts exact, sums within ``rel``)."""
    diffs = []
    if a["rows"] != b["rows"]:
        diffs.append(f"rows {a['rows']} != {b['rows']}")
    if set(a["columns"]) != set(b["columns"]):
        diffs.append(f"columns differ: {sorted(set(a['columns']) ^ set(b['columns']))}")
    for name in set(a["columns"]) & set(b["columns"]):
        x, y = a["columns"][name], b["columns"][name]
        if x["non_missing"] != y["non_missing"]:
            diffs.append(f"{name}: non-missing {x['non_missing']} != {y['non_missing']}")
        for key in ("sum", "min", "max"):
            u, v = x[key], y[key]
            if u != v and abs(u - v) > rel * max(abs(u), abs(v), 1.0):
                diffs.append(f"{name}: {key} {u} != {v}")
    return diffs


# ----------------------------------------------------------------------------------------- steps


def step_pandas_stats(csv: str) -> dict[str, Any]:
    """The pandas baseline: read_csv + describe + 10-bin histograms + value counts."""
    import numpy as np
    import pandas as pd

    start = time.perf_counter()
    df = pd.read_csv(csv)
    numeric = df.select_dtypes("number")
    described = numeric.describe()
    for col in numeric.columns:
        np.histogram(numeric[col].dropna().to_numpy(), bins=10)
    for col in df.select_dtypes(exclude="number").columns:
        df[col].value_counts()
    seconds = time.perf_counter() - start
    cols = {}
    for name in df.columns:
        present = df[name].dropna()
        c = {"non_missing": int(len(present)), "sum": 0.0, "min": float("inf"), "max": float("-inf")}
        if name in numeric.columns and len(present):
            c.update(
                sum=float(described[name]["mean"]) * len(present),
                min=float(described[name]["min"]),
                max=float(described[name]["max"]),
            )
        cols[name] = c
    return {"seconds": seconds, "result": {"rows": len(df), "columns": cols}}


def step_ingest(csv: str, out: str) -> dict[str, Any]:
    from components.ingest.logic import ingest_csv

    start = time.perf_counter()
    r = ingest_csv(csv, out)
    return {"seconds": time.perf_counter() - start, "result": {"rows": r.rows, "splits": r.splits, "files": r.files}}


def step_statistics(examples: str, out: str, html: str = "", columnar: bool = True) -> dict[str, Any]:
    """The statistics step (``columnar=False``: decoding the TFRecords even where ingest wrote columnar copies)."""
    import hashlib

    from components._shared.artifacts.statistics import read_statistics, stats_path
    from components.statistics.logic import compute_statistics

    start = time.perf_counter()
    counts = compute_statistics(examples, out, html_path=html or None, columnar=columnar)
    seconds = time.perf_counter() - start
    result = stats_summary([read_statistics(out, split) for split in counts])
    with_digests = {s: hashlib.sha256(open(stats_path(out, s), "rb").read()).hexdigest() for s in counts}
    result.update(splits=dict(counts), mode=counts.mode, reader=counts.reader, sha256=with_digests)
    return {"seconds": seconds, "result": result}


def step_statistics_from_csv(csv: str) -> dict[str, Any]:
    from components.statistics.logic import statistics_from_csv

    start = time.perf_counter()
    stats = statistics_from_csv(csv)
    return {"seconds": time.perf_counter() - start, "result": stats_summary([stats])}


def step_schema(statistics: str, out: str) -> dict[str, Any]:
    from components.schema.logic import make_schema

    start = time.perf_counter()
    schema = make_schema(statistics, out, os.path.join(out, "schema.md"), schema_uri=TAXI_SCHEMA)
    return {"seconds": time.perf_counter() - start, "result": {"features": len(schema.feature)}}


def step_validate(statistics: str, schema: str, out: str) -> dict[str, Any]:
    from components.validate.logic import validate

    start = time.perf_counter()
    r = validate(
        statistics,
        schema,
        out,
        os.path.join(out, "anomalies.html"),
        label_key=TAXI["raw_label_key"],
    )  # validate never fails on what it finds (the pipeline's gate step does)
    return {"seconds": time.perf_counter() - start, "result": {"anomalies": r.anomaly_count, "rows": r.num_examples}}


def step_transform(examples: str, schema: str, graph: str, out: str) -> dict[str, Any]:
    from components.transform.logic import run_transform

    start = time.perf_counter()
    r = run_transform(examples, schema, TAXI_MODULE, graph, out)
    return {"seconds": time.perf_counter() - start, "result": {"rows": r.rows}}


def step_train(transformed: str, graph: str, out: str, epochs: int = TAXI["epochs"]) -> dict[str, Any]:
    from components.train.logic import run_training

    start = time.perf_counter()
    r = run_training(transformed, graph, TAXI_MODULE, out, label_key=TAXI["label_key"], task="binary", epochs=epochs)
    rows = {"train": r.train_rows, "eval": r.eval_rows}
    return {"seconds": time.perf_counter() - start, "result": {"rows": rows, "metrics": r.metrics}}


def step_evaluate(model: str, examples: str, out: str) -> dict[str, Any]:
    from components.evaluate.logic import evaluate_model

    start = time.perf_counter()
    r = evaluate_model(
        model,
        examples,
        os.path.join(out, "evaluation"),
        os.path.join(out, "blessing"),
        os.path.join(out, "evaluation.html"),
        slice_features=TAXI["slice_features"],
    )
    result = {"auc": r.overall.get("auc"), "example_count": r.example_count, "blessed": r.blessed}
    return {"seconds": time.perf_counter() - start, "result": result}


STEPS = {name[len("step_") :]: fn for name, fn in list(globals().items()) if name.startswith("step_")}
#: What each step imports before its clock starts (its own component's logic: the step's memory is its own).
IMPORTS = {
    "pandas_stats": ("pandas", "numpy"),
    "ingest": ("components.ingest.logic",),
    "statistics": ("components.statistics.logic",),
    "statistics_from_csv": ("components.statistics.logic",),
    "schema": ("components.schema.logic",),
    "validate": ("components.validate.logic",),
    "transform": ("components.transform.logic", "tensorflow_transform.beam"),
    "train": ("components.train.logic",),
    "evaluate": ("components.evaluate.logic", "tensorflow_model_analysis"),
}


def main(argv: list[str]) -> int:
    import importlib
    import resource

    step, kwargs = argv[0], json.loads(argv[1])
    if step not in STEPS:
        raise SystemExit(f"unknown step {step!r}; known: {', '.join(sorted(STEPS))}")
    for module in ("components", *IMPORTS[step]):
        importlib.import_module(module)
    out = STEPS[step](**kwargs)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["peak_rss_mb"] = max(own, children) / 1024  # Linux: kilobytes
    print(MARK + json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
