"""A model's lineage as annotations of the InferenceService that serves it (pure functions on annotation dicts).

Each value of the model's ``lineage.json`` (keys: ``components/_shared/lineage.KEYS``) is one annotation
``lineage.kfx.dev/<key, '_' written '-'>`` (e.g. ``lineage.kfx.dev/data-sha256``) with a string value, plus
``lineage.kfx.dev/storage-uri``: the pushed model they describe. They describe the model in ``spec.predictor``
(a Knative canary's too); ``kfx.dev/previous-lineage`` keeps those of the model served when the last kfx rollout
started (JSON), and a rollback restores them with the predictor. A standard-mode ``spec.canary`` (which leaves
``spec.predictor`` as it is) records the canary's in ``kfx.dev/candidate-lineage`` until the switch or a rollback.
``kfx status --model`` reads all three.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from components.deploy.errors import DeployError

LINEAGE_PREFIX = "lineage.kfx.dev/"
LINEAGE_STORAGE_URI = LINEAGE_PREFIX + "storage-uri"
PREVIOUS_LINEAGE_ANNOTATION = "kfx.dev/previous-lineage"
CANDIDATE_LINEAGE_ANNOTATION = "kfx.dev/candidate-lineage"
#: Longest lineage value kept in an annotation (Kubernetes caps all annotations of an object at 256 KiB together;
#: lineage.json, pushed with the model, keeps every value whole).
LINEAGE_VALUE_MAX = 1024
#: The name part of a qualified Kubernetes annotation key.
ANNOTATION_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
SHORTENED = "...[shortened]"


def lineage_annotations(lineage: Mapping[str, Any], storage_uri: str) -> dict[str, str]:
    """The annotations that carry a model's lineage (``lineage.json``'s values as strings, long ones shortened)."""
    out = {LINEAGE_STORAGE_URI: storage_uri}
    for key, value in lineage.items():
        name = key.replace("_", "-")
        if not ANNOTATION_NAME.match(name):
            raise DeployError(f"lineage key {key!r} cannot be an annotation name (a-z, 0-9, '-', '_', '.'; <= 63)")
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
        if len(text) > LINEAGE_VALUE_MAX:
            text = text[: LINEAGE_VALUE_MAX - len(SHORTENED)] + SHORTENED
        out[LINEAGE_PREFIX + name] = text
    return out


def of_annotations(annotations: Mapping[str, str | None]) -> dict[str, str]:
    """The lineage annotations among ``annotations`` (full annotation names)."""
    return {k: str(v) for k, v in annotations.items() if k.startswith(LINEAGE_PREFIX) and v is not None}


def as_lineage(annotations: Mapping[str, str]) -> dict[str, str]:
    """Lineage annotations as {lineage key: value} (``storage_uri`` included)."""
    return {k[len(LINEAGE_PREFIX) :].replace("-", "_"): v for k, v in of_annotations(annotations).items()}


def recorded(annotations: Mapping[str, str | None]) -> str:
    """The value of ``kfx.dev/previous-lineage`` a rollout start writes: the current lineage annotations as JSON."""
    return json.dumps(of_annotations(annotations), sort_keys=True, separators=(",", ":"))


def previous(annotations: Mapping[str, str | None], key: str = PREVIOUS_LINEAGE_ANNOTATION) -> dict[str, str]:
    """The lineage annotations recorded when the last kfx rollout started ({} when none were); with ``key``
    :data:`CANDIDATE_LINEAGE_ANNOTATION`, those of a standard-mode canary."""
    raw = annotations.get(key)
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return of_annotations(found) if isinstance(found, dict) else {}


def lineage_patch(current: Mapping[str, str | None], target: Mapping[str, str | None]) -> dict[str, str | None]:
    """Annotation merge patch from the lineage annotations in ``current`` to those in ``target`` (stale keys removed)."""
    patch: dict[str, str | None] = dict.fromkeys(of_annotations(current))
    patch.update(of_annotations(target))
    return patch
