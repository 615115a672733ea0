"""Run the kfx training pipeline on this machine with ``kfp.local`` and print a summary.

    python -m pipelines.run                        # synthetic card-fraud data, built-in module
    python -m pipelines.run --data trips.csv --module pipelines/modules/taxi.py --label tip_label
    python -m pipelines.run --baseline last        # compare against the last blessed run's model

Artifacts land under ``--root`` (default ``runs/``); ``runs/latest.json`` points at the last run.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

LATEST = "latest.json"
DEFAULT_MODULE = "pipelines.modules.fraud"
LAST_BLESSED = "last_blessed.json"


@dataclass
class RunSummary:
    """What a user wants to know after a run: where everything went and whether the model was blessed."""

    run_dir: str
    succeeded: bool
    failed_step: str | None = None
    error: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)
    anomaly_count: int | None = None
    slices: list[dict] = field(default_factory=list)
    blessed: bool | None = None
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def model_dir(self) -> str | None:
        return self.artifacts.get("train/model")

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["model_dir"] = self.model_dir
        return d


def _parse_kv(items: list[str], what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{what} must look like metric=value, got {item!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise SystemExit(f"{what} {item!r}: {value!r} is not a number") from None
    return out


def _collect_artifacts(run_dir: str) -> dict[str, str]:
    """task/output -> path for every artifact a local run wrote."""
    found: dict[str, str] = {}
    for task_dir in sorted(glob.glob(os.path.join(run_dir, "*"))):
        if not os.path.isdir(task_dir):
            continue
        for out in sorted(os.listdir(task_dir)):
            path = os.path.join(task_dir, out)
            if out != "executor_output.json" and (os.path.isdir(path) or os.path.isfile(path)):
                found[f"{os.path.basename(task_dir)}/{out}"] = path
    return found


def _read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def summarize(run_dir: str, succeeded: bool, error: str | None = None) -> RunSummary:
    """Build the summary of a finished (or failed) local run from its artifacts on disk."""
    from components._shared import artifacts as A

    summary = RunSummary(run_dir=run_dir, succeeded=succeeded, error=error)
    summary.artifacts = _collect_artifacts(run_dir)
    done = {key.split("/")[0] for key in summary.artifacts}
    report = _read_json(os.path.join(summary.artifacts.get("validate/anomalies", ""), A.REPORT_FILE))
    if isinstance(report, dict):
        summary.findings = list(report.get("findings", []))
        summary.anomaly_count = report.get("summary", {}).get("anomaly_count", len(summary.findings))
    slices = _read_json(os.path.join(summary.artifacts.get("evaluate/evaluation", ""), A.SLICES_FILE))
    if isinstance(slices, list):
        summary.slices = slices
    blessing = _read_json(os.path.join(summary.artifacts.get("evaluate/blessing", ""), A.BLESSING_FILE))
    if isinstance(blessing, dict):
        summary.blessed = bool(blessing.get("blessed"))
        summary.reasons = list(blessing.get("reasons", []))
    if not succeeded:
        from pipelines.training import STEPS

        # the failed step is the first step without its outputs completed
        for step in STEPS:
            if not os.path.exists(os.path.join(run_dir, step, "executor_output.json")):
                summary.failed_step = step if step in done or step == STEPS[0] else step
                break
    return summary


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def print_summary(summary: RunSummary, out=None) -> None:
    w = (out or sys.stdout).write
    w("\n" + "=" * 72 + "\n")
    status = "SUCCEEDED" if summary.succeeded else f"FAILED at step '{summary.failed_step}'"
    w(f"kfx training pipeline {status} in {summary.seconds:.0f}s\n")
    w(f"run directory: {summary.run_dir}\n")
    if summary.error:
        w(f"\n{summary.error}\n")
    if summary.anomaly_count is not None:
        w(f"\nData validation: {summary.anomaly_count} anomal{'y' if summary.anomaly_count == 1 else 'ies'}\n")
        for f in summary.findings[:20]:
            w(f"  - feature `{f.get('feature')}`: {f.get('kind')} — {f.get('description', '')}\n")
    if summary.slices:
        w("\nEvaluation (per slice):\n")
        for s in summary.slices[:25]:
            metrics = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(s.get("metrics", {}).items()))
            w(f"  {s.get('slice', 'Overall'):<32} {metrics}\n")
    if summary.blessed is not None:
        w(f"\nModel {'BLESSED' if summary.blessed else 'NOT BLESSED'}\n")
        for r in summary.reasons:
            w(f"  - {r}\n")
    if summary.artifacts:
        w("\nArtifacts:\n")
        for key, path in summary.artifacts.items():
            w(f"  {key:<36} {path}\n")
    w("=" * 72 + "\n")


def run_local(
    root: str,
    arguments: dict[str, Any],
) -> RunSummary:
    """Run ``training_pipeline`` with kfp.local's SubprocessRunner (no venv: this interpreter) under ``root``."""
    from kfp import local

    from pipelines.training import PIPELINE_NAME, training_pipeline

    pipeline_root = os.path.abspath(os.path.join(root, "pipeline_root"))
    os.makedirs(pipeline_root, exist_ok=True)
    # the component subprocesses import `components` / `pipelines` from this checkout
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (project, os.environ.get("PYTHONPATH")) if p)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=True)
    # kfp.local warns for every task whose image name lacks "python"; here the tasks run in this venv on purpose
    warnings.filterwarnings("ignore", message="You may be attemp", category=RuntimeWarning)

    before = set(glob.glob(os.path.join(pipeline_root, f"{PIPELINE_NAME}-*")))
    start = time.perf_counter()
    error = None
    from pipelines.zygote import warm_executable

    try:
        with warm_executable():  # steps fork from one process that imported TF & co. once
            training_pipeline(**arguments)
        succeeded = True
    except RuntimeError as e:
        succeeded, error = False, str(e)
    new = sorted(set(glob.glob(os.path.join(pipeline_root, f"{PIPELINE_NAME}-*"))) - before)
    run_dir = new[-1] if new else pipeline_root
    summary = summarize(run_dir, succeeded, error)
    summary.seconds = time.perf_counter() - start
    _record(root, summary)
    return summary


