"""The continuous-training loop of the drift demo, one scenario: serve, log, label late, monitor, retrain, roll out.

Day by day: the day's transactions go through the real model server (one request each; the prediction log is the
server's), the labels of the day ``label_delay`` days back arrive, :func:`monitor_day` judges the production model,
and when it says retrain (and no retraining was tried in the last ``cooldown_days``), the training pipeline runs
through kfp.local on the labelled rows of the last ``retrain_days`` days with the production model as baseline; the
candidate is rolled out (pushed, server restarted on it) only if blessed, otherwise production stays and the
reasons are recorded.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from components.datagen.fraud import LABEL
from components.datagen.stream import day_table
from components.monitor.decision import Thresholds
from pipelines.drift_demo import steps
from pipelines.drift_demo.monitor import DayReport, monitor_day
from pipelines.drift_demo.server import LocalModelServer

#: simulated day 0 (the log's partitions are the simulated days)
START = datetime(2026, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000


@dataclass
class Config:
    days: int = 30
    rows_per_day: int = 1000
    shift_day: int = 10
    label_delay: int = 2
    train_days: int = 5  # pre-shift history the first model is trained on
    retrain_days: int = 4  # labelled days a retraining uses
    cooldown_days: int = 3
    tau: float = 0.8
    max_psi: float = 0.25
    max_drift: float = 0.3  # L-inf / Jensen-Shannon vs the previous window (0.2 fires on 1,000-row noise)
    max_skew: float = 0.3  # vs the production model's training statistics
    monitor: str = "in-process"  # or "kfp": the monitoring pipeline through kfp.local every day (~1 min a day)
    change_threshold: float = 0.01  # largest AUC drop vs production a candidate may show and still be blessed
    epochs: int = 10
    seed: int = 0
    out: str = "runs/demo-drift"
    serving_python: str = ".venv-serving/bin/python"


@dataclass
class Event:
    day: int
    rolled_out: bool
    version: str
    trigger: list[str]
    outcome: list[str]
    rows: int = 0


@dataclass
class ScenarioResult:
    scenario: str
    config: Config
    reports: list[DayReport] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # version -> pushed model dir
    backfill: dict[int, tuple] = field(default_factory=dict)  # day -> (Quality, revision): labels after the end
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    root: str = ""


class _Clock:
    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    def __call__(self, phase: str, fn: Callable, *args, **kwargs):  # noqa: ANN204
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds[phase] += time.perf_counter() - t


@dataclass
class _State:
    version: str
    model_dir: str
    calibrator: object
    last_attempt: int = -(10**6)
    pending: dict[int, tuple[list[str], list[int]]] = field(default_factory=dict)


def _paths(cfg: Config, scenario: str) -> dict[str, str]:
    root = os.path.abspath(os.path.join(cfg.out, scenario))
    return {
        "root": root,
        "runs": os.path.join(root, "runs"),
        "data": os.path.join(root, "data"),
        "production": os.path.join(root, "production"),
        "log": os.path.join(root, "prediction-log"),
        "labels": os.path.join(root, "labels.csv"),
        "server_log": os.path.join(root, "model-server.log"),
        "monitoring": os.path.join(root, "monitoring"),
    }


def _first_model(cfg: Config, p: dict[str, str], clock: _Clock) -> _State:
    history = pd.concat(
        [day_table(d, cfg.rows_per_day, "none", seed=cfg.seed + 1) for d in range(cfg.train_days)], ignore_index=True
    )
    csv = os.path.join(p["data"], "initial.csv")
    os.makedirs(p["data"], exist_ok=True)
    history.to_csv(csv, index=False, lineterminator="\n")
    summary = clock("train", steps.train, p["runs"], csv, "", cfg.epochs, cfg.change_threshold)
    if not (summary.succeeded and summary.blessed):
        raise RuntimeError(f"the first model was not trained and blessed: {summary.error or summary.reasons}")
    model_dir = clock("deploy", steps.deploy, summary, p["production"], "v1")
    calibrator = clock("calibrate", steps.reference_calibrator, model_dir, summary.artifacts["ingest/examples"])
    return _State("v1", model_dir, calibrator)


def _send_day(cfg: Config, scenario: str, day: int, server: LocalModelServer, state: _State, clock: _Clock) -> None:
    table = day_table(day, cfg.rows_per_day, scenario, cfg.shift_day, cfg.seed)
    ids = [f"{scenario}-d{day:03d}-{i:05d}" for i in range(len(table))]
    start_us = int(START.timestamp() * 1e6) + day * DAY_US
    times = [start_us + i * DAY_US // len(table) for i in range(len(table))]
    rows = table.drop(columns=[LABEL]).to_dict("records")
    clock("traffic", server.send, ids, times, rows)
    state.pending[day] = (ids, table[LABEL].tolist())


def _wait_logged(log_uri: str, day: int, rows: int, timeout: float = 60.0) -> None:
    from components._shared.artifacts import prediction_log as plog

    start = START + timedelta(days=day)
    deadline = time.monotonic() + timeout
    while len(plog.read_window(log_uri, start, start + timedelta(days=1))) < rows:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the prediction log of day {day} holds fewer than {rows} rows after {timeout:.0f}s")
        time.sleep(0.3)


def _retrain(cfg: Config, p: dict[str, str], day: int, report: DayReport, state: _State, clock: _Clock) -> Event:
    """Train on the freshest labelled days with production as baseline; the candidate's fate as an Event."""
    last = day - cfg.label_delay  # the newest day with labels
    first = max(0, last - cfg.retrain_days + 1)
    version = f"v{len(os.listdir(p['production'])) + 1}"
    csv = os.path.join(p["data"], f"retrain-day{day:03d}.csv")
    rows = clock(
        "retrain-data", steps.labelled_csv, p["log"], p["labels"], START + timedelta(days=first), last - first + 1, csv
    )
    event = Event(day, False, state.version, list(report.decision.reasons), [], rows)
    summary = clock("train", steps.train, p["runs"], csv, state.model_dir, cfg.epochs, cfg.change_threshold)
    if not summary.succeeded:
        event.outcome = [f"training failed at {summary.failed_step}: {summary.error}"]
        return event
    if not summary.blessed:
        event.outcome = ["not blessed against production " + state.version + ": " + "; ".join(summary.reasons)]
        return event
    state.model_dir = clock("deploy", steps.deploy, summary, p["production"], version)
    state.calibrator = clock(
        "calibrate", steps.reference_calibrator, state.model_dir, summary.artifacts["ingest/examples"]
    )
    state.version = event.version = version
    event.rolled_out = True
    event.outcome = [
        f"blessed against the production model; rolled out as {version} (days {first}-{last}, {rows} rows)"
    ]
    return event


