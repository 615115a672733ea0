"""Baseline resolution: which model the InferenceService serves to (most of) its traffic now.

The resolved model is pointed at, not copied: the baseline Model artifact's URI is set to the served storage URI
(the convention of evaluate's ``import_baseline``; evaluate reads it with the step's storage configuration, either
layout through ``components/_shared/artifacts/model.py``). With no served model the artifact is still published
(KFP has no optional outputs), marked ``metadata["present"] = False``, holding only a marker saying why.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from components._shared.artifacts import model as model_layout
from components._shared.log import get_logger
from components.deploy import isvc as isvc_lib
from components.deploy.errors import DeployError
from components.deploy.kube import Kube

log = get_logger("deploy")


@dataclasses.dataclass(frozen=True)
class Baseline:
    storage_uri: str | None
    reason: str
    revision: str = ""

    @property
    def present(self) -> bool:
        return self.storage_uri is not None


def baseline_of(obj: dict | None) -> str | None:
    """Storage URI of the model an InferenceService object serves to most traffic; None when it serves nothing."""
    if not isvc_lib.serves_traffic(obj):
        return None
    annotations = isvc_lib.annotations_of(obj)
    if isvc_lib.in_flight_canary(obj) is not None or annotations.get(isvc_lib.CANDIDATE_ANNOTATION):
        # A rollout is in flight: the spec names the candidate; the stable model is the one it started from.
        previous = annotations.get(isvc_lib.PREVIOUS_URI_ANNOTATION)
        if not previous:
            meta = (obj or {}).get("metadata") or {}
            raise DeployError(
                f"InferenceService {meta.get('namespace')}/{meta.get('name')} is mid-rollout and has no "
                f"{isvc_lib.PREVIOUS_URI_ANNOTATION} annotation naming the stable model; promote or roll back first "
                f"(python -m components.deploy rollback --name {meta.get('name')} --namespace {meta.get('namespace')})"
            )
        return previous
    return isvc_lib.served_storage_uri(obj)


def resolve_baseline(name: str, namespace: str, api_client: Any = None) -> Baseline:
    """The model InferenceService ``namespace/name`` serves to most traffic (``storage_uri`` None: no baseline)."""
    obj = Kube(api_client, namespace, name).get()
    uri = baseline_of(obj)
    if uri is None:
        why = "no InferenceService" if obj is None else "the InferenceService serves no traffic yet"
        log.info("no baseline for %s/%s: %s", namespace, name, why)
        return Baseline(None, why)
    revision = isvc_lib.stable_revision(obj) or ""
    log.info("baseline of %s/%s: %s (revision %s)", namespace, name, uri, revision or "-")
    return Baseline(uri, f"served by {namespace}/{name}", revision)


def record_baseline(artifact: Any, baseline: Baseline) -> None:
    """Make the output Model ``artifact`` (``.uri``, ``.path``, ``.metadata``) point at the baseline, or mark it
    absent (no null metadata values: KFP rejects them)."""
    if baseline.storage_uri is None:
        model_layout.write_absent(artifact.path, baseline.reason)
        artifact.metadata.update({model_layout.PRESENT_KEY: False, "reason": baseline.reason, "source": ""})
        return
    model_layout.point_at_model(artifact, baseline.storage_uri, check=False)
    artifact.metadata.update({"reason": baseline.reason, "revision": baseline.revision})
