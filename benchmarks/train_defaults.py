"""Training defaults benchmark: the old defaults (5 epochs, batch 256) vs kfx's defaults (early stopping on the
eval loss, at most 50 epochs, batch bounded by the data size) on the shipped modules.

Data: 20,000 generated fraud rows (``pipelines/modules/fraud.py``, build_model) and the Chicago taxi table
(``pipelines/modules/taxi.py``, run_fn); 267 penguin rows (``pipelines/modules/penguins_species.py``, multiclass).
Ingest, statistics, schema and transform run once per table; each training runs in its own process
(``--reps`` times, default 3). Prints the median and spread of the train time, peak RSS, epochs run and the eval
AUC (binary) / accuracy (multiclass) of each configuration, and the ratios of the new defaults to the old ones.

    .venv/bin/python benchmarks/train_defaults.py [--reps 3] [--tables fraud,taxi,penguins]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TAXI = os.path.join(os.path.dirname(ROOT), "shared", "data", "chicago_taxi", "data.csv")
TABLES = {  # name: (module, label_key, raw_label_key, task)
    "fraud": ("fraud.py", "is_fraud", "is_fraud", "binary"),
    "taxi": ("taxi.py", "big_tipper", "tips", "binary"),
    "penguins": ("penguins_species.py", "species_id", "species", "multiclass"),
}
CONFIGS = {
    "old defaults": {"epochs": 5, "batch_size": 256, "early_stopping": False, "bound": False},
    "kfx defaults": {},
}


def median(values) -> float:
    """(benchmarks/statistics.py shadows the stdlib module of that name for scripts run from this folder)"""
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def prepare(name: str, work: str) -> dict[str, str]:
    sys.path.insert(0, ROOT)
    import components  # noqa: F401
    from components.ingest.logic import ingest_csv
    from components.schema.logic import make_schema
    from components.statistics.logic import compute_statistics
    from components.transform.logic import run_transform

    root = os.path.join(work, name)
    if name == "fraud":
        from components.datagen import fraud

        csv = fraud.write_csv(os.path.join(root, "fraud.csv"), 20_000, seed=0)
    elif name == "penguins":
        from tests.testdata.penguins import write_csv

        csv = write_csv(os.path.join(root, "penguins.csv"), 267, seed=0)
    else:
        csv = TAXI
    d = {k: os.path.join(root, k) for k in ("examples", "statistics", "schema", "tg", "te")}
    ingest_csv(csv, d["examples"])
    compute_statistics(d["examples"], d["statistics"])
    make_schema(d["statistics"], d["schema"])
    module = os.path.join(ROOT, "pipelines", "modules", TABLES[name][0])
    run_transform(d["examples"], d["schema"], module, d["tg"], d["te"], statistics_dir=d["statistics"])
    return d


def train_once(name: str, dirs: dict, config: dict, model_dir: str) -> dict:
    """One training (in this process: the child), returns time, RSS, epochs and the eval quality metric."""
    import resource
    import time

    sys.path.insert(0, ROOT)
    import components  # noqa: F401
    from components.train import fit as fit_module
    from components.train.logic import run_training

    if config.get("bound") is False:  # the old defaults: no batch bound
        fit_module.effective_batch_size = lambda batch_size, train_rows: batch_size
        import components.train.logic as logic

        logic.effective_batch_size = fit_module.effective_batch_size
    module_name, label, raw_label, task = TABLES[name]
    kwargs = {k: config[k] for k in ("epochs", "batch_size") if k in config}
    if config.get("early_stopping") is False:  # the old defaults: a fixed number of epochs
        import tensorflow as tf

        fit_module.callbacks = lambda args: [tf.keras.callbacks.TensorBoard(log_dir=args.log_dir)]
    start = time.perf_counter()
    result = run_training(
        dirs["te"], dirs["tg"], os.path.join(ROOT, "pipelines", "modules", module_name), model_dir,
        label_key=label, task=task, raw_label_key=raw_label, **kwargs,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    quality = result.metrics.get("auc", result.metrics.get("accuracy"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rss_mb": rss, "epochs": result.epochs_run, "quality": quality}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--tables", default="fraud,taxi,penguins")
    p.add_argument("--child", default="", help=argparse.SUPPRESS)
    ns = p.parse_args()
    if ns.child:
        job = json.loads(ns.child)
        print("RESULT " + json.dumps(train_once(job["name"], job["dirs"], job["config"], job["model_dir"])))
        return 0
    work = tempfile.mkdtemp(prefix="kfx_bench_train_")
    for name in ns.tables.split(","):
        dirs = prepare(name, work)
        rows = {}
        for label, config in CONFIGS.items():
            runs = []
            for rep in range(ns.reps):
                job = {"name": name, "dirs": dirs, "config": config, "model_dir": os.path.join(work, f"{name}-{rep}")}
                out = subprocess.run(
                    [sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True, check=True
                ).stdout
                runs.append(json.loads(out.split("RESULT ", 1)[1]))
            secs = [r["seconds"] for r in runs]
            rows[label] = {
                "median_s": median(secs),
                "spread_s": max(secs) - min(secs),
                "peak_rss_mb": max(r["rss_mb"] for r in runs),
                "epochs": [r["epochs"] for r in runs],
                "quality": median(r["quality"] for r in runs),
            }
            r = rows[label]
            print(
                f"{name:9s} {label:13s} train {r['median_s']:6.1f} s (spread {r['spread_s']:.1f}) "
                f"peak RSS {r['peak_rss_mb']:.0f} MB epochs {r['epochs']} "
                f"{'AUC' if TABLES[name][3] == 'binary' else 'accuracy'} {r['quality']:.4f}",
                flush=True,
            )
        old, new = rows["old defaults"], rows["kfx defaults"]
        print(
            f"{name:9s} ratio kfx/old: time {new['median_s'] / old['median_s']:.2f}x, "
            f"quality {new['quality'] - old['quality']:+.4f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
