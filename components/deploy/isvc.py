"""The InferenceService object: building it from the deploy parameters, reading its spec and status, merge patches.

Pure functions on dicts (no API calls). Every object built here is validated against KServe's CRD in the tests
(``tests/deploy/test_deploy_unit.py``), in both deployment modes and both runtimes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from components.deploy import lineage as lineage_lib
from components.deploy.errors import DeployError
from components.deploy.lineage import (
    CANDIDATE_LINEAGE_ANNOTATION,
    LINEAGE_PREFIX,
    PREVIOUS_LINEAGE_ANNOTATION,
    lineage_annotations,
    lineage_patch,
)
from components.deploy.params import DeployParams

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
KIND = "InferenceService"
RESOURCE = f"{PLURAL}.{GROUP}"

MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
TAG_ROUTING_ANNOTATION = "serving.kserve.io/enable-tag-routing"
KNATIVE, STANDARD = "knative", "standard"
#: The annotation values kfx writes (the names every KServe release since 0.9 accepts) and the names it reads.
MODE_VALUES = {KNATIVE: "Serverless", STANDARD: "RawDeployment"}
MODE_ALIASES = {"serverless": KNATIVE, "knative": KNATIVE, "rawdeployment": STANDARD, "standard": STANDARD}

#: The storage URI that was serving when the last kfx rollout started (the stable model while a canary runs).
PREVIOUS_URI_ANNOTATION = "kfx.dev/previous-storage-uri"
#: The predictor spec (JSON) that was serving when the last kfx rollout started: what a rollback restores.
PREVIOUS_PREDICTOR_ANNOTATION = "kfx.dev/previous-predictor"
#: Set while a rollout's candidate is not verified yet; removed on promotion or rollback. Still there when the
#: next deploy starts = the deploy pod died mid-rollout (a stale canary).
CANDIDATE_ANNOTATION = "kfx.dev/unverified-candidate"
#: Label of the candidate InferenceService of a standard-mode rollout, naming the InferenceService it is for.
CANDIDATE_OF_LABEL = "kfx.dev/candidate-of"
CANDIDATE_SUFFIX = "-candidate"

CANARY_CONTAINER = "kserve-container"
KFX_RUNTIME = "kfx-predictor"
KFX_MODEL_FORMAT = "kfx"
#: TF Serving release for runtime "tensorflow": KServe's built-in runtime defaults to TF Serving 2.6.2, which is
#: older than the TensorFlow (2.16) that writes kfx's SavedModels. Never older than the training TensorFlow.
TF_SERVING_RUNTIME_VERSION = "2.16.1"


def normalize_mode(mode: str) -> str:
    """``knative`` or ``standard`` for any accepted spelling; DeployError otherwise (``auto`` is resolved first)."""
    try:
        return MODE_ALIASES[mode.lower()]
    except KeyError:
        raise DeployError(
            f"deployment_mode must be auto, knative (serverless) or standard (rawdeployment), got {mode!r}"
        ) from None


def mode_of(isvc: dict | None) -> str | None:
    """The deployment mode a live InferenceService runs in (annotation, else status), None if it names none."""
    if not isvc:
        return None
    value = ((isvc.get("metadata") or {}).get("annotations") or {}).get(MODE_ANNOTATION) or (
        (isvc.get("status") or {}).get("deploymentMode")
    )
    return MODE_ALIASES.get(str(value).lower()) if value else None


def candidate_name(name: str) -> str:
    return f"{name}{CANDIDATE_SUFFIX}"


def _model_spec(params: DeployParams, storage_uri: str, image: str | None, serving_runtime: str) -> dict[str, Any]:
    resources = {
        "requests": {"cpu": params.cpu_request, "memory": params.memory_request},
        "limits": {"cpu": params.cpu_limit, "memory": params.memory_limit},
    }
    if params.runtime == "kfx":
        model: dict[str, Any] = {"modelFormat": {"name": KFX_MODEL_FORMAT}, "runtime": serving_runtime,
                                 "protocolVersion": "v1", "storageUri": storage_uri, "resources": resources}  # fmt: skip
        if image:  # else the kfx-predictor ServingRuntime's image (manifests pin it to serving_image())
            model["image"] = image
        return model
    if params.runtime == "tensorflow":
        return {"modelFormat": {"name": "tensorflow"}, "runtimeVersion": TF_SERVING_RUNTIME_VERSION,
                "storageUri": storage_uri, "resources": resources}  # fmt: skip
    raise DeployError(f"runtime must be 'kfx' or 'tensorflow', got {params.runtime!r}")


def build_inference_service(
    params: DeployParams,
    storage_uri: str,
    mode: str = KNATIVE,
    image: str | None = None,
    serving_runtime: str = KFX_RUNTIME,
    min_replicas: int = 1,
    name: str | None = None,
    lineage: Mapping[str, Any] | None = None,
) -> dict:
    """The InferenceService kfx applies for ``params`` serving ``storage_uri`` in deployment ``mode``; ``lineage``
    (the model's ``lineage.json``) becomes its lineage annotations."""
    mode = normalize_mode(mode)
    name = name or params.name
    predictor: dict[str, Any] = {"minReplicas": min_replicas,
                                 "model": _model_spec(params, storage_uri, image, serving_runtime)}  # fmt: skip
    if params.service_account:
        predictor["serviceAccountName"] = params.service_account
    annotations = {MODE_ANNOTATION: MODE_VALUES[mode]}
    if mode == KNATIVE:  # tag routing gives each revision its own (cluster-local) address
        annotations[TAG_ROUTING_ANNOTATION] = "true"
    if lineage is not None:
        annotations.update(lineage_annotations(lineage, storage_uri))
    labels = {"app.kubernetes.io/managed-by": "kfx", "app.kubernetes.io/name": params.name}
    if name != params.name:
        labels[CANDIDATE_OF_LABEL] = params.name
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": params.namespace, "labels": labels, "annotations": annotations},
        "spec": {"predictor": predictor},
    }


