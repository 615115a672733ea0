"""The retraining trigger: when the decision says retrain, submit the training-and-deploy pipeline to KFP.

kfp 2.13's local runner has no ``dsl.If``, so the trigger step always runs and reads the decision itself: with
``retrain`` false it does nothing and says so. With ``retrain`` true it submits a run of the compiled, versioned
pipeline that ``kfx upload`` put on the host (by pipeline name, and version name or else the newest version),
with the given arguments for fresh data, through the real ``kfp.Client`` (host check and credentials:
``pipelines.cli.connect``; in a pipeline pod the ServiceAccount token KFP mounts).

Arguments may name the window: ``{window_start}``, ``{window_end}`` (ISO-8601) and ``{window_end_date}``
(YYYY-MM-DD) in a string value are replaced, e.g. ``data_uri: s3://bucket/labelled/{window_end_date}.csv``.

Off a cluster (no host given, no ``KFX_KFP_HOST``, not in a pod) nothing can be submitted: the step reports it and
the local driver starts training with ``pipelines.monitoring_local.retrain_locally`` instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from components._shared.artifacts.decision import read_decision
from components._shared.log import get_logger

log = get_logger("monitor")

#: The KFP API inside a Kubeflow cluster (the ml-pipeline service of a standard install).
IN_CLUSTER_HOST = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
DEFAULT_PIPELINE = "kfx-train-and-deploy"


class RetrainError(RuntimeError):
    """The training pipeline could not be submitted (not uploaded, unknown version, host refused)."""


@dataclass
class TriggerResult:
    submitted: bool
    message: str
    run_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def fill_arguments(arguments: dict[str, Any], window: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` with ``{window_start}``, ``{window_end}``, ``{window_end_date}`` replaced in string values."""
    names = {"{window_start}": window.get("start", ""), "{window_end}": window.get("end", ""),
             "{window_end_date}": str(window.get("end", ""))[:10]}  # fmt: skip
    out = {}
    for key, value in arguments.items():
        if isinstance(value, str):
            for name, text in names.items():
                value = value.replace(name, str(text))
        out[key] = value
    return out


def resolve_host(host: str) -> str:
    """``host``, else ``$KFX_KFP_HOST``, else the in-cluster KFP API when running in a pod, else ""."""
    if host:
        return host
    if os.environ.get("KFX_KFP_HOST"):
        return os.environ["KFX_KFP_HOST"]
    return IN_CLUSTER_HOST if os.environ.get("KUBERNETES_SERVICE_HOST") else ""


def submit(client: Any, pipeline: str, version: str, arguments: dict[str, Any], experiment: str, run_name: str) -> dict:
    """Start a run of ``pipeline`` (version ``version``, else the newest) on the host ``client`` talks to."""
    pipeline_id = client.get_pipeline_id(pipeline)
    if pipeline_id is None:
        raise RetrainError(f"the KFP host has no pipeline named '{pipeline}': upload it first (kfx upload --host H "
                           "--pipeline train_and_deploy)")  # fmt: skip
    versions = client.list_pipeline_versions(pipeline_id, page_size=200).pipeline_versions or []
    if version:
        chosen = next((v for v in versions if v.display_name == version), None)
        if chosen is None:
            known = ", ".join(v.display_name for v in versions) or "none"
            raise RetrainError(f"pipeline '{pipeline}' has no version '{version}' (have: {known})")
    elif versions:
        chosen = sorted(enumerate(versions), key=lambda iv: (str(iv[1].created_at), iv[0]))[-1][1]
    else:
        raise RetrainError(f"pipeline '{pipeline}' has no version on the host: upload one (kfx upload)")
    exp = client.create_experiment(experiment)
    run = client.run_pipeline(experiment_id=exp.experiment_id, job_name=run_name, params=arguments,
                              pipeline_id=pipeline_id, version_id=chosen.pipeline_version_id,
                              enable_caching=False)  # fmt: skip
    return {"run_id": run.run_id, "pipeline_id": pipeline_id, "version_id": chosen.pipeline_version_id,
            "version": chosen.display_name, "experiment_id": exp.experiment_id}  # fmt: skip


def trigger_retraining(
    decision_dir: str,
    arguments: dict[str, Any],
    host: str = "",
    pipeline: str = DEFAULT_PIPELINE,
    version: str = "",
    experiment: str = "kfx",
    token: str | None = None,
    client: Any = None,
) -> TriggerResult:
    """Submit the training pipeline when the decision at ``decision_dir`` says retrain; else do nothing."""
    decision = read_decision(decision_dir)
    if not decision["retrain"]:
        return TriggerResult(False, "no retraining: " + ("; ".join(decision.get("observations") or []) or "healthy"))
    why = "; ".join(decision["reasons"])
    host = resolve_host(host)
    if client is None and not host:
        return TriggerResult(False, f"retraining is due ({why}) but no KFP host is known (not in a cluster, no "
                             "kfp_host, no KFX_KFP_HOST): locally, start it with "
                             "pipelines.monitoring_local.retrain_locally(decision_dir, ...)")  # fmt: skip
    if client is None:
        from pipelines.cli import CliError, connect

        try:
            client = connect(host, token)
        except CliError as e:
            raise RetrainError(str(e)) from e
    filled = fill_arguments(arguments, decision.get("window", {}))
    run_name = f"kfx retrain {decision.get('window', {}).get('end', '')}".strip()
    details = submit(client, pipeline, version, filled, experiment, run_name)
    log.info("retraining submitted: run %s of %s version %s", details["run_id"], pipeline, details["version"])
    return TriggerResult(True, f"retraining submitted ({why}): run {details['run_id']} of {pipeline} "
                         f"version {details['version']}", details["run_id"], {**details, "arguments": filled})  # fmt: skip
