"""Smoke requests: real eval rows sent to a model's cluster-local address before any traffic moves to it.

Addresses are the ones a pipeline pod can reach: ``status.address.url`` / ``status.components.predictor.address``
(``http://<name>-predictor.<namespace>.svc.cluster.local``) and, for one Knative revision, its traffic tag's
cluster-local name (``<tag>-<name>-predictor.<namespace>.svc.cluster.local``). Never the traffic-tag URLs under the
Knative domain (``*.example.com`` on a kind setup), which do not resolve inside the cluster. Every request carries
the address's host as its ``Host`` header, which is what Knative's cluster-local gateway routes on.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from components._shared import artifacts
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts import model as model_layout
from components.deploy import isvc as isvc_lib
from components.deploy.errors import RolloutFailed
from components.deploy.isvc import main_address  # noqa: F401  (re-exported: its old home)

#: TEST HOOK, not a cluster feature: names a JSON file {host: "127.0.0.1:port"} that the Kubernetes API test double
#: writes, so a smoke request to a cluster-local name is sent to the local server standing in for it (with the
#: cluster-local Host header, as in a cluster). Unset in a cluster: requests go to the address itself.
ADDRESS_OVERRIDES_ENV = "KFX_TEST_ADDRESS_OVERRIDES"


def label_keys(model_dir: str) -> set[str]:
    """Label columns named in ``model.json`` (dropped from smoke rows: the server rejects unknown features)."""
    try:
        meta = model_layout.read_model_meta(model_dir)
    except Exception:
        return set()
    keys = set(meta.get("raw_label_keys") or [])
    if meta.get("label_key"):
        keys.add(meta["label_key"])
    return keys


def eval_rows(examples_dir: str, n: int = 8, split: str = "eval") -> list[dict]:
    """The first ``n`` raw rows of a split of an examples artifact as {feature: value} dicts (complete rows first).

    Read by the examples layout's reader (``artifacts.examples.read_rows``) from the first ``4 n`` rows; a feature
    without a value in a row is left out.
    """
    rows = examples_layout.read_rows(examples_dir, split, max(4 * n, 1))
    width = max((len(r) for r in rows), default=0)
    rows.sort(key=lambda r: len(r) < width)  # stable: complete rows first, file order kept
    return rows[:n]


def smoke_rows(rows: list[dict] | None, drop: set[str]) -> list[dict]:
    """Raw eval rows as JSON-safe instances: labels dropped, missing (None/NaN) values left out."""
    out = []
    for row in rows or []:
        inst = {}
        for k, v in row.items():
            if k in drop or v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif hasattr(v, "item"):  # numpy scalar
                v = v.item()
            inst[k] = v
        out.append(inst)
    return out


# ---------------------------------------------------------------------------------------------- addresses


def revision_address(obj: dict, revision: str) -> str:
    """The cluster-local address of one Knative revision: its traffic tag prefixed to the predictor's host."""
    ps = isvc_lib.predictor_status(obj)
    tag = next((t.get("tag") for t in ps.get("traffic") or [] if t.get("revisionName") == revision), None)
    if not tag:
        raise RolloutFailed(
            f"revision {revision} has no traffic tag, so it has no address of its own; the InferenceService needs "
            f"the annotation {isvc_lib.TAG_ROUTING_ANNOTATION}: 'true' (kfx sets it in Knative mode)"
        )
    meta = obj.get("metadata") or {}
    predictor = (ps.get("address") or {}).get("url") or (
        f"http://{meta.get('name')}-predictor.{meta.get('namespace')}.svc.cluster.local"
    )
    parts = urllib.parse.urlsplit(predictor)
    return urllib.parse.urlunsplit((parts.scheme, f"{tag}-{parts.netloc}", parts.path, "", ""))


def connect_to(url: str) -> tuple[str, str]:
    """(URL to connect to, Host header): the address itself, or its test-double stand-in (see the env hook)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc
    path = os.environ.get(ADDRESS_OVERRIDES_ENV)
    if path:
        with open(path) as f:
            overrides = json.load(f)
        if parts.hostname in overrides:
            return urllib.parse.urlunsplit((parts.scheme, overrides[parts.hostname], parts.path, "", "")), host
    return url, host


# ---------------------------------------------------------------------------------------------- requests


def _finite(v: Any) -> bool:
    if isinstance(v, dict):
        return all(_finite(x) for x in v.values())
    if isinstance(v, list):
        return all(_finite(x) for x in v)
    return not isinstance(v, float) or math.isfinite(v)


#: How long a cluster-local name may take to resolve after its Service reports Ready (cluster DNS, and its negative
#: cache, can lag the Ready condition of a brand-new Service).
DNS_GRACE_SECONDS = 30.0


def _post_json(req: urllib.request.Request, timeout_seconds: float, dns_grace: float = DNS_GRACE_SECONDS) -> Any:
    """The JSON answer to ``req``; a name that does not resolve yet is retried for ``dns_grace`` seconds (only that:
    refused connections, HTTP errors and bad answers fail at once)."""
    deadline = time.monotonic() + dns_grace
    while True:
        try:
            with urllib.request.urlopen(req, timeout=timeout_seconds) as resp:
                return json.loads(resp.read())
        except urllib.error.URLError as e:
            if not isinstance(e.reason, socket.gaierror) or time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def smoke_test(
    url: str, model_name: str, instances: list[dict], runtime: str = "kfx", timeout_seconds: float = 30.0
) -> int:
    """POST the instances to the V1 predict endpoint at ``url``; RolloutFailed unless every row gets a finite
    prediction."""
    if not instances:
        return 0
    body: dict[str, Any] = {"instances": instances}
    if runtime == "tensorflow":
        body["signature_name"] = artifacts.RAW_SIGNATURE  # TF Serving: the dict-of-raw-features signature
    endpoint = f"{url.rstrip('/')}/v1/models/{model_name}:predict"
    target, host = connect_to(endpoint)
    req = urllib.request.Request(target, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Host": host})  # fmt: skip
    try:
        payload = _post_json(req, timeout_seconds)
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")[:500]
        raise RolloutFailed(f"smoke request to {endpoint} failed: HTTP {e.code}: {detail}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise RolloutFailed(f"smoke request to {endpoint} failed: {e}") from e
    predictions = payload.get("predictions") if isinstance(payload, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(instances):
        got = len(predictions) if isinstance(predictions, list) else "no"
        raise RolloutFailed(
            f"smoke request to {endpoint} returned {got} predictions for {len(instances)} rows: {str(payload)[:300]}"
        )
    if not _finite(predictions):
        raise RolloutFailed(f"smoke request to {endpoint} returned non-finite predictions: {str(predictions)[:300]}")
    return len(instances)
