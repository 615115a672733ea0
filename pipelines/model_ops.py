"""``kfx status --model`` and ``kfx rollback --model``: a served model, which data and code made it, and undoing a
rollout, from the InferenceService alone (the Kubernetes API with a kubeconfig or in-cluster credentials).

The facts come from ``components/deploy`` (``status.model_status``, ``logic.roll_back``, the lineage annotations of
``components/deploy/lineage.py``); this module only turns them into what a person reads, and their failures into
one line. ``status`` needs no TensorFlow; ``rollback`` loads the deploy step's rollout code.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from components._shared.lineage import KEYS


class ModelOpsError(Exception):
    """A one-line, user-facing error of a model command."""


def _api_client(kubeconfig: str | None) -> Any:
    from components.deploy.kube import default_api_client

    return default_api_client(kubeconfig)


def _one_line(e: Exception, host_hint: str) -> str:
    """A Kubernetes failure in one line: unreachable API servers named as such, without urllib3's retry story."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "cannot reach the Kubernetes API" in text:
        errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
        why = errno.group(1).strip() if errno else "no answer"
        host = re.search(r"Kubernetes API at (\S+)", text)
        return f"cannot reach the Kubernetes API at {host.group(1) if host else '?'} ({why}); {host_hint}"
    return text


HOST_HINT = "check --kubeconfig / KUBECONFIG and its current context, or run inside the cluster"


def model_status(name: str, namespace: str, kubeconfig: str | None = None, api_client: Any = None) -> dict:
    from components.deploy.errors import DeployError
    from components.deploy.status import model_status as read_status

    try:
        out = read_status(name, namespace, api_client or _api_client(kubeconfig))
    except DeployError as e:
        raise ModelOpsError(_one_line(e, HOST_HINT)) from e
    if not out["exists"]:
        raise ModelOpsError(f"no InferenceService {namespace}/{name} (kubectl get isvc -n {namespace}); check --model "
                            "and --namespace")  # fmt: skip
    return out


def _lineage_lines(lineage: dict[str, str], indent: str = "  ") -> list[str]:
    order = {k: i for i, k in enumerate(("storage_uri", *KEYS))}
    keys = sorted(lineage, key=lambda k: (order.get(k, len(order)), k))
    width = max((len(k) for k in keys), default=0)
    return [f"{indent}{k.ljust(width)}  {lineage[k]}" for k in keys]


def format_status(s: dict) -> str:
    """What a person reads: the served model, traffic, a canary in flight, and the lineage of each."""
    serving, canary = s["serving"], s["canary"]
    traffic = ", ".join(f"{rev} {pct}%" for rev, pct in s["traffic"].items()) or "-"
    lines = [
        f"{s['namespace']}/{s['name']}: {s['mode']} mode, {'Ready' if s['ready'] else 'not Ready'}",
        f"  serving   {serving['storage_uri'] or '-'}" + (f"  (revision {serving['revision']})" if serving["revision"]
                                                           else ""),  # fmt: skip
        f"  traffic   {traffic}",
        "  canary    " + (f"{canary['storage_uri']} at {canary['percent']}%"
                          + (f" (revision {canary['revision']})" if canary["revision"] else "") if canary else "none"),
        f"  address   {s['address']}",
    ]  # fmt: skip
    if s["unfinished_rollout"]:
        lines.append("  rollout   unfinished: a deploy is in flight or died mid-rollout (kfx rollback undoes it)")
    lines += ["", "which data and code made the model serving now:"]
    lines += _lineage_lines(serving["lineage"]) or [f"  {serving.get('note', '-')}"]
    if canary is not None:
        lines += ["", f"the canary ({canary['percent']}% of traffic):"]
        lines += _lineage_lines(canary["lineage"]) or ["  no lineage recorded for it"]
    return "\n".join(lines)


def cmd_model_status(args: argparse.Namespace) -> int:
    status = model_status(args.model, args.namespace, args.kubeconfig)
    print(json.dumps(status, indent=2, sort_keys=True) if args.json else format_status(status))
    return 0


def rollback(name: str, namespace: str, kubeconfig: str | None = None, timeout_seconds: float = 600,
             api_client: Any = None, poll_seconds: float = 2.0) -> dict:  # fmt: skip
    from components.deploy.errors import DeployError
    from components.deploy.logic import roll_back

    client = api_client or _api_client(kubeconfig)
    model_status(name, namespace, api_client=client)  # a missing InferenceService or an unreachable API: one line
    try:
        return roll_back(name, namespace, api_client=client, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds)
    except DeployError as e:
        raise ModelOpsError(_one_line(e, HOST_HINT)) from e


def cmd_rollback(args: argparse.Namespace) -> int:
    out = rollback(args.model, args.namespace, args.kubeconfig, args.timeout_seconds)
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        traffic = ", ".join(f"{rev} {pct}%" for rev, pct in out["traffic"].items()) or "-"
        print(f"{args.namespace}/{args.model}: rolled back from {out['from']} to {out['to']} ({out['mode']} mode); "
              f"traffic {traffic}")  # fmt: skip
    return 0


def add_model_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument(
        "--model", required=required, metavar="NAME", help="the InferenceService (train_and_deploy's model_name)"
    )
    p.add_argument("--namespace", default="kfx", help="its Kubernetes namespace (default: kfx)")
    p.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster credentials, else $KUBECONFIG / ~/.kube/config)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