# ---------------------------------------------------------------------------------------------- reading objects


def predictor_spec(isvc: dict | None) -> dict:
    return copy.deepcopy(((isvc or {}).get("spec") or {}).get("predictor") or {})


def annotations_of(isvc: dict | None) -> dict[str, str]:
    return dict(((isvc or {}).get("metadata") or {}).get("annotations") or {})


def served_storage_uri(isvc: dict | None) -> str | None:
    """The ``storageUri`` in an InferenceService's predictor spec (new ``model`` schema or a framework key)."""
    predictor = predictor_spec(isvc)
    for key in ("model", "tensorflow", "sklearn", "xgboost", "pytorch", "onnx", "triton", "lightgbm", "pmml"):
        uri = (predictor.get(key) or {}).get("storageUri")
        if uri:
            return uri
    for c in predictor.get("containers") or []:
        for env in c.get("env") or []:
            if env.get("name") == "STORAGE_URI":
                return env.get("value")
    return None


def previous_predictor(isvc: dict | None) -> dict | None:
    """The predictor spec recorded when the last kfx rollout started (None when kfx recorded none)."""
    raw = annotations_of(isvc).get(PREVIOUS_PREDICTOR_ANNOTATION)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def predictor_status(isvc: dict | None) -> dict:
    return (((isvc or {}).get("status") or {}).get("components") or {}).get("predictor") or {}


