"""What an InferenceService serves now, and which data and code made it (``kfx status --model``).

Read from the InferenceService alone: the served storage URI (the stable model, also mid-rollout), its revision,
the traffic split, a canary in flight, and the lineage annotations kfx wrote (``lineage.py``: the model in
``spec.predictor``, the model served before a rollout in flight, a standard-mode canary).
No TensorFlow: the Kubernetes API (``kube.py``) and the object (``isvc.py``) only.
"""

from __future__ import annotations

import time
from typing import Any

from components.deploy import isvc as isvc_lib
from components.deploy.kube import Kube

NO_LINEAGE = (
    "no lineage recorded for this model (deployed by a kfx without lineage, or not by kfx); the lineage file pushed "
    "with it may have it (components/_shared/artifacts/model.read_lineage on its storage URI)"
)


def lineage_for(obj: dict, storage_uri: str | None) -> dict[str, str]:
    """The lineage recorded on ``obj`` for the model at ``storage_uri`` ({} when none is)."""
    for lineage in (isvc_lib.lineage_of(obj), isvc_lib.previous_lineage(obj), isvc_lib.candidate_lineage(obj)):
        if storage_uri and lineage.get("storage_uri") == storage_uri:
            return lineage
    return {}


def _canary(obj: dict, mode: str) -> dict[str, Any] | None:
    """The model being rolled out and its share of traffic, or None when no rollout is in flight."""
    annotations = isvc_lib.annotations_of(obj)
    candidate = annotations.get(isvc_lib.CANDIDATE_ANNOTATION)
    percent = isvc_lib.in_flight_canary(obj)
    spec_canaries = isvc_lib.spec_canary(obj)
    if spec_canaries:  # standard mode, KServe 0.20+: spec.canary
        model = (spec_canaries[0].get("predictor") or {}).get("model") or {}
        statuses = (obj.get("status") or {}).get("canaryStatuses") or [{}]
        uri = model.get("storageUri") or candidate
        return {"storage_uri": uri, "percent": int(statuses[0].get("trafficPercent") or 0),
                "revision": statuses[0].get("name", "")}  # fmt: skip
    if candidate is None and percent is None:
        return None
    revision = isvc_lib.predictor_status(obj).get("latestCreatedRevision", "") if mode == isvc_lib.KNATIVE else ""
    return {"storage_uri": candidate or isvc_lib.served_storage_uri(obj), "percent": percent or 0, "revision": revision}


def model_status(name: str, namespace: str, api_client: Any = None) -> dict[str, Any]:
    """What ``namespace/name`` serves (``serving``: storage URI, revision, lineage), the traffic split, a canary in
    flight (``canary``: storage URI, percent, revision, lineage) and whether a rollout is unfinished."""
    kube = Kube(api_client, namespace, name)
    obj = kube.get()
    if obj is None:
        return {"exists": False, "name": name, "namespace": namespace}
    mode = isvc_lib.mode_of(obj) or isvc_lib.KNATIVE
    canary = _canary(obj, mode)
    spec_uri = isvc_lib.served_storage_uri(obj)
    stable_uri = spec_uri
    if canary is not None and canary["storage_uri"] == spec_uri:  # Knative: the spec names the candidate
        stable_uri = isvc_lib.annotations_of(obj).get(isvc_lib.PREVIOUS_URI_ANNOTATION) or spec_uri
    lineage = lineage_for(obj, stable_uri)
    if canary is not None:
        canary["lineage"] = lineage_for(obj, canary["storage_uri"])
    revision = (isvc_lib.stable_revision(obj) or "") if mode == isvc_lib.KNATIVE else ""
    return {
        "exists": True,
        "name": name,
        "namespace": namespace,
        "mode": mode,
        "ready": isvc_lib.condition(obj, "Ready").get("status") == "True",
        "storage_uri": spec_uri,
        "serving": {
            "storage_uri": stable_uri or "",
            "revision": revision,
            "lineage": lineage,
            **({} if lineage else {"note": NO_LINEAGE}),
        },  # fmt: skip
        "canary": canary,
        "address": isvc_lib.main_address(obj),
        "traffic": isvc_lib.traffic_of(obj),
        "unfinished_rollout": isvc_lib.is_stale(obj),
        "unverified_candidate": isvc_lib.annotations_of(obj).get(isvc_lib.CANDIDATE_ANNOTATION),
        "candidate_service": mode == isvc_lib.STANDARD and kube.get(isvc_lib.candidate_name(name)) is not None,
        "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
