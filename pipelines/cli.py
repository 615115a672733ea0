"""``kfx``: one entry point for compiling, uploading, running, scheduling and inspecting kfx pipelines.

    kfx compile                                   write pipelines/compiled/<version>/*.yaml
    kfx upload   --host H [--pipeline P ...]      create each pipeline, or add a version named <version>-<git sha>
    kfx run      [--host H] [--pipeline P] [--param k=v ...]   on a cluster with --host; locally (kfp.local) without
    kfx schedule --host H --cron "0 0 6 * * *" [--pipeline monitoring] [--param k=v ...]
    kfx status   --model NAME [--namespace NS]    what an InferenceService serves, and which data and code made it
    kfx status   --host H [--run-id ID]           recent KFP runs, or one run
    kfx rollback --model NAME [--namespace NS]    back to the model served before the last kfx rollout

Cluster commands talk to the KFP API with the real ``kfp.Client``. Credentials: ``--token`` (or ``KFX_KFP_TOKEN``),
else the in-cluster ServiceAccount token KFP mounts for pipeline pods, else none (a port-forward to
``ml-pipeline-ui`` on a single-user install). An unreachable, unauthorised or wrong-version host is reported in one
line that says which, before anything else is sent. Model commands (``--model``) talk to the Kubernetes API with
in-cluster credentials or a kubeconfig (``--kubeconfig``, ``KUBECONFIG``): ``pipelines/model_ops.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from components._shared.version import __version__
from pipelines import model_ops
from pipelines.compile import compiled_dir

COMPILED_DIR = compiled_dir()
PIPELINES = ("training", "train_and_deploy", "monitoring")
IN_CLUSTER_TOKEN = "/var/run/secrets/kubeflow/pipelines/token"
HEALTHZ = "/apis/v2beta1/healthz"


class CliError(Exception):
    """A one-line, user-facing error: what went wrong and what to do."""


# ------------------------------------------------------------------------------------------------- packages
def package_path(pipeline: str) -> str:
    """The committed compiled YAML of ``pipeline`` for this kfx version."""
    path = os.path.join(COMPILED_DIR, f"{pipeline}.yaml")
    if not os.path.exists(path):
        known = sorted(f[:-5] for f in os.listdir(COMPILED_DIR)) if os.path.isdir(COMPILED_DIR) else []
        raise CliError(f"no compiled pipeline '{pipeline}' for kfx {__version__} (have: {', '.join(known) or 'none'}); "
                       "run `kfx compile`")  # fmt: skip
    return path


def pipeline_name(path: str) -> str:
    """The pipeline's name as compiled (``pipelineInfo.name``)."""
    import yaml

    with open(path) as f:
        spec = next(d for d in yaml.safe_load_all(f) if d)
    return spec["pipelineInfo"]["name"]


def version_name(repo_dir: str | None = None) -> str:
    """``<version>-<short git sha>`` (``-dirty`` when the tree has changes), or the version alone outside git."""
    repo_dir = repo_dir or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo_dir, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo_dir,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}-{sha}{'-dirty' if dirty else ''}"


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``k=v`` pairs; values are JSON when they parse (numbers, lists, objects, booleans), else strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param takes key=value, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


