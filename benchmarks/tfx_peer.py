"""kfx against TFX itself: the canonical TFX taxi pipeline and kfx's local pipeline on the same data, same run.

    make bench-tfx                                           # installs .venv-tfx (TFX 1.16.0) and runs this
    .venv/bin/python benchmarks/tfx_peer.py --tfx-python .venv-tfx/bin/python --sizes 15k,150k --reps 3

Both sides: kfx's taxi features and model (``pipelines/modules/taxi.py``; for TFX wrapped by
``benchmarks/tfx_taxi_module.py``), label ``big_tipper`` (tips > 20% of the fare), 5 epochs, batch 256, Adam 1e-3,
an 80/20 hash split, evaluation overall and by ``payment_type``. TFX: CsvExampleGen -> StatisticsGen -> SchemaGen ->
ExampleValidator -> Transform -> Trainer -> Evaluator (with the latest-blessed-model resolver) -> Pusher on
LocalDagRunner (``benchmarks/_tfx_pipeline.py``, run by the TFX venv's interpreter). kfx: ``python -m pipelines.run``
(kfp.local, the curated taxi schema). Each is timed from process start (imports included, as a user waits for
them), ``--reps`` times, alternating; peak RSS is the largest process of the run (``os.wait4``).

Data: 15k = the taxi sample itself (``../shared/data/chicago_taxi/data.csv``); larger sizes are the resampled,
noised taxi table of ``benchmarks/scale.py`` (cached under ``.bench/``). Before the ratio is printed both pipelines
must have succeeded and reached a comparable AUC (within ``--auc-tolerance``). Target: kfx >= 4x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != HERE]
from benchmarks._steps import ROOT, TAXI_CSV, TAXI_MODULE, TAXI_SCHEMA, median, summary  # noqa: E402
from benchmarks.scale import label, make_taxi, parse_size  # noqa: E402

CACHE = os.path.join(ROOT, ".bench")
TARGET = 4.0
KFX_STEPS = ("ingest", "statistics", "schema", "validate", "transform", "train", "evaluate")


def run_process(argv: list[str], env: dict[str, str], log: str, timeout: float) -> tuple[float, float, str]:
    """Run ``argv`` to completion: (wall seconds from start, peak RSS MB of its largest process, stdout).

    ``os.wait4`` gives the child's own rusage, whose ``ru_maxrss`` on Linux is the largest resident set of the child
    and of every descendant it waited for (kfp.local's task processes, TFX's Beam workers).
    """
    import threading

    out_path = log + ".out"
    start = time.perf_counter()
    with open(log, "w") as err, open(out_path, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True, cwd=ROOT, env=env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        with open(log) as f:
            tail = "".join(f.readlines()[-30:])
        raise RuntimeError(f"{argv[:3]} failed (exit {proc.returncode}); log {log}:\n{tail}")
    with open(out_path) as f:
        return seconds, usage.ru_maxrss / 1024, f.read()


def run_kfx(csv: str, work: str) -> dict[str, object]:
    root = os.path.join(work, "kfx")
    argv = [
        sys.executable, "-m", "pipelines.run", "--root", root, "--data", csv, "--module", TAXI_MODULE,
        "--label", "big_tipper", "--raw-label", "tips", "--schema", TAXI_SCHEMA, "--slice", "payment_type",
        "--epochs", "5",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=ROOT)
    start = time.time()
    seconds, rss, _ = run_process(argv, env, os.path.join(work, "kfx.log"), timeout=3600)
    from pipelines import rundir

    with open(os.path.join(root, rundir.LATEST)) as f:
        s = json.load(f)
    overall = next(x for x in s["slices"] if x.get("slice") == "Overall")
    steps, prev = {}, start
    for name in KFX_STEPS:
        marker = rundir.outputs_file(s["run_dir"], name)
        if os.path.exists(marker):
            end = os.path.getmtime(marker)
            steps[name] = round(end - prev, 1)
            prev = end
    ok = bool(s["succeeded"]) and s.get("blessed") is not None
    return {"seconds": seconds, "rss_mb": rss, "auc": overall["metrics"]["auc"], "steps": steps, "ok": ok}


def tfx_csv(csv: str, dest: str) -> None:
    """``csv`` where TFX's CsvExampleGen reads it. CsvExampleGen keeps the quotes of a quoted header in its column
    names (``"trip_miles"``), and the resampled tables (pyarrow's CSV writer) quote theirs: those get a copy with a
    plain header line (same rows, same values); the taxi sample is linked as it is."""
    with open(csv) as f:
        header = f.readline()
        if '"' not in header:
            os.symlink(os.path.abspath(csv), dest)
            return
        with open(dest, "w") as out:
            out.write(",".join(name.strip().strip('"') for name in header.split(",")) + "\n")
            shutil.copyfileobj(f, out, 16 << 20)


def run_tfx(csv: str, work: str, tfx_python: str, rows: int) -> dict[str, object]:
    data_dir = os.path.join(work, "tfx_data")
    os.makedirs(data_dir, exist_ok=True)
    tfx_csv(csv, os.path.join(data_dir, "data.csv"))
    start = time.time()
    spec = {
        "data_dir": data_dir,
        "work": os.path.join(work, "tfx"),
        "rows": rows,
        "epochs": 5,
        "module_file": os.path.join(HERE, "tfx_taxi_module.py"),
        "start": start,
    }
    env = dict(os.environ, KFX_TAXI_MODULE=TAXI_MODULE, KFX_TFX_EPOCHS="5", TF_CPP_MIN_LOG_LEVEL="2")
    env["TF_USE_LEGACY_KERAS"] = "1"  # kfx's model is tf.keras 2 (tf-keras), as kfx runs it
    env.pop("PYTHONPATH", None)
    argv = [tfx_python, os.path.join(HERE, "_tfx_pipeline.py"), json.dumps(spec)]
    seconds, rss, out = run_process(argv, env, os.path.join(work, "tfx.log"), timeout=7200)
    line = next(x for x in reversed(out.splitlines()) if x.startswith("BENCH_RESULT "))
    r = json.loads(line[len("BENCH_RESULT ") :])
    ok = r["pushed"] or r["blessed"] is not None
    return {
        "seconds": seconds,
        "rss_mb": rss,
        "auc": r["auc"],
        "steps": r["steps"],
        "import": r["import_seconds"],
        "ok": ok,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tfx-python", default=os.path.join(ROOT, ".venv-tfx", "bin", "python"))
    p.add_argument("--sizes", default="15k,150k")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--auc-tolerance", type=float, default=0.03)
    p.add_argument("--json", default="")
    ns = p.parse_args(argv)
    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start, {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    report, failures = {}, []
    for size in ns.sizes.split(","):
        rows = parse_size(size)
        csv = TAXI_CSV if rows == 15_000 else make_taxi(rows)
        runs: dict[str, list] = {"kfx": [], "tfx": []}
        for rep in range(ns.reps):
            work = os.path.join(CACHE, f"tfx_peer_{label(rows)}")
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            runs["kfx"].append(run_kfx(csv, work))
            runs["tfx"].append(run_tfx(csv, work, ns.tfx_python, rows))
            k, t = runs["kfx"][-1], runs["tfx"][-1]
            print(
                f"{label(rows)} rep {rep + 1}/{ns.reps}: kfx {k['seconds']:.1f}s (AUC {k['auc']:.3f}) "
                f"TFX {t['seconds']:.1f}s (AUC {t['auc']:.3f}, import {t['import']:.1f}s)",
                flush=True,
            )
            shutil.rmtree(work, ignore_errors=True)
        kfx_s, tfx_s = [r["seconds"] for r in runs["kfx"]], [r["seconds"] for r in runs["tfx"]]
        kfx_auc, tfx_auc = median([r["auc"] for r in runs["kfx"]]), median([r["auc"] for r in runs["tfx"]])
        ok = all(r["ok"] for rs in runs.values() for r in rs)
        comparable = abs(kfx_auc - tfx_auc) <= ns.auc_tolerance
        print(f"\n== {label(rows)} rows ({csv})")
        print(f"{'':<6}{'seconds: median (min-max)':>28}{'AUC':>8}{'peak RSS MB':>13}")
        for name, secs, auc in (("kfx", kfx_s, kfx_auc), ("TFX", tfx_s, tfx_auc)):
            rs = runs[name.lower()]
            rss = max(r["rss_mb"] for r in rs)
            print(f"{name:<6}{summary(secs):>28}{auc:>8.3f}{rss:>13.0f}   steps (last rep): {rs[-1]['steps']}")
        if not ok or not comparable:
            failures.append(f"{label(rows)}: succeeded={ok} AUC kfx {kfx_auc:.3f} vs TFX {tfx_auc:.3f}")
            print("NO RATIO: " + failures[-1])
        else:
            ratio = median(tfx_s) / median(kfx_s)
            verdict = "met" if ratio >= TARGET else "NOT met"
            print(f"kfx is {ratio:.2f}x faster than TFX (target >= {TARGET}x: {verdict}); AUC comparable")
        report[label(rows)] = {"kfx": runs["kfx"], "tfx": runs["tfx"]}
    if ns.json:
        with open(ns.json, "w") as f:
            json.dump(report, f, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