def _day(
    cfg: Config, scenario: str, day: int, p: dict, server: LocalModelServer, state: _State, res: ScenarioResult
) -> None:
    clock = _Clock(res.seconds)
    _send_day(cfg, scenario, day, server, state, clock)
    if day - cfg.label_delay in state.pending:  # ground truth arrives late
        steps.release_labels(p["labels"], *state.pending.pop(day - cfg.label_delay))
    clock("log-wait", _wait_logged, p["log"], day, cfg.rows_per_day)
    thresholds = Thresholds(
        tau=cfg.tau,
        max_psi=cfg.max_psi,
        max_drift=cfg.max_drift,
        max_skew=cfg.max_skew,
        min_labelled_rows=min(200, cfg.rows_per_day // 2),
    )
    report = clock(
        "monitor",
        monitor_day,
        p["log"],
        p["labels"],
        day,
        START + timedelta(days=day),
        cfg.label_delay,
        state.model_dir,
        state.version,
        state.calibrator,
        thresholds,
        p["monitoring"],
        cfg.monitor,
    )
    res.reports.append(report)
    if not report.decision.retrain:
        return
    if day - state.last_attempt < cfg.cooldown_days:
        report.decision.observations.append(f"retraining tried on day {state.last_attempt}: cooling down")
        return
    state.last_attempt = day
    event = _retrain(cfg, p, day, report, state, clock)
    res.events.append(event)
    res.versions[state.version] = state.model_dir
    if event.rolled_out:
        clock("serve-start", server.restart, state.model_dir, state.version)


def run_scenario(cfg: Config, scenario: str, progress: Callable[[str], None] = print) -> ScenarioResult:
    """Simulate ``cfg.days`` days of ``scenario`` (none, concept, covariate) through the whole loop."""
    p = _paths(cfg, scenario)
    shutil.rmtree(p["root"], ignore_errors=True)
    os.makedirs(p["production"], exist_ok=True)
    res = ScenarioResult(scenario, cfg, root=p["root"])
    clock = _Clock(res.seconds)
    progress(f"[{scenario}] training the first model on {cfg.train_days} pre-shift days (kfp.local) ...")
    state = _first_model(cfg, p, clock)
    res.versions["v1"] = state.model_dir
    server = LocalModelServer(cfg.serving_python, p["log"], p["server_log"])
    clock("serve-start", server.start, state.model_dir, state.version)
    try:
        for day in range(cfg.days):
            _day(cfg, scenario, day, p, server, state, res)
            r = res.reports[-1]
            progress(_progress_line(scenario, r, res.events[-1] if res.events and res.events[-1].day == day else None))
    finally:
        clock("serve-stop", server.stop)
    for day in sorted(state.pending):  # the labels that arrive after the last simulated day
        steps.release_labels(p["labels"], *state.pending.pop(day))
    from pipelines.drift_demo.monitor import realised_of_day

    res.backfill = {
        d: realised_of_day(p["log"], p["labels"], START + timedelta(days=d))
        for d in range(max(0, cfg.days - cfg.label_delay), cfg.days)
    }
    return res


def _progress_line(scenario: str, r: DayReport, event: Event | None) -> str:
    real = (
        f"realised(day {r.realised_day}) auc={r.realised.auc:.3f}" if r.realised and r.realised.auc else "realised: -"
    )
    est = f"est auc={r.estimated.auc:.3f}" if r.estimated.auc is not None else "est: -"
    line = f"[{scenario}] day {r.day:2d} {r.revision}: {est}  {real}  " + (
        "  drift={max_drift:.2f} skew={max_skew:.2f} psi={max_psi:.2f}".format(**r.data) if r.data else ""
    )
    if r.decision.retrain:
        line += "  -> RETRAIN: " + "; ".join(r.decision.reasons)
    if event is not None:
        line += f"\n[{scenario}]        {'ROLLED OUT ' + event.version if event.rolled_out else 'KEPT production'}: {'; '.join(event.outcome)}"
    return line
