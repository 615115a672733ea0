"""Run the kfx training pipeline on this machine with ``kfp.local`` and print a summary.

    python -m pipelines.run                        # synthetic card-fraud data, built-in module
    python -m pipelines.run --data trips.csv --module pipelines/modules/taxi.py --label tip_label
    python -m pipelines.run --baseline last        # compare against the last blessed run's model
    python -m pipelines.run --help                 # every pipeline parameter, with its help text

Inputs are checked first (pipelines.preflight: under a second, no TensorFlow). The terminal shows one line
per step; the full log goes to ``<run directory>/kfx-run.log`` (pipelines.rundir). Artifacts land under
``--root`` (default ``runs/``); ``runs/latest.json`` points at the last run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, TextIO

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared.params import DEFAULT_MODULE
from pipelines import rundir
from pipelines.console import shorten
from pipelines.params import add_flags, cli_words, values_from

LATEST, LAST_BLESSED = rundir.LATEST, rundir.LAST_BLESSED


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
    baseline: str = ""
    seconds: float = 0.0
    log_file: str | None = None

    @property
    def model_dir(self) -> str | None:
        return self.artifacts.get("train/model")

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["model_dir"] = self.model_dir
        return d


def _read(reader: Any, artifact_dir: str | None) -> Any:
    """``reader(artifact_dir)``, or None when the artifact or its file is absent or unreadable."""
    if not artifact_dir:
        return None
    # a local run's artifacts are local files, read without TensorFlow; gfile's errors matter only if it is loaded
    tf = sys.modules.get("tensorflow")
    errors = (OSError, ValueError) + ((tf.errors.OpError,) if tf is not None else ())
    try:
        return reader(artifact_dir)
    except errors:  # absent or unreadable: the summary shows what it can
        return None


def _read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def summarize(run_dir: str, succeeded: bool, error: str | None = None, failed_step: str | None = None) -> RunSummary:
    """Build the summary of a finished (or failed) local run from its artifacts on disk."""
    from components._shared.artifacts import anomalies, evaluation

    summary = RunSummary(run_dir=run_dir, succeeded=succeeded, error=error)
    summary.artifacts = rundir.collect_artifacts(run_dir)
    report = _read(anomalies.read_report, summary.artifacts.get("validate/anomalies"))
    if isinstance(report, dict):
        summary.findings = list(report.get("findings", []))
        summary.anomaly_count = report.get("summary", {}).get("anomaly_count", len(summary.findings))
    slices = _read(evaluation.read_slices, summary.artifacts.get("evaluate/evaluation"))
    if isinstance(slices, list):
        summary.slices = slices
    blessing = rundir.output_artifacts(run_dir, "evaluate").get("blessing", {}).get("metadata", {})
    if "blessed" in blessing:  # the blessing artifact's KFP metadata (published only when evaluate succeeded)
        summary.blessed = bool(blessing["blessed"])
        summary.reasons = list(blessing.get("reasons") or [])
        summary.baseline = str(blessing.get("baseline") or "")
    if not succeeded:
        from pipelines.training import STEPS

        # kfp.local named it; otherwise the first step that did not publish its outputs (a failed task publishes none)
        summary.failed_step = failed_step or next((s for s in STEPS if not rundir.succeeded(run_dir, s)), None)
    return summary


#: the metrics a slice line shows (the report and evaluation.json have them all)
_SLICE_METRICS = (
    "example_count",
    "auc",
    "binary_accuracy",
    "precision",
    "recall",
    "sparse_categorical_accuracy",
    "root_mean_squared_error",
    "mean_absolute_error",
)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _finding_line(f: dict) -> str:
    """``- [eval split vs schema] feature `x`: KIND — description``: which split/comparison it comes from first."""
    from components.validate.findings import SOURCE_LABELS  # light: no TensorFlow

    where = SOURCE_LABELS.get(f.get("source") or "", f.get("source") or "?")
    first_sentence = (f.get("description") or "").split(". ")[0].replace(" (up to six significant digits)", "")
    return f"  - [{where}] `{f.get('feature')}`: {f.get('kind')} — {shorten(first_sentence, 110)}"


def print_summary(summary: RunSummary, out: TextIO | None = None, *, artifacts: bool = False) -> None:
    """The end-of-run summary: status, the failing step's error, anomalies (with their split), evaluation,
    blessing, where the log and the artifacts are. Advice is given in CLI flags."""
    w = (out or sys.stdout).write
    w("\n" + "=" * 72 + "\n")
    status = "SUCCEEDED" if summary.succeeded else f"FAILED at step '{summary.failed_step}'"
    w(f"kfx training pipeline {status} in {summary.seconds:.0f}s\n")
    if summary.error:  # head (what failed) and tail (what to do); the findings follow, the log has it all
        w(f"\n{shorten(cli_words(summary.error), 240 if summary.findings else 1200)}\n")
    if summary.anomaly_count is not None:
        w(f"\nData validation: {summary.anomaly_count} anomal{'y' if summary.anomaly_count == 1 else 'ies'}\n")
        for f in summary.findings[:12]:
            w(_finding_line(f) + "\n")
        if len(summary.findings) > 12:
            w(f"  ... {len(summary.findings) - 12} more in {summary.artifacts.get('validate/report', 'the report')}\n")
    if summary.slices:
        w("\nEvaluation (per slice; all metrics in the evaluate report):\n")
        for s in summary.slices[:12]:
            shown = {k: v for k, v in s.get("metrics", {}).items() if k in _SLICE_METRICS}
            metrics = ", ".join(f"{k}={_fmt(shown[k])}" for k in _SLICE_METRICS if k in shown)
            w(f"  {s.get('slice', 'Overall'):<24} {metrics}\n")
    if summary.blessed is not None:
        against = f" (compared with the baseline {summary.baseline})" if summary.baseline else ""
        w(f"\nModel {'BLESSED' if summary.blessed else 'NOT BLESSED'}{against}\n")
        for r in summary.reasons:
            w(f"  - {cli_words(r)}\n")
    if artifacts and summary.artifacts:
        w("\nArtifacts:\n")
        for key, path in summary.artifacts.items():
            w(f"  {key:<36} {path}\n")
    w(f"\nrun directory: {summary.run_dir}\n")
    if summary.model_dir:
        w(f"model:         {summary.model_dir}\n")
    if summary.log_file:
        w(f"full log:      {summary.log_file}\n")
    w("=" * 72 + "\n")


def init_kfp_local(root: str) -> str:
    """Set up kfp.local for a run under ``root`` (SubprocessRunner, no venv: this interpreter); returns the pipeline
    root. The step subprocesses import ``components`` / ``pipelines`` from this checkout (PYTHONPATH)."""
    from kfp import local

    pipeline_root = rundir.pipeline_root(root)
    os.makedirs(pipeline_root, exist_ok=True)
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if project not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (project, os.environ.get("PYTHONPATH")) if p)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=True)
    # kfp.local warns for every task whose image name lacks "python"; here the tasks run in this venv on purpose
    warnings.filterwarnings("ignore", message="You may be attemp", category=RuntimeWarning)
    return pipeline_root


def run_local(root: str, arguments: dict[str, Any], progress: TextIO | None = None) -> RunSummary:
    """Run ``training_pipeline`` with kfp.local's SubprocessRunner (no venv: this interpreter) under ``root``.

    All output (TF, Beam, kfp.local, the steps) goes to ``<run dir>/kfx-run.log``; ``progress`` (e.g. the
    terminal) gets one line per step."""
    from pipelines.console import StepWatcher, captured, plain
    from pipelines.zygote import warm_executable

    pipeline_root = rundir.pipeline_root(root)
    os.makedirs(pipeline_root, exist_ok=True)  # the partial log below goes to root before kfp.local is set up
    listed: dict[str, Any] = {}  # the pipeline's name and its run directories before this run (set below)
    watcher = StepWatcher(progress, lambda: rundir.newest_since(pipeline_root, **listed) if listed else None, cli_words)
    partial_log = os.path.join(os.path.abspath(root), f".{rundir.LOG_FILE}.{os.getpid()}")
    start = time.perf_counter()
    error = None
    # the zygote (TensorFlow & co., the first step's wait) starts loading first; kfp and the pipeline load meanwhile
    with captured(partial_log, watcher) as terminal, warm_executable() as warm:
        from pipelines.training import PIPELINE_NAME, training_pipeline

        init_kfp_local(root)
        before = rundir.run_dirs(pipeline_root, PIPELINE_NAME)
        listed.update(pipeline_name=PIPELINE_NAME, before=before)
        if progress in (sys.stdout, sys.__stdout__):
            watcher.out = terminal  # fd 1 goes to the log now; the terminal is a saved copy of it
        watcher.first_note = "includes loading TensorFlow once for all steps" if warm else ""
        try:
            training_pipeline(**arguments)  # steps fork from one warm process that imported TF & co. once
            succeeded = True
        except RuntimeError as e:
            succeeded, error = False, plain(str(e))
        run_dir = rundir.newest_since(pipeline_root, PIPELINE_NAME, before) or pipeline_root
        watcher.drain()  # the log reader runs in its own thread: let it catch up before asking what failed
        failed = watcher.failed
        if failed is not None and failed.error:
            error = f"step '{failed.name}' failed: {failed.error}"
        # reads the artifacts' JSON files directly: this process never imports TensorFlow (the steps do, in the zygote)
        summary = summarize(run_dir, succeeded, error, failed.name if failed else None)
    summary.seconds = time.perf_counter() - start
    summary.log_file = rundir.log_file(run_dir) if run_dir != pipeline_root else partial_log
    shutil.move(partial_log, summary.log_file)
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
    """The run's own flags (where, which sample data) plus one flag per pipeline parameter (TrainingParams)."""
    p = argparse.ArgumentParser(
        prog="python -m pipelines.run",
        description=__doc__.split("\n")[0],
    )
    run = p.add_argument_group("local run")
    run.add_argument("--root", default="runs", help="where runs, data and the pipeline root go (default: runs)")
    run.add_argument(
        "--rows", type=int, default=20000, help="rows of synthetic data when --data is not given (default: 20000)"
    )
    run.add_argument("--seed", type=int, default=7, help="seed of the synthetic data (default: 7)")
    run.add_argument("--drift", action="store_true", help="generate a drifted synthetic batch")
    run.add_argument("--artifacts", action="store_true", help="list every artifact path in the summary")
    add_flags(p)
    return p


