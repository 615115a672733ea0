"""Deploy a blessed model to a KServe InferenceService: push, canary, smoke test, promote or roll back.

Talks to the cluster only through the ``kubernetes`` Python client (``CustomObjectsApi`` on
``serving.kserve.io/v1beta1`` ``inferenceservices``): in-cluster config in a pipeline pod, else a kubeconfig,
or any ``kubernetes.client.ApiClient`` passed in (the tests pass one pointed at a local test double).

The rollout, as KServe's Serverless mode does it (KServe tracks the last revision that had 100% traffic):

1. refuse an unblessed model (``deployed=False``, nothing written, nothing applied);
2. plan, and dry-run the create/patch on the server (``dryRun=All``): RBAC (403), conflicts (409) and schema
   errors (422) fail the step before anything is written;
3. push the model to ``storage_uri`` (temp name, then rename; same digest already there: nothing copied);
4. no InferenceService yet: create it (the first revision gets 100% once ready). It already serves exactly
   this spec: change nothing (the smoke test still runs). This model's revision exists but is pinned (after a
   rollback): test it, then give it 100%. Otherwise merge-patch the predictor to the new ``storageUri`` with
   ``canaryTrafficPercent`` (rollout ``canary``) or without it (rollout ``direct``), sending the
   ``resourceVersion`` read, so a concurrent change is a 409 instead of a silent overwrite;
5. wait (poll, with a timeout; a failed revision fails at once) until the new revision is the latest ready one
   and ``Ready`` is True;
6. send smoke requests built from real eval rows to the new revision's own URL (KServe tag routing: its entry in
   ``status.components.predictor.traffic``);
7. success: promote (remove ``canaryTrafficPercent``: the new revision gets 100%).
   Failure or timeout: roll back (the previous predictor spec with ``canaryTrafficPercent: 0``: the previously
   rolled-out revision keeps all traffic and the spec names the model actually served) and raise ``DeployError``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import time
import urllib.error
import urllib.request
from typing import Any

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared import artifacts
from components._shared.log import get_logger, timed
from components.deploy import storage

log = get_logger("deploy")

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
KIND = "InferenceService"
RESOURCE = f"{PLURAL}.{GROUP}"

#: Annotation kfx sets with each rollout: the storage URI that was serving when the rollout started, so
#: ``resolve_baseline`` can name the stable model while a canary is in flight.
PREVIOUS_URI_ANNOTATION = "kfx.dev/previous-storage-uri"
#: Canary rollouts need KServe's Serverless (Knative) mode; tag routing gives each revision its own URL.
DEFAULT_ANNOTATIONS = {
    "serving.kserve.io/deploymentMode": "Serverless",
    "serving.kserve.io/enable-tag-routing": "true",
}
KFX_RUNTIME = "kfx-predictor"
KFX_MODEL_FORMAT = "kfx"
ROLLOUTS = ("canary", "direct")
_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class DeployError(RuntimeError):
    """The deployment failed; the message says why and what state the InferenceService was left in."""


@dataclasses.dataclass
class DeployResult:
    deployed: bool
    reason: str
    url: str = ""
    revision: str = ""
    storage_uri: str = ""
    traffic: dict[str, int] = dataclasses.field(default_factory=dict)
    changed: bool = False
    previous_storage_uri: str | None = None

    def markdown(self, name: str, namespace: str) -> str:
        headline = f"**deployed**: {self.reason}" if self.deployed else f"**{self.reason}**"
        lines = [f"# Deploy `{namespace}/{name}`", "", headline, ""]
        if self.deployed:
            lines += [
                "| | |",
                "|---|---|",
                f"| endpoint | `{self.url}` |",
                f"| revision | `{self.revision}` |",
                f"| storage URI | `{self.storage_uri}` |",
                f"| previous storage URI | `{self.previous_storage_uri or '-'}` |",
                f"| traffic | {', '.join(f'`{r}` {p}%' for r, p in self.traffic.items()) or '-'} |",
                f"| changed | {'yes' if self.changed else 'no (already serving this model)'} |",
            ]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- blessing, rows


def read_blessing(blessing_dir: str) -> dict:
    path = f"{blessing_dir.rstrip('/')}/{artifacts.BLESSING_FILE}"
    try:
        blessing = artifacts.read_json(path)
    except Exception as e:  # tf.errors.NotFoundError, json errors
        raise DeployError(
            f"cannot read the blessing {path}: {e}; pass the `blessing` output of the evaluate step"
        ) from e
    if not isinstance(blessing, dict) or "blessed" not in blessing:
        raise DeployError(f"blessing {path} has no 'blessed' field")
    return blessing


def label_keys(model_dir: str) -> set[str]:
    """Label columns named in ``model.json`` (dropped from smoke rows: the server rejects unknown features)."""
    path = f"{model_dir.rstrip('/')}/{artifacts.MODEL_META}"
    try:
        meta = artifacts.read_json(path)
    except Exception:
        return set()
    keys = set(meta.get("raw_label_keys") or [])
    if meta.get("label_key"):
        keys.add(meta["label_key"])
    return keys


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


def eval_rows(examples_dir: str, n: int = 8, split: str = "eval") -> list[dict]:
    """The first ``n`` raw rows of a split of an examples artifact as {feature: value} dicts (complete rows first).

    Reads only a few records (the whole split is not loaded); a feature absent from a record is left out.
    """
    import tensorflow as tf

    rows: list[dict] = []
    for raw in tf.data.TFRecordDataset(artifacts.split_files(examples_dir, split)).take(max(4 * n, n)):
        ex = tf.train.Example.FromString(raw.numpy())
        row: dict[str, Any] = {}
        for key, feature in sorted(ex.features.feature.items()):
            kind = feature.WhichOneof("kind")
            values = list(getattr(feature, kind).value) if kind else []
            if len(values) == 1:
                v = values[0]
                row[key] = v.decode("utf-8") if kind == "bytes_list" else (int(v) if kind == "int64_list" else float(v))
        rows.append(row)
    width = max((len(r) for r in rows), default=0)
    rows.sort(key=lambda r: len(r) < width)  # stable: complete rows first, file order kept
    return rows[:n]


def versioned_storage_uri(root: str, name: str, model_dir: str) -> str:
    """``<root>/<name>/<first 12 hex of the model digest>``: one immutable path per model content."""
    if not root:
        raise DeployError("storage_uri is empty; name the root the model is pushed under (local path, gs://, s3://)")
    try:
        digest = storage.model_digest(model_dir)
    except storage.StorageError as e:
        raise DeployError(str(e)) from e
    return f"{root.rstrip('/')}/{name}/{digest[:12]}"


# ---------------------------------------------------------------------------------------------- the object


def build_inference_service(
    name: str,
    namespace: str,
    storage_uri: str,
    runtime: str = "kfx",
    cpu_request: str = "500m",
    memory_request: str = "1Gi",
    cpu_limit: str = "1",
    memory_limit: str = "2Gi",
    service_account: str = "",
    image: str | None = None,
    serving_runtime: str = KFX_RUNTIME,
    min_replicas: int = 1,
) -> dict:
    """The InferenceService kfx applies (validated against KServe's CRD schema in the tests)."""
    resources = {
        "requests": {"cpu": cpu_request, "memory": memory_request},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }
    if runtime == "kfx":
        model: dict[str, Any] = {
            "modelFormat": {"name": KFX_MODEL_FORMAT},
            "runtime": serving_runtime,
            "protocolVersion": "v1",
            "storageUri": storage_uri,
            "resources": resources,
        }
        if image:  # else the kfx-predictor ServingRuntime's image (manifests pin it to serving_image())
            model["image"] = image
    elif runtime == "tensorflow":
        model = {"modelFormat": {"name": "tensorflow"}, "storageUri": storage_uri, "resources": resources}
    else:
        raise DeployError(f"runtime must be 'kfx' or 'tensorflow', got {runtime!r}")
    predictor: dict[str, Any] = {"minReplicas": min_replicas, "model": model}
    if service_account:
        predictor["serviceAccountName"] = service_account
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kfx", "app.kubernetes.io/name": name},
            "annotations": dict(DEFAULT_ANNOTATIONS),
        },
        "spec": {"predictor": predictor},
    }


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


