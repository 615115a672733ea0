"""Deploy a blessed model to a KServe InferenceService: push, test, move traffic, or roll back.

The entry points, their result and error; the layers live in sibling modules:

* ``params.py``   the deploy parameters (defined once);
* ``isvc.py``     building the InferenceService, reading its spec/status, merge patches, the plan;
* ``kube.py``     the Kubernetes API (the only ``kubernetes`` import);
* ``rollout.py``  waiting, promotion and rollback in Knative and standard mode, stale rollouts;
* ``smoke.py``    smoke requests from real eval rows to cluster-local addresses;
* ``baseline.py`` which model is served now (the baseline of the next evaluation);
* ``storage.py``  pushing the model to its versioned storage URI.

A deploy: refuse an unblessed model (``deployed=False``, nothing written, nothing applied); resolve a stale
rollout a killed deploy left behind (roll it back); plan, and dry-run the create/patch on the server
(``dryRun=All``: RBAC 403, conflicts 409, schema 422 fail before anything is written); push the model to
``<storage_uri>/<name>/<digest>``; then create, do nothing (already served: smoke-test it again), promote a pinned
revision, or roll out (see ``rollout.py``). Traffic only ever moves to a model that is ready and answered the
smoke requests; a failed rollout is rolled back and raises :class:`DeployError`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared.artifacts import blessing as blessing_layout
from components._shared.artifacts import model as model_layout
from components._shared.log import get_logger, timed
from components.deploy import isvc as isvc_lib
from components.deploy import smoke, storage
from components.deploy.errors import DeployError, RolloutFailed
from components.deploy.kube import Kube
from components.deploy.params import DEPLOYMENT_MODES, ROLLOUTS, RUNTIMES, DeployParams
from components.deploy.rollout import Rollout

__all__ = ["DeployError", "DeployParams", "DeployResult", "deploy_model", "roll_back", "service_status"]

log = get_logger("deploy")
_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@dataclasses.dataclass
class DeployResult:
    deployed: bool
    reason: str
    url: str = ""
    revision: str = ""
    storage_uri: str = ""
    mode: str = ""
    traffic: dict[str, int] = dataclasses.field(default_factory=dict)
    changed: bool = False
    previous_storage_uri: str | None = None
    stale_resolved: str = ""
    lineage: dict[str, Any] = dataclasses.field(default_factory=dict)  # the model's lineage.json

    def markdown(self, name: str, namespace: str) -> str:
        headline = f"**deployed**: {self.reason}" if self.deployed else f"**{self.reason}**"
        lines = [f"# Deploy `{namespace}/{name}`", "", headline, ""]
        if self.deployed:
            lines += [
                "| | |",
                "|---|---|",
                f"| address (cluster-local) | `{self.url}` |",
                f"| deployment mode | {self.mode} |",
                f"| revision | `{self.revision or '-'}` |",
                f"| storage URI | `{self.storage_uri}` |",
                f"| previous storage URI | `{self.previous_storage_uri or '-'}` |",
                f"| traffic | {', '.join(f'`{r}` {p}%' for r, p in self.traffic.items()) or '-'} |",
                f"| changed | {'yes' if self.changed else 'no (already serving this model)'} |",
            ]
            lines += [f"| lineage: {k} | `{v}` |" for k, v in self.lineage.items()]
        if self.stale_resolved:
            lines += ["", f"Before this deploy, a rollout left behind by an earlier run was resolved: "
                          f"{self.stale_resolved}."]  # fmt: skip
        return "\n".join(lines) + "\n"


def read_blessing(blessing_dir: str) -> dict:
    """The blessing evaluate wrote (the one reader: ``artifacts.blessing``), its errors as a DeployError."""
    try:
        return blessing_layout.read_blessing(blessing_dir)
    except blessing_layout.BlessingError as e:
        raise DeployError(str(e)) from e


def versioned_storage_uri(root: str, name: str, model_dir: str, statistics_dir: str = "", schema_dir: str = "") -> str:
    """``<root>/<name>/<first 12 hex of the push digest>``: one immutable path per pushed content (model, lineage,
    evidence)."""
    if not root:
        raise DeployError("storage_uri is empty; name the root the model is pushed under (local path, gs://, s3://)")
    try:
        digest = storage.model_digest(model_dir, statistics_dir, schema_dir)
    except storage.StorageError as e:
        raise DeployError(str(e)) from e
    return f"{root.rstrip('/')}/{name}/{digest[:12]}"


def check_params(p: DeployParams) -> None:
    """Every parameter problem, before any call or write."""
    if not _NAME_RE.match(p.name or "") or len(p.name) > 45:
        raise DeployError(f"InferenceService name {p.name!r} must be a DNS-1035 label (a-z, 0-9, '-'; <= 45 chars)")
    if not p.namespace:
        raise DeployError("namespace is empty; name the Kubernetes namespace to deploy into")
    if p.rollout not in ROLLOUTS:
        raise DeployError(f"rollout must be one of {', '.join(ROLLOUTS)}, got {p.rollout!r}")
    if p.runtime not in RUNTIMES:
        raise DeployError(f"runtime must be one of {', '.join(RUNTIMES)}, got {p.runtime!r}")
    if p.deployment_mode not in DEPLOYMENT_MODES:
        raise DeployError(f"deployment_mode must be one of {', '.join(DEPLOYMENT_MODES)}, got {p.deployment_mode!r}")
    if p.rollout == "canary" and not 0 < p.canary_traffic_percent < 100:
        raise DeployError(
            f"canary_traffic_percent must be between 1 and 99 for a canary rollout, got {p.canary_traffic_percent}"
        )
    if not p.storage_uri:
        raise DeployError("storage_uri is empty; name the root the model is pushed under (local path, gs://, s3://)")


def resolve_mode(requested: str, existing: dict | None) -> str:
    """``knative`` or ``standard``: as requested, or (``auto``) as the live InferenceService runs, else Knative.
    A requested mode that contradicts the live one is an error (KServe cannot switch modes in place)."""
    live = isvc_lib.mode_of(existing)
    if requested == "auto":
        return live or isvc_lib.KNATIVE
    mode = isvc_lib.normalize_mode(requested)
    if live and live != mode:
        raise DeployError(
            f"deployment_mode={requested!r}, but the live InferenceService runs in {live} mode and KServe cannot "
            "change the mode of an existing InferenceService: use deployment_mode='auto', or delete it first"
        )
    return mode


def deploy_model(
    model_dir: str,
    blessing_dir: str,
    params: DeployParams,
    smoke_instances: list[dict] | None = None,
    api_client: Any = None,
    image: str | None = None,
    serving_runtime: str = isvc_lib.KFX_RUNTIME,
    poll_seconds: float = 2.0,
    statistics_dir: str = "",
    schema_dir: str = "",
) -> DeployResult:
    """Deploy the model in ``model_dir`` as InferenceService ``params.namespace/params.name`` (module docstring).

    ``statistics_dir`` / ``schema_dir``: the training statistics and schema, pushed with the model as its evidence
    (``<pushed>/evidence/``; the monitoring pipeline finds them from the InferenceService). The model's
    ``lineage.json`` is pushed with it and written as the InferenceService's lineage annotations.

    Returns ``DeployResult(deployed=False)`` for an unblessed model; raises ``DeployError`` when the rollout
    fails (after rolling back) or the cluster refuses a call.
    """
    check_params(params)
    blessing = read_blessing(blessing_dir)
    if not blessing.get("blessed"):
        reasons = "; ".join(str(r) for r in blessing.get("reasons") or []) or "no reason given"
        log.info("model %s is not blessed (%s): not deploying", model_dir, reasons)
        return DeployResult(deployed=False, reason=f"not deployed: not blessed ({reasons})")
    target = versioned_storage_uri(params.storage_uri, params.name, model_dir, statistics_dir, schema_dir)
    try:
        storage.check_scheme(target)
        digest = storage.model_digest(model_dir, statistics_dir, schema_dir)
    except storage.StorageError as e:
        raise DeployError(str(e)) from e
    lineage = model_layout.read_lineage(model_dir)
    kube = Kube(api_client, params.namespace, params.name)
    existing = kube.get()
    mode = resolve_mode(params.deployment_mode, existing)
    run = Rollout(kube, smoke.smoke_rows(smoke_instances, smoke.label_keys(model_dir)), params.runtime,
                  params.timeout_seconds, poll_seconds)  # fmt: skip
    existing, stale = run.resolve_stale(existing, mode)
    desired = isvc_lib.build_inference_service(params, target, mode, image, serving_runtime, lineage=lineage)
    action = isvc_lib.plan(existing, desired, mode)
    _dry_run(run, action, existing, desired, params, mode)
    try:
        storage.push_model(model_dir, target, params.runtime, digest=digest, statistics_dir=statistics_dir,
                           schema_dir=schema_dir)  # fmt: skip
    except storage.StorageError as e:
        raise DeployError(str(e)) from e
    result = _apply(run, action, existing, desired, params, mode, target)
    result.stale_resolved = stale or ""
    result.lineage = lineage
    return result


def _dry_run(run: Rollout, action: str, existing: dict | None, desired: dict, p: DeployParams, mode: str) -> None:
    """Server-side dry runs of the writes ``action`` makes (RBAC, admission, schema) before anything is written."""
    if action == "create":
        run.kube.create(desired, dry_run=True)
    elif action == "rollout" and existing is not None:
        run.patch_unless_spec_moved(isvc_lib.rollout_patch(existing, desired, None, "dry-run"), existing, dry_run=True)
        if mode == isvc_lib.STANDARD:
            run.kube.create(_candidate(desired, p), dry_run=True)


def _candidate(desired: dict, p: DeployParams) -> dict:
    uri = isvc_lib.served_storage_uri(desired) or ""
    obj = isvc_lib.build_inference_service(p, uri, isvc_lib.STANDARD, name=isvc_lib.candidate_name(p.name))
    obj["spec"]["predictor"] = dict(desired["spec"]["predictor"])
    return obj


def _apply(
    run: Rollout, action: str, existing: dict | None, desired: dict, p: DeployParams, mode: str, target: str
) -> DeployResult:
    where = f"{p.namespace}/{p.name}"
    try:
        if action == "create":
            with timed(log, f"creating InferenceService {where} ({mode} mode, {target})"):
                obj = run.first(desired, mode)
            return _result(obj, f"deployed {target} as the first model of {where}", mode, None)
        if action == "none":
            obj = run.check_serving(existing or {})
            return _result(obj, f"already serving {target}; nothing changed", mode, None, changed=False)
        if action == "promote":
            obj = run.knative_promote_existing(existing or {})
            return _result(obj, f"deployed {target}: its revision now has 100% of traffic", mode, None)
        previous = isvc_lib.served_storage_uri(existing)
        percent = p.canary_traffic_percent if p.rollout == "canary" else 0
        if mode == isvc_lib.STANDARD:
            obj = run.standard(existing or {}, desired, _candidate(desired, p), target, percent)
            how = "tested on a candidate InferenceService, then switched"
        else:
            obj = run.knative(existing or {}, desired, percent, target)
            how = f"canary at {percent}%, then 100%" if percent else "tested at 0% of traffic, then 100%"
        return _result(obj, f"deployed {target} ({how})", mode, previous)
    except RolloutFailed as e:
        if action == "create":
            raise DeployError(
                f"first deploy of {where} failed: {e}. There is no previous model to roll back to; the "
                f"InferenceService is left for inspection (kubectl describe isvc {p.name} -n {p.namespace}; delete "
                f"it with kubectl delete isvc {p.name} -n {p.namespace})"
            ) from e
        raise DeployError(f"rollout of {target} to {where} failed: {e}") from e


def _result(obj: dict, reason: str, mode: str, previous: str | None, changed: bool = True) -> DeployResult:
    ps = isvc_lib.predictor_status(obj)
    return DeployResult(
        deployed=True,
        reason=reason,
        url=smoke.main_address(obj),
        revision=ps.get("latestReadyRevision") or "",
        storage_uri=isvc_lib.served_storage_uri(obj) or "",
        mode=mode,
        traffic=isvc_lib.traffic_of(obj),
        changed=changed,
        previous_storage_uri=previous,
    )


# ---------------------------------------------------------------------------------------------- operations


def roll_back(
    name: str, namespace: str, api_client: Any = None, timeout_seconds: float = 600, poll_seconds: float = 2.0
) -> dict[str, Any]:
    """Roll ``namespace/name`` back to the model that served before the last kfx rollout (an unfinished rollout:
    its stable revision keeps all traffic; a finished one: the previous model is served again once ready)."""
    kube = Kube(api_client, namespace, name)
    existing = kube.get()
    if existing is None:
        raise DeployError(f"no InferenceService {namespace}/{name} to roll back")
    mode = isvc_lib.mode_of(existing) or isvc_lib.KNATIVE
    run = Rollout(kube, [], timeout_seconds=timeout_seconds, poll_seconds=poll_seconds)
    before = isvc_lib.served_storage_uri(existing)
    if mode == isvc_lib.STANDARD and kube.get(isvc_lib.candidate_name(name)) is not None:
        kube.delete(isvc_lib.candidate_name(name))
    try:
        obj = run.roll_back(existing, mode)
    except RolloutFailed as e:
        raise DeployError(f"rollback of {namespace}/{name} failed: {e}") from e
    return {"rolled_back": True, "from": before, "to": isvc_lib.served_storage_uri(obj) or "", "mode": mode,
            "traffic": isvc_lib.traffic_of(obj)}  # fmt: skip


def service_status(name: str, namespace: str, api_client: Any = None) -> dict[str, Any]:
    """What ``namespace/name`` serves, its lineage, and whether a rollout is unfinished (``status.model_status``)."""
    from components.deploy.status import model_status

    return model_status(name, namespace, api_client)