def arguments_from(ns: argparse.Namespace) -> dict[str, Any]:
    """Pipeline arguments from parsed flags, with the local conveniences (sample data, ``--baseline last``)."""
    try:
        values = values_from(ns)
    except ValueError as e:
        raise SystemExit(f"python -m pipelines.run: {e}") from None
    values["data_uri"] = ns.data_uri or default_data(ns.root, ns.rows, ns.seed, ns.drift)
    baseline = values["baseline_model_uri"]
    if baseline == "last":
        baseline = last_blessed_model(ns.root) or ""
        if not baseline:
            print("no blessed run yet under", ns.root, "- evaluating without a baseline", file=sys.stderr)
    values["baseline_model_uri"] = os.path.abspath(baseline) if baseline and "://" not in baseline else baseline
    if not values["slice_features"] and values["module_file"] == DEFAULT_MODULE:
        values["slice_features"] = ["channel"]
    if values["raw_label_key"] is None:
        values["raw_label_key"] = _label_column(values["data_uri"], values["label_key"])
    return values


def _label_column(data_uri: str, label_key: str) -> str:
    """The raw label column when --raw-label is not given: the label key if the data has that column."""
    from pipelines.preflight import read_header

    if "://" in data_uri:
        return label_key
    try:
        return label_key if label_key in read_header(data_uri) else ""
    except (OSError, ValueError):
        return ""  # preflight reports the unreadable file


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    os.makedirs(ns.root, exist_ok=True)
    arguments = arguments_from(ns)
    from pipelines.preflight import check_inputs

    found = check_inputs(arguments)
    for note in found.notes:
        print("note:", cli_words(note), file=sys.stderr)
    if found.problems:
        print("kfx: the run was not started; fix these inputs first:", file=sys.stderr)
        for problem in found.problems:
            print("  -", cli_words(problem), file=sys.stderr)
        return 2
    print(f"kfx training pipeline: {arguments['data_uri']} · {arguments['module_file']} · task {arguments['task']}")
    summary = run_local(ns.root, arguments, progress=sys.stdout)
    print_summary(summary, artifacts=ns.artifacts)
    return 0 if summary.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