# ------------------------------------------------------------------------------------------------- the host
def _token(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get("KFX_KFP_TOKEN"):
        return os.environ["KFX_KFP_TOKEN"]
    path = os.environ.get("KF_PIPELINES_SA_TOKEN_PATH", IN_CLUSTER_TOKEN)
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    return None


def check_host(host: str, token: str | None, timeout: float = 10.0) -> dict[str, Any]:
    """The host's healthz answer, or a CliError saying whether it is unreachable, unauthorised or the wrong version."""
    import requests

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    base = host.rstrip("/")
    try:
        r = requests.get(base + HEALTHZ, headers=headers, timeout=timeout)
    except requests.RequestException as e:
        reason = type(e).__name__ if not str(e) else str(e).split("(")[0].strip()
        raise CliError(f"KFP host {host} is unreachable ({reason}); check --host, and the port-forward or "
                       "network path to the ml-pipeline service") from e  # fmt: skip
    if r.status_code in (401, 403):
        raise CliError(f"KFP host {host} refused the request as unauthorised (HTTP {r.status_code}); pass --token "
                       "(or KFX_KFP_TOKEN), or run where the pipelines ServiceAccount token is mounted")  # fmt: skip
    if r.status_code == 404:
        try:
            v1 = requests.get(base + "/apis/v1beta1/healthz", headers=headers, timeout=timeout)
        except requests.RequestException:
            v1 = None
        if v1 is not None and v1.ok:
            tag = v1.json().get("tag_name", "1.x")
            raise CliError(f"KFP host {host} runs Kubeflow Pipelines {tag} (API v1beta1); kfx {__version__} needs "
                           "Kubeflow Pipelines 2.x (API v2beta1)")  # fmt: skip
        raise CliError(f"{host} answered 404 for {HEALTHZ}: it is not a Kubeflow Pipelines 2.x API endpoint")
    if not r.ok:
        raise CliError(f"KFP host {host} answered HTTP {r.status_code} for {HEALTHZ}: {r.text[:200]}")
    health = r.json()
    tag = str(health.get("tag_name", ""))
    major = tag.lstrip("v").split(".")[0]
    if major.isdigit() and int(major) < 2:
        raise CliError(f"KFP host {host} runs Kubeflow Pipelines {tag}; kfx {__version__} needs 2.x")
    return health


def connect(host: str, token: str | None = None) -> Any:
    """A real ``kfp.Client`` for a host that passed :func:`check_host`."""
    import warnings

    # kfp.client, not kfp: a pipeline step runs with _KFP_RUNTIME=true, under which kfp/__init__ exports no Client
    from kfp.client import Client

    token = _token(token)
    check_host(host, token)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "This client only works with KFP v2.0.0-beta.2 and later"
        return Client(host=host, existing_token=token)


# ------------------------------------------------------------------------------------------------- commands
def cmd_compile(args: argparse.Namespace) -> int:
    from pipelines import compile as compile_module

    return compile_module.main([]) or 0


def upload(client: Any, pipeline: str, version: str | None = None) -> dict[str, str]:
    """Create ``pipeline`` on the host, or add this kfx version as a new version of it."""
    path = package_path(pipeline)
    name = pipeline_name(path)
    version = version or version_name()
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        created = client.upload_pipeline(path, pipeline_name=name, description=f"kfx {version}")
        return {"pipeline": name, "pipeline_id": created.pipeline_id, "version": name, "created": "pipeline"}
    existing = client.list_pipeline_versions(pipeline_id, page_size=200).pipeline_versions or []
    if any(v.display_name == version for v in existing):
        raise CliError(f"pipeline '{name}' already has a version '{version}'; commit your change (the version name "
                       "carries the git commit) or pass --version")  # fmt: skip
    created = client.upload_pipeline_version(path, pipeline_version_name=version, pipeline_id=pipeline_id)
    return {"pipeline": name, "pipeline_id": pipeline_id, "version": version,
            "version_id": created.pipeline_version_id, "created": "version"}  # fmt: skip


def cmd_upload(args: argparse.Namespace) -> int:
    client = connect(args.host, args.token)
    for pipeline in args.pipeline or list(PIPELINES):
        print(json.dumps(upload(client, pipeline, args.version)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if not args.host and args.pipeline == "monitoring":
        return _run_monitoring_locally(parse_params(args.param))
    if not args.host:
        if args.pipeline != "training":
            raise CliError(f"locally kfx runs the training pipeline (python -m pipelines.run); '{args.pipeline}' "
                           "needs --host")  # fmt: skip
        from pipelines import run as run_module

        local = list(args.local_args)
        return run_module.main(local[1:] if local[:1] == ["--"] else local)
    client = connect(args.host, args.token)
    run = client.create_run_from_pipeline_package(
        package_path(args.pipeline), arguments=parse_params(args.param), run_name=args.run_name,
        experiment_name=args.experiment, enable_caching=not args.no_cache,
    )  # fmt: skip
    print(json.dumps({"run_id": run.run_id, "pipeline": args.pipeline}))
    return 0


def _run_monitoring_locally(params: dict[str, Any]) -> int:
    """``kfx run --pipeline monitoring --param log_uri=... --param model_uri=...``: kfp.local, under ``runs/``."""
    from pipelines.monitoring_local import run_monitoring

    if "log_uri" not in params:
        raise CliError("the monitoring pipeline needs --param log_uri=<prediction log> (and, locally, "
                       "--param model_uri=<production model directory>)")  # fmt: skip
    try:
        run = run_monitoring(params.pop("root", "runs"), **params)
    except TypeError as e:
        raise CliError(str(e)) from e
    print(json.dumps({"succeeded": run.succeeded, "run_dir": run.run_dir, "retrain": run.retrain,
                      "reasons": run.decision.get("reasons", []),
                      "report": run.report, "decision": run.decision_dir, "failed_step": run.failed_step,
                      "error": run.error[-500:]}))  # fmt: skip
    return 0 if run.succeeded else 1


def cmd_schedule(args: argparse.Namespace) -> int:
    client = connect(args.host, args.token)
    experiment = client.create_experiment(args.experiment)
    job = client.create_recurring_run(
        experiment_id=experiment.experiment_id, job_name=args.name or f"kfx-{args.pipeline}",
        description=f"kfx {version_name()}", cron_expression=args.cron, pipeline_package_path=package_path(args.pipeline),
        params=parse_params(args.param), max_concurrency=1, no_catchup=True,
        enable_caching=False,  # the inputs are time windows: a cached step would re-use yesterday's output
    )  # fmt: skip
    print(json.dumps({"recurring_run_id": job.recurring_run_id, "cron": args.cron, "pipeline": args.pipeline}))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if args.model:
        if args.run_id:
            raise CliError("--run-id is a KFP run (with --host); --model is an InferenceService: give one of them")
        return model_ops.cmd_model_status(args)
    args.host = args.host or os.environ.get("KFX_KFP_HOST")
    if not args.host:
        raise CliError("say what to show: --model NAME (a served model and its lineage) or --host URL (KFP runs)")
    client = connect(args.host, args.token)
    if args.run_id:
        run = client.get_run(args.run_id)
        print(json.dumps({"run_id": run.run_id, "name": run.display_name, "state": run.state}))
        return 0
    runs = client.list_runs(page_size=args.limit, sort_by="created_at desc").runs or []
    for run in runs:
        print(json.dumps({"run_id": run.run_id, "name": run.display_name, "state": run.state,
                          "created_at": str(run.created_at)}))  # fmt: skip
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    return model_ops.cmd_rollback(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kfx", description=f"kfx {__version__}: compile, upload, run, schedule, status, rollback"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def host_args(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument("--host", required=required, default=os.environ.get("KFX_KFP_HOST") if not required else None,
                       help="KFP API endpoint, e.g. http://localhost:8080 (port-forwarded ml-pipeline-ui)")  # fmt: skip
        p.add_argument("--token", help="bearer token for the KFP API (default: $KFX_KFP_TOKEN or in-cluster token)")

    sub.add_parser("compile", help="compile every pipeline to pipelines/compiled/<version>/").set_defaults(
        func=cmd_compile
    )
    p = sub.add_parser("upload", help="create the pipelines on a KFP host, or add this version")
    host_args(p)
    p.add_argument("--pipeline", action="append", choices=PIPELINES, help="repeatable; default: all three (the monitoring pipeline submits train_and_deploy)")  # fmt: skip
    p.add_argument("--version", help="version name (default: <kfx version>-<git sha>)")
    p.set_defaults(func=cmd_upload)
    p = sub.add_parser("run", help="run a pipeline on a KFP host (--host) or locally")
    host_args(p, required=False)
    p.add_argument("--pipeline", default="training", choices=PIPELINES)
    p.add_argument("--param", action="append", default=[], help="pipeline parameter key=value (JSON values)")
    p.add_argument("--experiment", default="kfx")
    p.add_argument("--run-name")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("local_args", nargs=argparse.REMAINDER, help="locally: the arguments of python -m pipelines.run")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("schedule", help="a recurring run (caching off) of a pipeline on a cron")
    host_args(p)
    p.add_argument("--cron", required=True, help='6-field cron, e.g. "0 0 6 * * *" (daily at 06:00)')
    p.add_argument("--pipeline", default="monitoring", choices=PIPELINES)
    p.add_argument("--param", action="append", default=[])
    p.add_argument("--experiment", default="kfx")
    p.add_argument("--name")
    p.set_defaults(func=cmd_schedule)
    p = sub.add_parser("status", help="a served model and its lineage (--model), or runs on a KFP host (--host)")
    model_ops.add_model_args(p, required=False)
    host_args(p, required=False)
    p.add_argument("--run-id", help="one KFP run (with --host)")
    p.add_argument("--limit", type=int, default=10, help="how many recent KFP runs (with --host)")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("rollback", help="roll an InferenceService back to the model served before the last rollout")
    model_ops.add_model_args(p, required=True)
    p.add_argument("--timeout-seconds", type=int, default=600, help="how long to wait for the previous model")
    p.set_defaults(func=cmd_rollback)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CliError, model_ops.ModelOpsError) as e:
        print(f"kfx {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