def _record(root: str, summary: RunSummary) -> None:
    with open(os.path.join(root, LATEST), "w") as f:
        json.dump(summary.to_json(), f, indent=2)
    if summary.succeeded and summary.blessed and summary.model_dir:
        with open(os.path.join(root, LAST_BLESSED), "w") as f:
            json.dump(summary.to_json(), f, indent=2)


def last_blessed_model(root: str) -> str | None:
    """Model directory of the last blessed local run under ``root`` (None if there is none)."""
    info = _read_json(os.path.join(root, LAST_BLESSED))
    return info.get("model_dir") if isinstance(info, dict) else None


def default_data(root: str, rows: int, seed: int, drift: bool) -> str:
    from components.datagen.fraud import write_csv

    path = os.path.abspath(os.path.join(root, "data", f"fraud-{rows}-{seed}{'-drift' if drift else ''}.csv"))
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_csv(path, n_rows=rows, seed=seed, drift=drift)
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipelines.run", description=__doc__.split("\n")[0])
    p.add_argument("--root", default="runs", help="where runs, data and the pipeline root go (default: runs/)")
    p.add_argument("--data", default="", help="CSV path or gfile URI; default: generated synthetic card-fraud data")
    p.add_argument("--rows", type=int, default=20000, help="rows of synthetic data when --data is not given")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")
    p.add_argument("--drift", action="store_true", help="generate a drifted synthetic batch")
    p.add_argument("--module", default=DEFAULT_MODULE, help="module file (path, URI or dotted name)")
    p.add_argument("--label", default="is_fraud", help="label key (as produced by preprocessing_fn)")
    p.add_argument(
        "--raw-label",
        default=None,
        help="raw column the label comes from, absent at serving (default: --label for the built-in module, else none)",
    )
    p.add_argument("--task", default="binary", choices=["binary", "multiclass", "regression"])
    p.add_argument("--num-classes", type=int, default=0)
    p.add_argument("--schema", default="", help="curated schema .pbtxt (default: infer from statistics)")
    p.add_argument("--slice", action="append", default=[], dest="slices", help="slice feature (repeatable)")
    p.add_argument("--threshold", action="append", default=[], help="metric=lower_bound (repeatable)")
    p.add_argument("--change-threshold", action="append", default=[], help="metric=max_drop vs baseline")
    p.add_argument("--baseline", default="", help="baseline model dir, or 'last' for the last blessed run")
    p.add_argument("--previous-statistics", default="", help="statistics artifact of a previous run (drift)")
    p.add_argument("--serving-statistics", default="", help="statistics of serving data (skew)")
    p.add_argument("--no-fail-on-anomalies", action="store_true", help="report anomalies but keep going")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--learning-rate", type=float, default=0.001)
    p.add_argument("--beam-arg", action="append", default=[], dest="beam_args", help="Beam pipeline option")
    return p


def arguments_from(ns: argparse.Namespace) -> dict[str, Any]:
    data = ns.data or default_data(ns.root, ns.rows, ns.seed, ns.drift)
    baseline = ns.baseline
    if baseline == "last":
        baseline = last_blessed_model(ns.root) or ""
        if not baseline:
            print("no blessed run yet under", ns.root, "- evaluating without a baseline", file=sys.stderr)
    slices = ns.slices
    if not ns.slices and ns.module == DEFAULT_MODULE:
        slices = ["channel"]
    return dict(
        data_uri=data,
        module_file=ns.module,
        label_key=ns.label,
        raw_label_key=ns.raw_label if ns.raw_label is not None else (ns.label if ns.module == DEFAULT_MODULE else ""),
        task=ns.task,
        num_classes=ns.num_classes,
        schema_uri=ns.schema,
        slice_features=slices,
        value_thresholds=_parse_kv(ns.threshold, "--threshold"),
        change_thresholds=_parse_kv(ns.change_threshold, "--change-threshold"),
        baseline_model_uri=os.path.abspath(baseline) if baseline and "://" not in baseline else baseline,
        previous_statistics_uri=ns.previous_statistics,
        serving_statistics_uri=ns.serving_statistics,
        fail_on_anomalies=not ns.no_fail_on_anomalies,
        epochs=ns.epochs,
        batch_size=ns.batch_size,
        learning_rate=ns.learning_rate,
        beam_pipeline_args=ns.beam_args,
    )


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    os.makedirs(ns.root, exist_ok=True)
    summary = run_local(ns.root, arguments_from(ns))
    print_summary(summary)
    return 0 if summary.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