def condition(isvc: dict | None, kind: str) -> dict:
    for c in ((isvc or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return {}


def generation(obj: dict) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


def traffic_of(isvc: dict | None) -> dict[str, int]:
    return {t.get("revisionName", "?"): int(t.get("percent") or 0) for t in predictor_status(isvc).get("traffic") or []}


def stable_revision(isvc: dict | None) -> str | None:
    """The revision holding the most traffic (100% outside a canary); Knative mode only."""
    traffic = [t for t in predictor_status(isvc).get("traffic") or [] if int(t.get("percent") or 0) > 0]
    if not traffic:
        return None
    return max(traffic, key=lambda t: (int(t.get("percent") or 0), not t.get("latestRevision")))["revisionName"]


def is_ready(isvc: dict | None) -> bool:
    """Ready=True for the current generation (standard mode: the new pods are up)."""
    if not isvc:
        return False
    observed = int(((isvc.get("status") or {}).get("observedGeneration")) or 0)
    return observed >= generation(isvc) and condition(isvc, "Ready").get("status") == "True"


def serves_traffic(isvc: dict | None) -> bool:
    """Whether the InferenceService serves a model now (Knative: a revision has traffic; standard: Ready once)."""
    if not isvc:
        return False
    if mode_of(isvc) == STANDARD:
        return bool(((isvc.get("status") or {}).get("address") or {}).get("url")) and (
            condition(isvc, "Ready").get("status") == "True" or bool(annotations_of(isvc).get(CANDIDATE_ANNOTATION))
        )
    return stable_revision(isvc) is not None


def spec_canary(isvc: dict | None) -> list[dict]:
    """``spec.canary`` (standard mode, KServe 0.20+): the canary predictors with their traffic share."""
    return list(((isvc or {}).get("spec") or {}).get("canary") or [])


def in_flight_canary(isvc: dict | None) -> int | None:
    """``canaryTrafficPercent`` when it sends a share (1-99) of traffic to the latest revision, else None."""
    canary = predictor_spec(isvc).get("canaryTrafficPercent")
    return int(canary) if canary is not None and 0 < int(canary) < 100 else None


def main_address(obj: dict) -> str:
    """The cluster-local address of an InferenceService (``status.address.url``, else the predictor's)."""
    status = obj.get("status") or {}
    url = (status.get("address") or {}).get("url") or (predictor_status(obj).get("address") or {}).get("url")
    if not url:
        meta = obj.get("metadata") or {}
        url = f"http://{meta.get('name')}-predictor.{meta.get('namespace')}.svc.cluster.local"
    return url


def lineage_of(isvc: dict | None) -> dict[str, str]:
    """The lineage an InferenceService's annotations record, as {lineage key: value} (``storage_uri`` included)."""
    return lineage_lib.as_lineage(lineage_lib.of_annotations(annotations_of(isvc)))


def previous_lineage(isvc: dict | None) -> dict[str, str]:
    """The lineage of the model served before the last kfx rollout, as {lineage key: value} ({} when none)."""
    return lineage_lib.as_lineage(lineage_lib.previous(annotations_of(isvc)))


def candidate_lineage(isvc: dict | None) -> dict[str, str]:
    """The lineage of a standard-mode ``spec.canary`` model, as {lineage key: value} ({} when none)."""
    return lineage_lib.as_lineage(lineage_lib.previous(annotations_of(isvc), CANDIDATE_LINEAGE_ANNOTATION))


def is_stale(obj: dict) -> bool:
    """A rollout kfx started and never finished: an unverified candidate recorded, or a canary share still set."""
    return (
        bool(annotations_of(obj).get(CANDIDATE_ANNOTATION))
        or in_flight_canary(obj) is not None
        or bool(spec_canary(obj))
    )


# ---------------------------------------------------------------------------------------------- patches


def merge_patch(current: Any, target: Any) -> Any:
    """The RFC 7386 JSON merge patch that turns ``current`` into ``target`` (``None`` removes a key)."""
    if not isinstance(current, dict) or not isinstance(target, dict):
        return copy.deepcopy(target)
    patch: dict[str, Any] = {}
    for k in current.keys() - target.keys():
        patch[k] = None
    for k, v in target.items():
        if k not in current:
            patch[k] = copy.deepcopy(v)
        elif current[k] != v:
            patch[k] = merge_patch(current[k], v)
    return patch


def contains(have: Any, want: Any) -> bool:
    """True when every field of ``want`` is in ``have`` with the same value (defaults added by KServe ignored)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(contains(have.get(k), v) for k, v in want.items())
    return have == want


def overlay(current: dict, target: dict) -> dict:
    """Merge patch from ``current`` to ``target`` that leaves fields kfx does not manage (KServe defaults) alone."""

    def keep_unmanaged(p: Any, tgt: Any) -> Any:
        if not isinstance(p, dict):
            return p
        out = {}
        for k, v in p.items():
            if v is None and k not in (tgt or {}) and k != "canaryTrafficPercent":
                continue  # a field kfx doesn't set (e.g. defaulted by the KServe webhook): leave it
            out[k] = keep_unmanaged(v, (tgt or {}).get(k)) if isinstance(v, dict) else v
        return out

    return keep_unmanaged(merge_patch(current, target), target)


def rollout_annotations(existing: dict, candidate_uri: str | None) -> dict[str, str | None]:
    """Annotations a rollout start writes: what served before (for baseline and rollback: its URI, predictor spec
    and lineage) and the candidate."""
    return {
        PREVIOUS_URI_ANNOTATION: served_storage_uri(existing),
        PREVIOUS_PREDICTOR_ANNOTATION: json.dumps(
            {k: v for k, v in predictor_spec(existing).items() if k != "canaryTrafficPercent"}, sort_keys=True
        ),
        PREVIOUS_LINEAGE_ANNOTATION: lineage_lib.recorded(annotations_of(existing)),
        CANDIDATE_LINEAGE_ANNOTATION: None,  # only a standard-mode spec.canary sets it (canary_patch)
        CANDIDATE_ANNOTATION: candidate_uri,
    }


# ---------------------------------------------------------------------------------------------- plan


def plan(existing: dict | None, desired: dict, mode: str) -> str:
    """What a deploy of ``desired`` does: ``create``, ``none`` (this exact spec is fully rolled out and ready),
    ``promote`` (Knative: this model's revision exists but holds no traffic, e.g. pinned by a rollback) or
    ``rollout`` (a new model: test it, then move traffic)."""
    if existing is None:
        return "create"
    current = {k: v for k, v in predictor_spec(existing).items() if k != "canaryTrafficPercent"}
    same_spec = contains(current, desired["spec"]["predictor"])
    if mode == STANDARD:
        return "none" if same_spec and is_ready(existing) and not spec_canary(existing) else "rollout"
    ps = predictor_status(existing)
    latest = ps.get("latestReadyRevision")
    fully_rolled_out = (
        predictor_spec(existing).get("canaryTrafficPercent") in (None, 100)
        and latest
        and latest == ps.get("latestCreatedRevision")
        and condition(existing, "Ready").get("status") == "True"
        and traffic_of(existing).get(latest) == 100
    )
    if same_spec and fully_rolled_out:
        return "none"
    if same_spec and ps.get("latestCreatedRevision"):
        return "promote"
    return "rollout"


def rollout_patch(existing: dict, desired: dict, canary_percent: int | None, candidate_uri: str) -> dict:
    """Merge patch of a Knative rollout: the new predictor (with ``canaryTrafficPercent``), the rollout annotations,
    and the ``resourceVersion`` read (a concurrent change is a 409, not a silent overwrite)."""
    target = copy.deepcopy(desired["spec"]["predictor"])
    target["canaryTrafficPercent"] = canary_percent
    annotations = {**lineage_patch(annotations_of(existing), desired["metadata"]["annotations"]),
                   **desired["metadata"]["annotations"], **rollout_annotations(existing, candidate_uri)}  # fmt: skip
    return {
        "metadata": {"resourceVersion": existing["metadata"]["resourceVersion"], "annotations": annotations},
        "spec": {"predictor": overlay(predictor_spec(existing), target)},
    }


def canary_patch(existing: dict, desired: dict, percent: int, candidate_uri: str) -> dict:
    """Merge patch of a standard-mode canary (KServe 0.20+ ``spec.canary``): the main predictor stays, the new one
    gets ``percent`` of traffic once ready; the rollout annotations as for Knative. The lineage annotations keep
    describing the main predictor until the switch; the canary's are recorded in ``kfx.dev/candidate-lineage``."""
    own = {k: v for k, v in desired["metadata"]["annotations"].items() if not k.startswith(LINEAGE_PREFIX)}
    annotations = {**own, **rollout_annotations(existing, candidate_uri),
                   CANDIDATE_LINEAGE_ANNOTATION: lineage_lib.recorded(desired["metadata"]["annotations"])}  # fmt: skip
    predictor = copy.deepcopy(desired["spec"]["predictor"])
    predictor["model"].setdefault("name", CANARY_CONTAINER)  # the canary's model container needs a name (CRD)
    return {
        "metadata": {"resourceVersion": existing["metadata"]["resourceVersion"], "annotations": annotations},
        "spec": {"canary": [{"predictor": predictor, "trafficPercent": percent}]},
    }


def restore_patch(now: dict, previous: dict, canary_percent: int | None) -> dict:
    """Merge patch back to the ``previous`` predictor spec, with its lineage annotations; the candidate annotation
    removed."""
    target = copy.deepcopy(previous)
    target["canaryTrafficPercent"] = canary_percent
    lineage = lineage_patch(annotations_of(now), lineage_lib.previous(annotations_of(now)))
    return {
        "metadata": {"annotations": {**lineage, CANDIDATE_ANNOTATION: None, CANDIDATE_LINEAGE_ANNOTATION: None}},
        "spec": {"predictor": merge_patch(predictor_spec(now), target)},
    }
