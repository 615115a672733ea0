"""Whole-pipeline benchmark on the Chicago taxi table.

Prints, as median (min-max) of ``--reps`` repetitions, the wall time of the whole local pipeline (kfp.local, one
subprocess per step) and of the same library calls made directly in one process, each timed from a fresh process's
start (imports included), alternating; per-step seconds of each; and the ratio of the medians (the orchestration
overhead), once both paths gave the same evaluation (slices, example counts, AUC within 1e-3) in every repetition.
Targets: overhead <= 1.5x; whole local pipeline < 4 minutes on 2 cores.

    .venv/bin/python benchmarks/pipeline.py [--data ../shared/data/chicago_taxi/data.csv] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import components  # noqa: F401  (legacy Keras before TensorFlow)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
TAXI = os.path.join(os.path.dirname(ROOT), "shared", "data", "chicago_taxi", "data.csv")
TAXI_MODULE = os.path.join(ROOT, "pipelines", "modules", "taxi.py")

from pipelines import rundir  # noqa: E402  (kfp.local's run-directory layout)
from pipelines.modules import taxi as taxi_module  # noqa: E402

TAXI_SCHEMA = os.path.join(ROOT, "pipelines", "schemas", "taxi.pbtxt")
TAXI_ARGS = dict(
    module_file=TAXI_MODULE,
    schema_uri=TAXI_SCHEMA,
    label_key=taxi_module.LABEL_KEY,
    raw_label_key="tips",
    task="binary",
    slice_features=["payment_type"],
    epochs=5,
)


def direct(data: str, work: str) -> dict[str, float]:
    """The same library calls the pipeline makes, in this one process."""
    from components.evaluate.logic import evaluate_model
    from components.ingest.logic import ingest_csv
    from components.schema.logic import make_schema
    from components.statistics.logic import compute_statistics
    from components.train.logic import run_training
    from components.transform.logic import run_transform
    from components.validate.logic import validate

    d = {
        k: os.path.join(work, k)
        for k in ("examples", "stats", "schema", "anomalies", "graph", "tx", "model", "eval", "bless")
    }
    t: dict[str, float] = {}

    def step(name, fn, *a, **kw):
        s = time.perf_counter()
        fn(*a, **kw)
        t[name] = time.perf_counter() - s

    step("ingest", ingest_csv, data, d["examples"])
    step("statistics", compute_statistics, d["examples"], d["stats"], os.path.join(work, "stats.html"))
    step("schema", make_schema, d["stats"], d["schema"], os.path.join(work, "schema.md"), schema_uri=TAXI_SCHEMA)
    step(
        "validate",
        validate,
        d["stats"],
        d["schema"],
        d["anomalies"],
        os.path.join(work, "anomalies.html"),
        label_key=TAXI_ARGS["raw_label_key"],
    )
    step("transform", run_transform, d["examples"], d["schema"], TAXI_ARGS["module_file"], d["graph"], d["tx"])
    step(
        "train",
        run_training,
        d["tx"],
        d["graph"],
        TAXI_ARGS["module_file"],
        d["model"],
        label_key=TAXI_ARGS["label_key"],
        task="binary",
        epochs=TAXI_ARGS["epochs"],
    )
    step(
        "evaluate",
        evaluate_model,
        d["model"],
        d["examples"],
        d["eval"],
        d["bless"],
        os.path.join(work, "eval.html"),
        slice_features=TAXI_ARGS["slice_features"],
    )
    return t


def pipeline(data: str, work: str) -> tuple[dict[str, float], bool, str]:
    """The compiled pipeline under kfp.local: per-step seconds (each task's finish after the latest finish of the
    tasks listed before it; a task that finished before those ran beside them and is left out), success, and the
    evaluation directory."""
    from pipelines.run import run_local
    from pipelines.training import STEPS

    args = dict(TAXI_ARGS, data_uri=data)
    start = time.time()
    s = run_local(work, args)
    steps: dict[str, float] = {}
    prev = start
    for name in STEPS:  # the gate too, so transform's time does not include it
        end = rundir.finished_at(s.run_dir, name)
        if end is not None and end >= prev:
            steps[name] = end - prev
            prev = end
    return steps, bool(s.succeeded and s.blessed is not None), s.artifacts.get("evaluate/evaluation", "")


def one(path: str, data: str, out: str) -> int:
    """One repetition of one path in this (fresh) process; its step seconds and evaluation slices go to ``out``."""
    from components._shared.artifacts.evaluation import read_slices

    with tempfile.TemporaryDirectory() as work:
        if path == "direct":
            steps, ok, evaluation = direct(data, work), True, os.path.join(work, "eval")
        else:
            steps, ok, evaluation = pipeline(data, work)
        slices = read_slices(evaluation) if ok and evaluation else []
    with open(out, "w") as f:
        json.dump({"steps": steps, "ok": ok, "slices": slices}, f)
    return 0 if ok else 1


def _time(path: str, data: str, work: str) -> tuple[float, dict]:
    """Wall seconds of one repetition from process start (imports included, as a user waits for them)."""
    import subprocess

    out = os.path.join(work, f"{path}.json")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--one", path, "--data", data, "--out", out],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"the {path} path failed (exit {done.returncode})")
    with open(out) as f:
        return seconds, json.load(f)


def _same(a: list[dict], b: list[dict]) -> str:
    """'' when both evaluations have the same slices and example counts and AUCs within 1e-3, else what differs."""
    if [x.get("slice") for x in a] != [x.get("slice") for x in b] or not a:
        return f"slices differ: {[x.get('slice') for x in a]} vs {[x.get('slice') for x in b]}"
    for x, y in zip(a, b, strict=True):
        mx, my = x.get("metrics", {}), y.get("metrics", {})
        if mx.get("example_count") != my.get("example_count"):
            return f"{x.get('slice')}: example_count {mx.get('example_count')} vs {my.get('example_count')}"
        if abs(float(mx.get("auc", 0)) - float(my.get("auc", 0))) > 1e-3:
            return f"{x.get('slice')}: auc {mx.get('auc')} vs {my.get('auc')}"
    return ""


def _stat(values: list[float]) -> str:
    v = sorted(values)
    return f"{v[len(v) // 2]:.1f} ({v[0]:.1f}-{v[-1]:.1f})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=TAXI)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--json", default="", help="also write the figures here")
    p.add_argument("--one", choices=("direct", "pipeline"), help=argparse.SUPPRESS)
    p.add_argument("--out", default="", help=argparse.SUPPRESS)
    ns = p.parse_args()
    if ns.one:
        return one(ns.one, ns.data, ns.out)
    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} cores, load {load:.1f} at start, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC"
    )
    totals: dict[str, list[float]] = {"direct": [], "pipeline": []}
    steps: dict[str, dict[str, list[float]]] = {"direct": {}, "pipeline": {}}
    with tempfile.TemporaryDirectory() as work:
        for rep in range(ns.reps):
            got = {}
            for path in ("direct", "pipeline"):  # alternating, each in a fresh process
                seconds, got[path] = _time(path, ns.data, work)
                totals[path].append(seconds)
                for name, t in got[path]["steps"].items():
                    steps[path].setdefault(name, []).append(t)
            differs = _same(got["direct"]["slices"], got["pipeline"]["slices"])
            if differs:
                raise SystemExit(f"rep {rep + 1}: the two paths' evaluations differ: {differs}")
            print(
                f"rep {rep + 1}/{ns.reps}: direct {totals['direct'][-1]:.1f}s pipeline {totals['pipeline'][-1]:.1f}s, same evaluation",
                flush=True,
            )
    print(f"\n{'step (seconds)':<16}{'direct: median (min-max)':>28}{'pipeline: median (min-max)':>30}")
    for name in steps["direct"]:
        pipe = steps["pipeline"].get(name)
        print(f"{name:<16}{_stat(steps['direct'][name]):>28}{_stat(pipe) if pipe else 'beside others':>30}")
    print(f"{'total':<16}{_stat(totals['direct']):>28}{_stat(totals['pipeline']):>30}")
    print("(totals from process start, imports included; the pipeline's steps overlap the zygote's imports)")
    med = {k: sorted(v)[len(v) // 2] for k, v in totals.items()}
    ratio = med["pipeline"] / med["direct"]
    print("results equal: the same slices, example counts and AUC (within 1e-3) from both paths in every repetition")
    print(
        f"orchestration overhead: {ratio:.2f}x (target <= 1.5x); whole local pipeline {med['pipeline']:.0f}s (target < 240s)"
    )
    if ns.json:
        with open(ns.json, "w") as f:
            json.dump({"totals": totals, "steps": steps, "ratio": ratio, "load": load}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
