"""Run the monitoring pipeline on this machine (kfp.local), and retrain locally when it says so.

From Python (the demo driver, tests)::

    from pipelines.monitoring_local import run_monitoring, retrain_locally

    run = run_monitoring(
        root="runs",                          # kfp.local's pipeline root goes under <root>/
        log_uri="runs/prediction-log",        # the model server's --prediction-log folder
        model_uri="runs/.../train/model",     # the production model directory (no InferenceService locally)
        window_start="2026-11-20T00:00:00Z",  # [start, end) UTC; end "" = now, start "" = window_hours before end
        window_end="2026-11-21T00:00:00Z",
        labels_uri="runs/labels.csv",         # optional: request_id,label rows that have arrived
        tau=0.8,                              # any other monitoring_pipeline parameter, by name
    )
    run.decision          # decision.json as a dict: {"retrain": bool, "reasons": [...], "quality": ..., "data": ...}
    run.decision_dir      # the decision artifact; run.report: the HTML report; run.run_dir: the kfp.local run

    summary = retrain_locally(run.decision_dir, root="runs", data_uri="fresh.csv", baseline_model_uri=model_uri)
    # None when the decision says no retraining; else the training pipeline's RunSummary (pipelines.run):
    # summary.blessed says whether the new model beat the production model (the baseline) on the fresh data.

For long simulations, :func:`monitor_in_process` runs the same steps' logic in this process (seconds per window
instead of kfp.local's subprocesses) and returns the same ``MonitoringRun``.

Every keyword of ``run_monitoring`` besides ``root`` is a parameter of ``pipelines.monitoring.monitoring_pipeline``;
``retrain_locally``'s keywords are training pipeline parameters (``python -m pipelines.run --help``).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from dataclasses import dataclass, field
from typing import Any

from pipelines import rundir


@dataclass
class MonitoringRun:
    """What a local monitoring run produced (paths are local)."""

    run_dir: str
    succeeded: bool
    error: str = ""
    failed_step: str = ""
    decision: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def decision_dir(self) -> str:
        return self.artifacts.get("monitor-decide/decision", "")

    @property
    def report(self) -> str:
        return self.artifacts.get("monitor-decide/report", "")

    @property
    def retrain(self) -> bool:
        return bool(self.decision.get("retrain"))


def _absolute(value: Any) -> Any:
    return os.path.abspath(value) if isinstance(value, str) and value and "://" not in value else value


def run_monitoring(root: str, **arguments: Any) -> MonitoringRun:
    """Run ``monitoring_pipeline(**arguments)`` with kfp.local (SubprocessRunner, this interpreter) under ``root``.

    Steps fork from one warm process (pipelines.zygote), as ``python -m pipelines.run`` does. A failed step does not
    raise: ``succeeded`` is False and ``error`` says why; what earlier steps published is in ``artifacts``."""
    from pipelines.console import plain
    from pipelines.monitoring import PIPELINE_NAME, STEPS, monitoring_pipeline
    from pipelines.run import init_kfp_local
    from pipelines.zygote import warm_executable

    inputs = monitoring_pipeline.component_spec.inputs
    unknown = sorted(set(arguments) - set(inputs))
    if unknown:
        raise TypeError(f"run_monitoring: not monitoring_pipeline parameters: {', '.join(unknown)}")
    for key, value in arguments.items():
        if key.endswith("_uri"):
            arguments[key] = _absolute(value)
        elif inputs[key].type == "Float" and isinstance(value, int) and not isinstance(value, bool):
            arguments[key] = float(value)  # kfp.local checks types strictly: 24 is not a Float
    pipeline_root = init_kfp_local(root)
    before = rundir.run_dirs(pipeline_root, PIPELINE_NAME)
    error = ""
    with warm_executable():
        try:
            monitoring_pipeline(**arguments)
        except RuntimeError as e:
            error = plain(str(e))
    run_dir = rundir.newest_since(pipeline_root, PIPELINE_NAME, before) or pipeline_root
    run = MonitoringRun(run_dir, not error, error, artifacts=rundir.collect_artifacts(run_dir))
    if error:  # the step's own message is in the run's output above; a failed task publishes nothing
        run.failed_step = next((s for s in STEPS if not rundir.succeeded(run_dir, s)), "")
    if run.decision_dir:
        from components._shared.artifacts.decision import read_decision

        run.decision = read_decision(run.decision_dir)
    return run


def monitor_in_process(out_dir: str, **arguments: Any) -> MonitoringRun:
    """The monitoring steps' logic in this process, as each step's wrapper calls it (no kfp.local, no retrain step):
    for long simulations, e.g. a daily run over 30 simulated days. Takes the parameters of ``monitoring_pipeline``
    (the retrain ones are ignored); writes ``statistics/``, ``anomalies/``, ``decision/`` under ``out_dir``. Gives the
    same decision as :func:`run_monitoring` (tests/local/test_monitoring_local.py compares them)."""
    from components._shared.artifacts.decision import html_path, read_decision
    from components.monitor.checks import check_data
    from components.monitor.decision import Thresholds
    from components.monitor.log_statistics import window_statistics
    from components.monitor.logic import decide_window
    from components.monitor.served import find_model
    from pipelines.monitoring import monitoring_pipeline

    a = {k: p.default for k, p in inspect.signature(monitoring_pipeline.pipeline_func).parameters.items()}
    unknown = sorted(set(arguments) - set(a))
    if unknown:
        raise TypeError(f"monitor_in_process: not monitoring_pipeline parameters: {', '.join(unknown)}")
    a.update({k: _absolute(v) if k.endswith("_uri") else v for k, v in arguments.items()})
    limits = Thresholds(**{f.name: a[f.name] for f in dataclasses.fields(Thresholds)})
    paths = {name: os.path.join(out_dir, name) for name in ("statistics", "anomalies", "decision")}
    served = find_model(a["model_uri"], a["model_name"], a["namespace"])
    window = window_statistics(a["log_uri"], served.uri, paths["statistics"], a["window_start"], a["window_end"],
                               a["window_hours"], a["previous_statistics_uri"])  # fmt: skip
    check_data(paths["statistics"], served.uri, paths["anomalies"], limits)
    start, end = window.span.as_dict().values()
    decide_window(a["log_uri"], start, end, paths["anomalies"], paths["decision"], limits, a["labels_uri"],
                  list(a["slice_features"] or []), a["decision_threshold"], a["calibration_hours"],
                  a["labels_lookback_hours"], {"uri": served.uri, "source": served.source,
                                               "revision": served.revision})  # fmt: skip
    artifacts = {"monitor-decide/decision": paths["decision"], "monitor-checks/anomalies": paths["anomalies"],
                 "monitor-statistics/statistics": paths["statistics"],
                 "monitor-decide/report": html_path(paths["decision"])}  # fmt: skip
    return MonitoringRun(out_dir, True, decision=read_decision(paths["decision"]), artifacts=artifacts)


def retrain_locally(decision_dir: str, root: str = "runs", **arguments: Any) -> Any:
    """Start the training pipeline through kfp.local when the decision at ``decision_dir`` says retrain.

    ``arguments``: training pipeline parameters (``data_uri`` = the fresh data; ``baseline_model_uri`` = the
    production model, so the new model is blessed only if it beats it). The defaults are those of
    ``python -m pipelines.run``. Returns None (and trains nothing) when the decision says no retraining, else the
    run's ``pipelines.run.RunSummary``."""
    from components._shared.artifacts.decision import read_decision
    from pipelines.run import arguments_from, build_parser, run_local

    decision = read_decision(decision_dir)
    if not decision.get("retrain"):
        return None
    data = ["--data", _absolute(arguments["data_uri"])] if arguments.get("data_uri") else []
    values = arguments_from(build_parser().parse_args(["--root", root, *data]))
    values.update({k: _absolute(v) if k.endswith("_uri") else v for k, v in arguments.items()})
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "retrain-decision.json"), "w") as f:
        json.dump({"decision": decision_dir, "reasons": decision.get("reasons", [])}, f, indent=2)
    return run_local(root, values)
