"""Whole-pipeline benchmark on the Chicago taxi table.

Prints the wall time of each step and of the whole local pipeline (kfp.local, one subprocess per
step), and the ratio of the whole pipeline to the same library calls made directly in one process
(the orchestration overhead). Targets: overhead <= 1.5x; whole local pipeline < 4 minutes on 2 cores.

    .venv/bin/python benchmarks/pipeline.py [--data ../shared/data/chicago_taxi/data.csv]
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


def pipeline(data: str, work: str) -> tuple[dict[str, float], float, bool]:
    """The compiled pipeline under kfp.local; per-step times from each task's start/finish on disk."""
    from pipelines.run import run_local
    from pipelines.training import STEPS

    args = dict(TAXI_ARGS, data_uri=data)
    start = time.time()
    s = run_local(work, args)
    total = time.time() - start
    steps: dict[str, float] = {}
    prev = start
    for name in STEPS:  # the gate too, so transform's time does not include it
        end = rundir.finished_at(s.run_dir, name)
        if end is not None:
            steps[name] = end - prev
            prev = end
    return steps, total, bool(s.succeeded and s.blessed is not None)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=TAXI)
    p.add_argument("--json", default="", help="also write the figures here")
    ns = p.parse_args()
    with tempfile.TemporaryDirectory() as work:
        s = time.perf_counter()
        d = direct(ns.data, os.path.join(work, "direct"))
        direct_total = time.perf_counter() - s
        steps, total, ok = pipeline(ns.data, os.path.join(work, "pipeline"))
    print(f"{'step':<12}{'direct s':>10}{'pipeline s':>12}")
    for name in d:
        print(f"{name:<12}{d[name]:>10.1f}{steps.get(name, float('nan')):>12.1f}")
    print(f"{'total':<12}{direct_total:>10.1f}{total:>12.1f}")
    ratio = total / direct_total
    print(f"orchestration overhead: {ratio:.2f}x (target <= 1.5x); whole local pipeline {total:.0f}s (target < 240s)")
    print("pipeline succeeded:", ok)
    if ns.json:
        with open(ns.json, "w") as f:
            json.dump(
                {"direct": d, "direct_total": direct_total, "pipeline": steps, "pipeline_total": total, "ratio": ratio},
                f,
                indent=2,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