def _contains(have: Any, want: Any) -> bool:
    """True when every field of ``want`` is in ``have`` with the same value (defaults added by KServe ignored)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_contains(have.get(k), v) for k, v in want.items())
    return have == want


def served_storage_uri(isvc: dict) -> str | None:
    """The ``storageUri`` in an InferenceService's predictor spec (new ``model`` schema or a framework key)."""
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    for key in ("model", "tensorflow", "sklearn", "xgboost", "pytorch", "onnx", "triton", "lightgbm", "pmml"):
        uri = (predictor.get(key) or {}).get("storageUri")
        if uri:
            return uri
    for c in predictor.get("containers") or []:
        for env in c.get("env") or []:
            if env.get("name") == "STORAGE_URI":
                return env.get("value")
    return None


def _predictor_status(isvc: dict) -> dict:
    return ((isvc.get("status") or {}).get("components") or {}).get("predictor") or {}


def _condition(isvc: dict, kind: str) -> dict:
    for c in (isvc.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return {}


def traffic_of(isvc: dict) -> dict[str, int]:
    return {
        t.get("revisionName", "?"): int(t.get("percent") or 0) for t in _predictor_status(isvc).get("traffic") or []
    }


def _stable_revision(isvc: dict) -> str | None:
    """The revision holding the most traffic (100% outside a canary)."""
    traffic = [t for t in _predictor_status(isvc).get("traffic") or [] if int(t.get("percent") or 0) > 0]
    if not traffic:
        return None
    return max(traffic, key=lambda t: (int(t.get("percent") or 0), not t.get("latestRevision")))["revisionName"]


# ---------------------------------------------------------------------------------------------- API calls


def _default_api_client() -> Any:
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except Exception as e:
            raise DeployError(
                "no Kubernetes configuration: not running in a pod (no service-account token) and no kubeconfig "
                f"({e}); run the step inside the cluster or set KUBECONFIG"
            ) from e
    return client.ApiClient()


class _Kube:
    """CustomObjectsApi for InferenceServices, with API errors turned into DeployErrors that say what to do."""

    def __init__(self, api_client: Any, namespace: str, name: str) -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(api_client or _default_api_client())
        self.host = self.api.api_client.configuration.host
        self.namespace = namespace
        self.name = name

    def _call(self, verb: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as e:
            raise self._explain(verb, e) from e
        except Exception as e:  # urllib3 connection errors and the like
            if type(e).__module__.startswith(("urllib3", "socket", "ssl")) or isinstance(e, OSError):
                raise DeployError(
                    f"cannot reach the Kubernetes API at {self.host} to {verb} {RESOURCE} "
                    f"{self.namespace}/{self.name}: {e}"
                ) from e
            raise

    def _explain(self, verb: str, e: Any) -> DeployError:
        try:
            message = json.loads(e.body).get("message", "") if e.body else ""
        except (ValueError, AttributeError):
            message = str(e.body or "")
        what = f"{verb} {RESOURCE} '{self.name}' in namespace '{self.namespace}'"
        if e.status == 403:
            return DeployError(
                f"forbidden (HTTP 403) to {what}: {message}. The service account the pipeline runs as needs a Role "
                f"granting get, list, watch, create, patch and update on {RESOURCE} in namespace "
                f"'{self.namespace}' and a RoleBinding to it: apply manifests/base/rbac.yaml (Role kfx-deployer) "
                "and run the pipeline with that service account"
            )
        if e.status == 409:
            return DeployError(
                f"conflict (HTTP 409) on {what}: {message}. Someone else created or changed the InferenceService "
                "while this step ran (kfx sends the resourceVersion it read and never overwrites a concurrent "
                "change); check `kubectl get isvc` and re-run the step"
            )
        if e.status == 404 and verb != "get":
            return DeployError(
                f"not found (HTTP 404) on {what}: {message}. Does namespace '{self.namespace}' exist "
                f"and is KServe (the {RESOURCE} CRD) installed?"
            )
        if e.status == 422:
            return DeployError(f"invalid (HTTP 422) {what}: {message}")
        return DeployError(f"Kubernetes API error (HTTP {e.status} {e.reason}) on {what}: {message}")

    def get(self) -> dict | None:
        """The InferenceService, or None when it does not exist (404 naming it)."""
        from kubernetes.client.exceptions import ApiException

        try:
            return self._call("get", self._get_raw)
        except DeployError as e:
            cause = e.__cause__
            if isinstance(cause, ApiException) and cause.status == 404:
                try:
                    details = json.loads(cause.body or "{}").get("details") or {}
                except (ValueError, AttributeError):
                    details = {}
                if details.get("name") == self.name:
                    return None
                raise DeployError(
                    f"the Kubernetes API at {self.host} has no {RESOURCE} (HTTP 404 without naming '{self.name}'): "
                    "is KServe installed? (see manifests/kind/install.sh)"
                ) from cause
            raise

    def _get_raw(self) -> dict:
        return self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, self.name)

    def create(self, body: dict, dry_run: bool = False) -> dict:
        kwargs = {"dry_run": "All"} if dry_run else {}
        return self._call(
            "create", self.api.create_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL, body, **kwargs
        )

    def patch(self, body: dict, dry_run: bool = False) -> dict:
        kwargs = {"dry_run": "All"} if dry_run else {}
        return self._call(
            "patch", self.api.patch_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL, self.name, body,
            **kwargs,
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------- waiting, smoke


def _wait(kube: _Kube, what: str, done: Any, deadline: float, poll_seconds: float) -> dict:
    """Poll until ``done(isvc)`` returns True (ok) or a string (failure reason); raise TimeoutError at deadline."""
    last: dict = {}
    while True:
        last = kube.get() or {}
        verdict = done(last)
        if verdict is True:
            return last
        if isinstance(verdict, str):
            raise _RolloutFailed(verdict)
        if time.monotonic() >= deadline:
            ready = _condition(last, "Ready")
            raise _RolloutFailed(
                f"timed out waiting for {what} (Ready={ready.get('status', '?')}: "
                f"{ready.get('reason', '')} {ready.get('message', '')})".rstrip()
            )
        time.sleep(poll_seconds)


class _RolloutFailed(Exception):
    pass


def _new_revision_ready(previous_created: str | None, generation: int) -> Any:
    def done(isvc: dict) -> bool | str | None:
        status = isvc.get("status") or {}
        if int(status.get("observedGeneration") or 0) < generation:
            return None
        ps = _predictor_status(isvc)
        created = ps.get("latestCreatedRevision")
        if not created or created == previous_created:
            return None
        ready = _condition(isvc, "Ready")
        pred = _condition(isvc, "PredictorReady") or ready
        if pred.get("status") == "False" and pred.get("reason") in ("RevisionFailed", "RevisionMissing"):
            return f"revision {created} failed to become ready: {pred.get('message') or pred.get('reason')}"
        if ps.get("latestReadyRevision") == created and ready.get("status") == "True":
            return True
        return None

    return done


def _endpoint_of(isvc: dict, revision: str | None = None) -> str:
    """The URL that reaches ``revision`` directly (its traffic tag URL), else the predictor/status URL."""
    ps = _predictor_status(isvc)
    for t in ps.get("traffic") or []:
        if revision and t.get("revisionName") == revision and t.get("url"):
            return t["url"]
    for t in ps.get("traffic") or []:
        if revision is None and t.get("latestRevision") and t.get("url"):
            return t["url"]
    return ps.get("url") or (isvc.get("status") or {}).get("url") or ""


def smoke_test(
    url: str, model_name: str, instances: list[dict], runtime: str = "kfx", timeout_seconds: float = 30.0
) -> int:
    """POST the instances to the V1 predict endpoint; raise _RolloutFailed unless every row gets a finite prediction."""
    if not instances:
        return 0
    body: dict[str, Any] = {"instances": instances}
    if runtime == "tensorflow":
        body["signature_name"] = artifacts.RAW_SIGNATURE  # TF Serving: the dict-of-raw-features signature
    endpoint = f"{url.rstrip('/')}/v1/models/{model_name}:predict"
    req = urllib.request.Request(
        endpoint, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_seconds) as resp:
            payload = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")[:500]
        raise _RolloutFailed(f"smoke request to {endpoint} failed: HTTP {e.code}: {detail}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise _RolloutFailed(f"smoke request to {endpoint} failed: {e}") from e
    predictions = payload.get("predictions") if isinstance(payload, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(instances):
        raise _RolloutFailed(
            f"smoke request to {endpoint} returned {len(predictions) if isinstance(predictions, list) else 'no'} "
            f"predictions for {len(instances)} rows: {str(payload)[:300]}"
        )

    def finite(v: Any) -> bool:
        if isinstance(v, dict):
            return all(finite(x) for x in v.values())
        if isinstance(v, list):
            return all(finite(x) for x in v)
        return not isinstance(v, float) or math.isfinite(v)

    if not finite(predictions):
        raise _RolloutFailed(f"smoke request to {endpoint} returned non-finite predictions: {str(predictions)[:300]}")
    return len(instances)


# ---------------------------------------------------------------------------------------------- deploy


def deploy_model(
    model_dir: str,
    blessing_dir: str,
    name: str,
    namespace: str,
    storage_uri: str,
    canary_traffic_percent: int = 10,
    runtime: str = "kfx",
    cpu_request: str = "500m",
    memory_request: str = "1Gi",
    cpu_limit: str = "1",
    memory_limit: str = "2Gi",
    service_account: str = "",
    rollout: str = "canary",
    timeout_seconds: int = 600,
    smoke_instances: list[dict] | None = None,
    api_client: Any = None,
    image: str | None = None,
    serving_runtime: str = KFX_RUNTIME,
    poll_seconds: float = 2.0,
) -> DeployResult:
    """Deploy the model in ``model_dir`` as InferenceService ``namespace/name`` (see the module docstring).

    Returns ``DeployResult(deployed=False)`` for an unblessed model; raises ``DeployError`` when the rollout
    fails (after rolling back) or the cluster refuses a call.
    """
    # -- check everything before anything is written or applied
    if not _NAME_RE.match(name or "") or len(name) > 45:
        raise DeployError(f"InferenceService name {name!r} must be a DNS-1035 label (a-z, 0-9, '-'; <= 45 chars)")
    if not namespace:
        raise DeployError("namespace is empty; name the Kubernetes namespace to deploy into")
    if rollout not in ROLLOUTS:
        raise DeployError(f"rollout must be one of {', '.join(ROLLOUTS)}, got {rollout!r}")
    if runtime not in storage.RUNTIMES:
        raise DeployError(f"runtime must be one of {', '.join(storage.RUNTIMES)}, got {runtime!r}")
    if rollout == "canary" and not 0 < canary_traffic_percent < 100:
        raise DeployError(
            f"canary_traffic_percent must be between 1 and 99 for a canary rollout, got {canary_traffic_percent}"
        )
    if not storage_uri:
        raise DeployError("storage_uri is empty; name where the model is pushed (local path, gs://, s3://)")
    blessing = read_blessing(blessing_dir)
    if not blessing.get("blessed"):
        reasons = "; ".join(str(r) for r in blessing.get("reasons") or []) or "no reason given"
        log.info("model %s is not blessed (%s): not deploying", model_dir, reasons)
        return DeployResult(deployed=False, reason=f"not deployed: not blessed ({reasons})")
    try:
        storage.check_scheme(storage_uri)
        digest = storage.model_digest(model_dir)
    except storage.StorageError as e:
        raise DeployError(str(e)) from e
    instances = smoke_rows(smoke_instances, label_keys(model_dir))
    deadline = time.monotonic() + timeout_seconds

    kube = _Kube(api_client, namespace, name)
    existing = kube.get()
    desired = build_inference_service(
        name, namespace, storage_uri, runtime, cpu_request, memory_request, cpu_limit, memory_limit,
        service_account, image, serving_runtime,
    )  # fmt: skip
    plan = _plan(existing, desired, rollout, canary_traffic_percent)
    # A server-side dry run (RBAC, admission, schema) before anything is written: a 403/409/422 fails the step
    # with storage untouched.
    if plan["action"] == "create":
        kube.create(desired, dry_run=True)
    elif plan["action"] in ("patch", "promote"):
        _patch_unless_spec_moved(kube, plan["patch"], existing, dry_run=True)
    try:
        storage.push_model(model_dir, storage_uri, runtime, digest=digest)
    except storage.StorageError as e:
        raise DeployError(str(e)) from e

    # -- first deploy
    if existing is None:
        with timed(log, f"creating InferenceService {namespace}/{name} ({storage_uri})"):
            created = kube.create(desired)
        try:
            with timed(log, "waiting for the first revision to become ready"):
                isvc = _wait(
                    kube, "the first revision", _new_revision_ready(None, _gen(created)), deadline, poll_seconds
                )
            revision = _predictor_status(isvc)["latestCreatedRevision"]
            with timed(log, f"smoke test: {len(instances)} eval rows against revision {revision}") as t:
                t["rows"] = smoke_test(_endpoint_of(isvc, revision), name, instances, runtime)
        except _RolloutFailed as e:
            raise DeployError(
                f"first deploy of {namespace}/{name} failed: {e}. There is no previous revision to roll back to; "
                f"the InferenceService is left for inspection (kubectl describe isvc {name} -n {namespace}; "
                f"delete it with kubectl delete isvc {name} -n {namespace})"
            ) from e
        return _result(isvc, True, f"deployed {storage_uri} as the first revision {revision} (100% of traffic)", None)

    if plan["action"] == "none":
        revision = _predictor_status(existing)["latestReadyRevision"]
        log.info("%s/%s already serves %s (revision %s): nothing to change", namespace, name, storage_uri, revision)
        try:  # still answer for it: a first deploy whose smoke test failed must not pass on a re-run
            with timed(log, f"smoke test: {len(instances)} eval rows against revision {revision}") as t:
                t["rows"] = smoke_test(_endpoint_of(existing, revision), name, instances, runtime)
        except _RolloutFailed as e:
            raise DeployError(f"{namespace}/{name} already serves {storage_uri} (revision {revision}), but {e}") from e
        return _result(existing, True, f"already serving {storage_uri} (revision {revision}); nothing changed", None,
                       changed=False)  # fmt: skip

    if plan["action"] == "promote":
        # This model's revision exists already (pinned at 0% by a rollback, or a canary left behind): test it
        # through its own URL, then send it all traffic. No new revision is created.
        revision = plan["revision"]

        def ready(obj: dict) -> bool | str | None:
            pred = _condition(obj, "PredictorReady") or _condition(obj, "Ready")
            if pred.get("status") == "False" and pred.get("reason") in ("RevisionFailed", "RevisionMissing"):
                return f"revision {revision} is not ready: {pred.get('message') or pred.get('reason')}"
            return True if _predictor_status(obj).get("latestReadyRevision") == revision else None

        def promoted(obj: dict) -> bool | None:
            return True if traffic_of(obj).get(revision) == 100 else None

        try:
            isvc = _wait(kube, f"revision {revision} to be ready", ready, deadline, poll_seconds)
            with timed(log, f"smoke test: {len(instances)} eval rows against revision {revision}") as t:
                t["rows"] = smoke_test(_endpoint_of(isvc, revision), name, instances, runtime)
            with timed(log, f"{storage_uri} is revision {revision}'s model already: promoting it to 100%"):
                _patch_unless_spec_moved(kube, plan["patch"], existing)
                isvc = _wait(kube, f"revision {revision} to get 100% of traffic", promoted, deadline, poll_seconds)
        except _RolloutFailed as e:
            raise DeployError(f"promoting revision {revision} ({storage_uri}) of {namespace}/{name} failed: {e}") from e
        return _result(isvc, True, f"deployed {storage_uri}: its revision {revision} now has 100% of traffic", None)

    current_uri, current_predictor, ps = plan["current_uri"], plan["current_predictor"], _predictor_status(existing)
    stable_revision, use_canary, patch = plan["stable_revision"], plan["use_canary"], plan["patch"]
    how = f"canary at {canary_traffic_percent}%" if use_canary else "direct rollout"
    with timed(log, f"rolling out {storage_uri} to {namespace}/{name} ({how}; stable revision {stable_revision})"):
        patched = _patch_unless_spec_moved(kube, patch, existing)
    try:
        with timed(log, "waiting for the new revision to become ready"):
            isvc = _wait(
                kube, "the new revision", _new_revision_ready(ps.get("latestCreatedRevision"), _gen(patched)),
                deadline, poll_seconds,
            )  # fmt: skip
        revision = _predictor_status(isvc)["latestCreatedRevision"]
        with timed(log, f"smoke test: {len(instances)} eval rows against revision {revision}") as t:
            t["rows"] = smoke_test(_endpoint_of(isvc, revision), name, instances, runtime)
    except _RolloutFailed as e:
        _roll_back(kube, current_predictor, stable_revision, poll_seconds, max(timeout_seconds, 60))
        kept = (
            f"revision {stable_revision} ({current_uri}) keeps 100% of traffic"
            if stable_revision
            else f"nothing was serving before; the previous spec ({current_uri}) is restored"
        )
        raise DeployError(f"rollout of {storage_uri} to {namespace}/{name} failed: {e}. Rolled back: {kept}") from e

    if use_canary:
        with timed(log, f"promoting revision {revision} to 100%"):
            kube.patch({"spec": {"predictor": {"canaryTrafficPercent": None}}})

            def promoted(obj: dict) -> bool | None:
                return True if traffic_of(obj).get(revision) == 100 else None

            try:
                isvc = _wait(kube, f"revision {revision} to get 100% of traffic", promoted,
                             time.monotonic() + max(timeout_seconds, 60), poll_seconds)  # fmt: skip
            except _RolloutFailed as e:
                raise DeployError(f"promotion of revision {revision} did not complete: {e}") from e
    return _result(isvc, True, f"deployed {storage_uri} as revision {revision} ({how}, then 100%)", current_uri)


def _plan(existing: dict | None, desired: dict, rollout: str, canary_traffic_percent: int) -> dict:
    """What to apply: create, nothing (this exact spec is fully rolled out), or a merge patch of the predictor."""
    if existing is None:
        return {"action": "create"}
    current_predictor = copy.deepcopy((existing.get("spec") or {}).get("predictor") or {})
    ps = _predictor_status(existing)
    fully_rolled_out = (
        current_predictor.get("canaryTrafficPercent") in (None, 100)
        and ps.get("latestReadyRevision")
        and ps.get("latestReadyRevision") == ps.get("latestCreatedRevision")
        and _condition(existing, "Ready").get("status") == "True"
        and traffic_of(existing).get(ps["latestReadyRevision"]) == 100
    )
    same_spec = _contains({k: v for k, v in current_predictor.items() if k != "canaryTrafficPercent"},
                          desired["spec"]["predictor"])  # fmt: skip
    if same_spec and fully_rolled_out:
        return {"action": "none"}
    if same_spec and ps.get("latestCreatedRevision"):
        # This model's revision exists already (e.g. pinned at 0% by a rollback, or a canary left behind):
        # no new revision comes; send it all traffic once it is ready.
        patch = {"metadata": {"resourceVersion": existing["metadata"]["resourceVersion"]},
                 "spec": {"predictor": {"canaryTrafficPercent": None}}}  # fmt: skip
        return {"action": "promote", "patch": patch, "revision": ps["latestCreatedRevision"]}
    current_uri = served_storage_uri(existing)
    stable_revision = _stable_revision(existing)
    use_canary = rollout == "canary" and stable_revision is not None
    target = copy.deepcopy(desired["spec"]["predictor"])
    target["canaryTrafficPercent"] = canary_traffic_percent if use_canary else None
    annotations = {**DEFAULT_ANNOTATIONS, PREVIOUS_URI_ANNOTATION: current_uri}
    patch = {
        "metadata": {"resourceVersion": existing["metadata"]["resourceVersion"], "annotations": annotations},
        "spec": {"predictor": _overlay(current_predictor, target)},
    }
    return {
        "action": "patch",
        "patch": patch,
        "current_uri": current_uri,
        "current_predictor": current_predictor,
        "stable_revision": stable_revision,
        "use_canary": use_canary,
    }


def _patch_unless_spec_moved(kube: _Kube, patch: dict, read: dict, dry_run: bool = False) -> dict:
    """Patch with the resourceVersion read; on 409, retry once if only the status moved (same generation)."""
    try:
        return kube.patch(patch, dry_run=dry_run)
    except DeployError as e:
        if getattr(e.__cause__, "status", None) != 409:
            raise
        now = kube.get()
        if now is None or _gen(now) != _gen(read):
            raise
        log.info("resourceVersion moved by a status update only (generation %s); retrying the patch once", _gen(now))
        patch["metadata"]["resourceVersion"] = now["metadata"]["resourceVersion"]
        return kube.patch(patch, dry_run=dry_run)


def _gen(obj: dict) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


def _overlay(current: dict, target: dict) -> dict:
    """Merge patch from ``current`` to ``target`` that leaves fields kfx does not manage (KServe defaults) alone."""
    patch = merge_patch(current, target)

    def keep_unmanaged(p: Any, cur: Any, tgt: Any) -> Any:
        if not isinstance(p, dict):
            return p
        out = {}
        for k, v in p.items():
            if v is None and k not in tgt and k != "canaryTrafficPercent":
                continue  # a field kfx doesn't set (e.g. defaulted by the KServe webhook): leave it
            out[k] = keep_unmanaged(v, (cur or {}).get(k), (tgt or {}).get(k)) if isinstance(v, dict) else v
        return out

    return keep_unmanaged(patch, current, target)


def _roll_back(
    kube: _Kube, previous_predictor: dict, stable_revision: str | None, poll_seconds: float, timeout: float
) -> None:
    """Restore the previous predictor spec pinned with ``canaryTrafficPercent: 0``; wait until the stable revision
    has 100% of traffic."""
    now = kube.get() or {}
    target = copy.deepcopy(previous_predictor)
    target["canaryTrafficPercent"] = 0
    patch = {"spec": {"predictor": merge_patch((now.get("spec") or {}).get("predictor") or {}, target)}}
    with timed(log, f"rolling back: previous model spec restored, revision {stable_revision} keeps all traffic"):
        kube.patch(patch)
        if stable_revision:

            def pinned(obj: dict) -> bool | None:
                return True if traffic_of(obj).get(stable_revision) == 100 else None

            try:
                _wait(kube, f"revision {stable_revision} to hold 100% of traffic", pinned, time.monotonic() + timeout,
                      poll_seconds)  # fmt: skip
            except _RolloutFailed as e:
                raise DeployError(f"rollback did not complete: {e}") from e


def _result(isvc: dict, deployed: bool, reason: str, previous: str | None, changed: bool = True) -> DeployResult:
    ps = _predictor_status(isvc)
    revision = ps.get("latestReadyRevision") or ""
    return DeployResult(
        deployed=deployed,
        reason=reason,
        url=(isvc.get("status") or {}).get("url") or ps.get("url") or "",
        revision=revision,
        storage_uri=served_storage_uri(isvc) or "",
        traffic=traffic_of(isvc),
        changed=changed,
        previous_storage_uri=previous,
    )


# ---------------------------------------------------------------------------------------------- baseline


def baseline_of(isvc: dict | None) -> str | None:
    """Storage URI of the model an InferenceService object serves to most traffic; None when it serves nothing."""
    if not isvc or _stable_revision(isvc) is None:
        return None
    canary = ((isvc.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")
    if canary is not None and 0 < int(canary) < 100:
        # A canary is in flight: the spec names the canary; the stable model is the one the rollout started from.
        previous = ((isvc.get("metadata") or {}).get("annotations") or {}).get(PREVIOUS_URI_ANNOTATION)
        if not previous:
            meta = isvc.get("metadata") or {}
            raise DeployError(
                f"InferenceService {meta.get('namespace')}/{meta.get('name')} is mid-canary ({canary}%) and has no "
                f"{PREVIOUS_URI_ANNOTATION} annotation naming the stable model; promote or roll back the canary first"
            )
        return previous
    return served_storage_uri(isvc)


def resolve_baseline(name: str, namespace: str, api_client: Any = None) -> str | None:
    """Storage URI of the model InferenceService ``namespace/name`` serves to most traffic, or None ("no baseline")
    when it does not exist or serves nothing yet."""
    isvc = _Kube(api_client, namespace, name).get()
    uri = baseline_of(isvc)
    if uri is None:
        why = "no InferenceService" if isvc is None else "InferenceService serves no traffic yet"
        log.info("no baseline for %s/%s: %s", namespace, name, why)
    else:
        log.info("baseline of %s/%s: %s (revision %s)", namespace, name, uri, _stable_revision(isvc))
    return uri
