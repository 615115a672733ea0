"""KubeApiTestDouble — a test double of the Kubernetes API for InferenceService objects, NOT a cluster.

What it is: an HTTP server on 127.0.0.1 (random port) that answers the real API paths the ``kubernetes``
Python client's ``CustomObjectsApi`` uses for ``serving.kserve.io/v1beta1`` ``inferenceservices``
(GET / LIST / POST / PATCH (merge-patch, json-patch, strategic-merge treated as merge) / PUT / DELETE) with
real ``Status`` error bodies, ``resourceVersion`` / ``generation`` bookkeeping, optimistic concurrency
(409 on a stale ``metadata.resourceVersion``), and validation of every written object against the
InferenceService CRD's openAPIV3Schema when one is given (422 like the API server).

Its simulated controller imitates KServe's Serverless mode in one respect only — revisions and traffic:
each change of ``spec.predictor`` (other than ``canaryTrafficPercent``) creates a revision
``<name>-predictor-0000N`` whose "pod" is a REAL kfx model server process
(``python -m components.serving --model-dir <storageUri as a local path> ...`` in ``.venv-serving``);
revisions whose model dir and model name are identical share one server process. It reports readiness in
``status.conditions`` and ``status.components.predictor`` (latestCreatedRevision, latestReadyRevision,
latestRolledoutRevision, previousRolledoutRevision, traffic with percents and tags ``latest`` / ``prev``,
url) the way KServe does: the last revision that had 100% keeps ``100 - canaryTrafficPercent``; a revision
that is not ready gets no traffic. With ``serving.kserve.io/deploymentMode: RawDeployment`` (or ``Standard``) it
imitates KServe's standard mode instead: no revisions and no traffic split, one "Deployment" whose old server
keeps serving until the server of a changed spec is ready (a rolling update), ``canaryTrafficPercent`` ignored.

Addresses are the ones KServe hands out, not local ones: ``status.address.url`` and the predictor's
``address.url`` are cluster-local (``http://<name>[-predictor].<ns>.svc.cluster.local``), the traffic-tag and
``status.url`` URLs are under the Knative domain ``example.com`` (which a pod cannot resolve, as on kind). The
double routes nothing itself; its ADDRESS-OVERRIDE HOOK maps cluster-local host names to the local servers
standing in for them: a JSON file {host: "127.0.0.1:port"} at ``address_overrides_path``, rewritten as servers
come and go, read by kfx's smoke requests when ``KFX_TEST_ADDRESS_OVERRIDES`` names it (``local_url`` does the
same for tests). Every request's (verb, group, resource) is recorded (``used_permissions``) for the RBAC test.

What it is not: no pods, no Knative, no storage initializer (``storageUri`` must be a local path or
``file://``), no TF Serving (``modelFormat: tensorflow`` revisions fail with a message saying so), no watch.

Fault injection: ``forbid(verb)`` (403), ``conflict(verb, times)`` (409), ``hold(storage_uri)`` (revisions of
that model never become ready). A model that fails to load (corrupt SavedModel) fails its revision because
the real server exits; a model server that answers 400/500 fails a smoke request for real.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVING_PYTHON = os.path.join(PROJECT_ROOT, ".venv-serving", "bin", "python")
GROUP, VERSION, PLURAL, KIND = "serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService"
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
#: The Knative domain of a kind setup: URLs under it do not resolve from inside the cluster (nor here).
KNATIVE_DOMAIN = "example.com"

_PATH = re.compile(rf"^/apis/{re.escape(GROUP)}/{VERSION}(?:/namespaces/([^/]+))?/{PLURAL}(?:/([^/]+))?(/status)?$")


# ------------------------------------------------------------------------------------------- CRD schema helpers


def crd_schema(crd: dict, version: str = VERSION) -> dict:
    """The openAPIV3Schema of ``version`` in a CRD document, turned into a JSON Schema ``jsonschema`` can check:
    ``nullable`` becomes a "null" type; ``x-kubernetes-int-or-string`` becomes int-or-string;
    other ``x-kubernetes-*`` extensions are dropped."""
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return _to_json_schema(v["schema"]["openAPIV3Schema"])
    raise KeyError(f"CRD {crd['metadata']['name']} has no version {version}")


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def validate_against_crd(obj: dict, schema: dict) -> list[str]:
    """Schema errors plus fields the API server would silently prune (unknown to a structural schema)."""
    import jsonschema

    errors = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]  # fmt: skip
    errors += [f"{p}: unknown field (the API server would prune it)" for p in unknown_fields(obj, schema)]
    return errors


def unknown_fields(obj: Any, schema: dict, path: str = "") -> list[str]:
    if not isinstance(schema, dict):
        return []
    if isinstance(obj, dict) and schema.get("type") in ("object", ["object", "null"]):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        out = []
        for k, v in obj.items():
            p = f"{path}/{k}"
            if props is not None and k in props:
                out += unknown_fields(v, props[k], p)
            elif isinstance(extra, dict):
                out += unknown_fields(v, extra, p)
            elif props is not None and extra is None and path != "/metadata" and not _preserves(schema):
                out.append(p)
        return out
    if isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [e for i, v in enumerate(obj) for e in unknown_fields(v, schema["items"], f"{path}/{i}")]
    return []


def _preserves(schema: dict) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


# ------------------------------------------------------------------------------------------- patches


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = apply_merge_patch(out.get(k), v)
    return out


def apply_json_patch(doc: Any, ops: list[dict]) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, test, copy, move)."""
    doc = copy.deepcopy(doc)

    def split(pointer: str) -> list[str]:
        return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]

    def parent(d: Any, parts: list[str]) -> Any:
        for p in parts[:-1]:
            d = d[int(p)] if isinstance(d, list) else d[p]
        return d

    def get(d: Any, pointer: str) -> Any:
        for p in split(pointer):
            d = d[int(p)] if isinstance(d, list) else d[p]
        return d

    def remove(d: Any, pointer: str) -> Any:
        parts = split(pointer)
        c = parent(d, parts)
        return c.pop(int(parts[-1])) if isinstance(c, list) else c.pop(parts[-1])

    def add(d: Any, pointer: str, value: Any) -> None:
        parts = split(pointer)
        c = parent(d, parts)
        if isinstance(c, list):
            c.insert(len(c) if parts[-1] == "-" else int(parts[-1]), value)
        else:
            c[parts[-1]] = value

    for op in ops:
        kind, path = op["op"], op["path"]
        if kind == "add":
            add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            remove(doc, path)
        elif kind == "replace":
            remove(doc, path)
            add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "test":
            if get(doc, path) != op["value"]:
                raise ValueError(f"test failed at {path}")
        elif kind == "copy":
            add(doc, path, copy.deepcopy(get(doc, op["from"])))
        elif kind == "move":
            add(doc, path, remove(doc, op["from"]))
        else:
            raise ValueError(f"unknown json-patch op {kind!r}")
    return doc


# ------------------------------------------------------------------------------------------- model servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kfx_server_command(model_dir: str, model_name: str, port: int) -> list[str]:
    """The real kfx model server, as the kfx-predictor ServingRuntime runs it (``manifests/base/servingruntime.yaml``)."""
    return [SERVING_PYTHON, "-m", "components.serving", "--model-dir", model_dir, "--model-name", model_name,
            "--host", "127.0.0.1", "--http-port", str(port)]  # fmt: skip


class _Server:
    """One model server process (a revision's "pod")."""

    def __init__(self, command: list[str], model_name: str, port: int, log_dir: str) -> None:
        self.port = port
        self.model_name = model_name
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = os.path.join(log_dir, f"server-{port}.log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=PROJECT_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.ready = False
        self.failed: str | None = None

    def poll(self) -> None:
        if self.ready or self.failed:
            if self.ready and self.proc.poll() is not None:
                self.ready, self.failed = False, f"container exited with code {self.proc.returncode}: {self.tail()}"
            return
        if self.proc.poll() is not None:
            self.failed = f"container failed with exit code {self.proc.returncode}: {self.tail()}"
            return
        try:
            with urllib.request.urlopen(f"{self.url}/v1/models/{self.model_name}", timeout=0.5) as r:
                self.ready = r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            pass

    def tail(self, n: int = 600) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as f:
            data = f.read()
        return data[-n:].decode("utf-8", "replace").strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


# ------------------------------------------------------------------------------------------- the double


class _Revision:
    def __init__(self, name: str, storage_uri: str, server: _Server | None, failed: str | None, held: bool) -> None:
        self.name, self.storage_uri, self.server, self._failed, self.held = name, storage_uri, server, failed, held

    @property
    def ready(self) -> bool:
        return self.server is not None and self.server.ready and not self.held

    @property
    def failed(self) -> str | None:
        return self._failed or (self.server.failed if self.server else None)

    @property
    def url(self) -> str:
        return self.server.url if self.server else ""


class _State:
    def __init__(self) -> None:
        self.template: str | None = None
        self.revisions: list[_Revision] = []
        self.rolled_out: str | None = None
        self.previous_rolled_out: str | None = None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeApiTestDouble:
    """A test double of the Kubernetes API for InferenceService objects, NOT a cluster (see the module docstring).

    Use as a context manager; ``api_client()`` returns a real ``kubernetes.client.ApiClient`` pointed at it.
    """

    def __init__(
        self,
        schema: dict | None = None,
        server_command: Callable[[str, str, int], list[str]] = kfx_server_command,
        tick_seconds: float = 0.1,
    ) -> None:
        self.schema = schema
        self.server_command = server_command
        self.tick_seconds = tick_seconds
        self.objects: dict[tuple[str, str], dict] = {}
        self.states: dict[tuple[str, str], _State] = {}
        self.servers: dict[tuple[str, str], _Server] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API request
        self.permissions: list[tuple[str, str, str]] = []  # (verb, API group, resource) of every API request
        self.server_starts = 0
        self.traffic_history: dict[tuple[str, str], list[dict[str, int]]] = {}
        self._forbidden: set[str] = set()
        self._conflicts: dict[str, int] = {}
        self._held: set[str] = set()
        self._rv = 1000
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._log_dir = tempfile.mkdtemp(prefix="kube-api-double-")
        self.address_overrides_path = os.path.join(self._log_dir, "address-overrides.json")
        self._overrides: dict[str, str] = {}
        self._write_overrides()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self.host = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._threads = [
            threading.Thread(target=self._http.serve_forever, args=(0.05,), name="kube-api-double-http", daemon=True),
            threading.Thread(target=self._control_loop, name="kube-api-double-controller", daemon=True),
        ]

    # -- lifecycle
    def start(self) -> KubeApiTestDouble:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        """Stop the API server, the controller and every model server process."""
        self._stop.set()
        self._http.shutdown()
        self._http.server_close()
        for t in self._threads:
            t.join(10)
        with self._lock:
            for server in self.servers.values():
                server.stop()

    def __enter__(self) -> KubeApiTestDouble:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def api_client(self) -> Any:
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.host
        return client.ApiClient(cfg)

    # -- fault injection
    def forbid(self, verb: str) -> None:
        """Answer 403 Forbidden to ``verb`` (get, list, create, patch, update, delete)."""
        self._forbidden.add(verb)

    def conflict(self, verb: str, times: int = 1) -> None:
        """Answer 409 Conflict to the next ``times`` requests of ``verb``."""
        self._conflicts[verb] = self._conflicts.get(verb, 0) + times

    def hold(self, storage_uri: str) -> None:
        """Revisions serving ``storage_uri`` never become ready (their server is never started)."""
        self._held.add(storage_uri.rstrip("/"))

    def clear_faults(self) -> None:
        self._forbidden.clear()
        self._conflicts.clear()
        self._held.clear()

    # -- introspection for tests
    def get(self, namespace: str, name: str) -> dict | None:
        with self._lock:
            obj = self.objects.get((namespace, name))
            return copy.deepcopy(obj) if obj else None

    def revisions(self, namespace: str, name: str) -> list[dict]:
        with self._lock:
            state = self.states.get((namespace, name))
            return [
                {"name": r.name, "storage_uri": r.storage_uri, "ready": r.ready, "failed": r.failed, "url": r.url}
                for r in (state.revisions if state else [])
            ]

    def processes(self) -> list[subprocess.Popen]:
        with self._lock:
            return [s.proc for s in self.servers.values()]

    def used_permissions(self) -> set[tuple[str, str, str]]:
        """The (verb, API group, resource) of every request so far: what RBAC must grant."""
        return set(self.permissions)

    def local_url(self, url: str) -> str:
        """TEST HOOK: a cluster-local URL rewritten to the local server standing in for it (unchanged if unknown)."""
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        with self._lock:
            netloc = self._overrides.get(parts.hostname or "", parts.netloc)
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def _write_overrides(self) -> None:
        tmp = self.address_overrides_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self._overrides, f)
        os.replace(tmp, self.address_overrides_path)

    def mutating_requests(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] in ("POST", "PATCH", "PUT", "DELETE")]

    # -- API semantics
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _status(self, code: int, reason: str, message: str, name: str = "") -> tuple[int, dict]:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
            "details": {"group": GROUP, "kind": PLURAL, **({"name": name} if name else {})},
        }
        return code, body

    def _forbid_check(self, verb: str, namespace: str, name: str) -> tuple[int, dict] | None:
        if verb in self._forbidden:
            who = 'User "system:serviceaccount:kubeflow:pipeline-runner"'
            what = f'{PLURAL}.{GROUP} "{name}"' if name else f"{PLURAL}.{GROUP}"
            return self._status(
                403, "Forbidden",
                f'{what} is forbidden: {who} cannot {verb} resource "{PLURAL}" in API group "{GROUP}" '
                f'in the namespace "{namespace}"', name,
            )  # fmt: skip
        if self._conflicts.get(verb, 0) > 0:
            self._conflicts[verb] -= 1
            return self._status(
                409, "Conflict",
                f'Operation cannot be fulfilled on {PLURAL}.{GROUP} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again", name,
            )  # fmt: skip
        return None

    def _validate(self, obj: dict) -> tuple[int, dict] | None:
        if self.schema is None:
            return None
        errors = [e for e in validate_against_crd(obj, self.schema) if "unknown field" not in e]
        if errors:
            name = obj.get("metadata", {}).get("name", "")
            return self._status(422, "Invalid", f'{KIND}.{GROUP} "{name}" is invalid: ' + "; ".join(errors[:5]), name)
        return None

    def handle(self, method: str, path: str, content_type: str, body: Any) -> tuple[int, dict]:
        self.requests.append((method, path))
        m = _PATH.match(path.split("?", 1)[0])
        if not m:
            return self._status(404, "NotFound", "the server could not find the requested resource")
        namespace, name, status_sub = m.group(1), m.group(2), m.group(3)
        dry_run = "dryRun=All" in (path.split("?", 1)[1] if "?" in path else "")
        verb = {"GET": "get" if name else "list", "POST": "create", "PATCH": "patch", "PUT": "update",
                "DELETE": "delete"}.get(method)  # fmt: skip
        if verb is None:
            return self._status(405, "MethodNotAllowed", f"method {method} not allowed")
        self.permissions.append((verb, GROUP, PLURAL + ("/status" if status_sub else "")))
        with self._lock:
            refused = self._forbid_check(verb, namespace or "", name or "")
            if refused:
                return refused
            key = (namespace, name)
            if verb == "list":
                items = [copy.deepcopy(o) for (ns, _), o in sorted(self.objects.items()) if namespace in (None, ns)]
                return 200, {"apiVersion": f"{GROUP}/{VERSION}", "kind": f"{KIND}List",
                             "metadata": {"resourceVersion": str(self._rv)}, "items": items}  # fmt: skip
            if verb == "create":
                if not isinstance(body, dict):
                    return self._status(400, "BadRequest", "body must be a JSON object")
                obj = copy.deepcopy(body)
                meta = obj.setdefault("metadata", {})
                name = meta.get("name") or ""
                if not name:
                    return self._status(422, "Invalid", f"{KIND}.{GROUP} is invalid: metadata.name: Required value")
                if meta.get("namespace", namespace) != namespace:
                    return self._status(400, "BadRequest", "the namespace of the object does not match the request")
                if (namespace, name) in self.objects:
                    return self._status(409, "AlreadyExists", f'{PLURAL}.{GROUP} "{name}" already exists', name)
                obj.pop("status", None)
                invalid = self._validate(obj)
                if invalid:
                    return invalid
                meta.update(namespace=namespace, uid=str(uuid.uuid4()), generation=1, creationTimestamp=_now())
                if dry_run:
                    return 201, copy.deepcopy(obj)
                meta["resourceVersion"] = self._next_rv()
                self.objects[(namespace, name)] = obj
                self.states[(namespace, name)] = _State()
                return 201, copy.deepcopy(obj)
            current = self.objects.get(key)
            if current is None:
                return self._status(404, "NotFound", f'{PLURAL}.{GROUP} "{name}" not found', name)
            if verb == "get":
                return 200, copy.deepcopy(current)
            if verb == "delete":
                if dry_run:
                    return 200, copy.deepcopy(current)
                del self.objects[key]
                self.states.pop(key, None)
                self._route({h: None for h in self.hosts(namespace, name).values()}, drop_suffix=f"-{name}-predictor."
                            f"{namespace}.svc.cluster.local")  # fmt: skip
                return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                             "details": {"name": name, "group": GROUP, "kind": PLURAL}}  # fmt: skip
            # patch / update
            try:
                if verb == "update":
                    new = copy.deepcopy(body)
                elif content_type.startswith("application/json-patch+json"):
                    new = apply_json_patch(current, body)
                elif content_type.startswith(("application/merge-patch+json", "application/strategic-merge-patch")):
                    new = apply_merge_patch(current, body)
                else:
                    return self._status(415, "UnsupportedMediaType", f"the body of the request was in an unknown "
                                        f"format - accepted media types include: application/json-patch+json, "
                                        f"application/merge-patch+json ({content_type})")  # fmt: skip
            except (ValueError, KeyError, IndexError, TypeError) as e:
                return self._status(422, "Invalid", f"the patch could not be applied: {e}", name)
            if not isinstance(new, dict):
                return self._status(400, "BadRequest", "the result is not an object")
            sent_rv = (new.get("metadata") or {}).get("resourceVersion")
            if verb == "patch" and isinstance(body, dict):
                sent_rv = (body.get("metadata") or {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                return self._status(
                    409, "Conflict",
                    f'Operation cannot be fulfilled on {PLURAL}.{GROUP} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again", name,
                )  # fmt: skip
            meta = new.setdefault("metadata", {})
            for k in ("name", "namespace", "uid", "creationTimestamp", "generation"):
                meta[k] = current["metadata"][k]
            if status_sub:
                new = {**copy.deepcopy(current), "status": new.get("status")}
            else:
                new["status"] = copy.deepcopy(current.get("status"))
                if new.get("status") is None:
                    new.pop("status")
                if new.get("spec") != current.get("spec"):
                    meta["generation"] = current["metadata"]["generation"] + 1
            invalid = self._validate({k: v for k, v in new.items() if k != "status"})
            if invalid:
                return invalid
            if dry_run:
                return 200, new
            if new != current:
                new["metadata"]["resourceVersion"] = self._next_rv()
                self.objects[key] = new
            return 200, copy.deepcopy(self.objects[key])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    code, payload = double._status(400, "BadRequest", "the body is not valid JSON")
                else:
                    code, payload = double.handle(self.command, self.path, self.headers.get("Content-Type", ""), body)
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        return Handler

    # -- the simulated controller
    def _control_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                for server in list(self.servers.values()):
                    server.poll()
                for key in list(self.objects):
                    self._reconcile(key)
            self._stop.wait(self.tick_seconds)

    def _server_for(self, model_dir: str, model_name: str) -> _Server:
        key = (os.path.realpath(model_dir), model_name)
        server = self.servers.get(key)
        if server is None:
            port = free_port()
            server = _Server(self.server_command(model_dir, model_name, port), model_name, port, self._log_dir)
            self.servers[key] = server
            self.server_starts += 1
        return server

    def _new_revision(self, key: tuple[str, str], obj: dict, state: _State) -> _Revision:
        namespace, name = key
        rev_name = f"{name}-predictor-{len(state.revisions) + 1:05d}"
        model = ((obj.get("spec") or {}).get("predictor") or {}).get("model") or {}
        uri = str(model.get("storageUri") or "")
        fmt = (model.get("modelFormat") or {}).get("name")
        held = uri.rstrip("/") in self._held
        if fmt != "kfx":
            return _Revision(rev_name, uri, None, f"the test double runs only kfx predictor revisions "
                             f"(modelFormat kfx), not modelFormat {fmt!r} (no TF Serving here)", held)  # fmt: skip
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        if "://" in path or not os.path.isdir(path):
            return _Revision(rev_name, uri, None, f"storage-initializer: cannot download {uri!r} "
                             "(the test double reads existing local directories only)", held)  # fmt: skip
        server = None if held else self._server_for(path, name)
        return _Revision(rev_name, uri, server, None, held)

    def _reconcile(self, key: tuple[str, str]) -> None:
        obj = self.objects[key]
        mode = str(((obj.get("metadata") or {}).get("annotations") or {}).get(MODE_ANNOTATION, "Serverless"))
        if mode.lower() in ("rawdeployment", "standard"):
            self._reconcile_standard(key, obj, self.states[key])
        else:
            self._reconcile_knative(key, obj, self.states[key])

    @staticmethod
    def hosts(namespace: str, name: str) -> dict[str, str]:
        """The host names KServe gives an InferenceService: cluster-local ones and those under the Knative domain."""
        return {
            "local": f"{name}.{namespace}.svc.cluster.local",
            "predictor_local": f"{name}-predictor.{namespace}.svc.cluster.local",
            "external": f"{name}.{namespace}.{KNATIVE_DOMAIN}",
            "predictor_external": f"{name}-predictor.{namespace}.{KNATIVE_DOMAIN}",
        }

    def _route(self, mapping: dict[str, _Server | None], drop_suffix: str | None = None) -> None:
        """Point cluster-local host names at local servers (the address-override hook)."""
        new = dict(self._overrides)
        if drop_suffix:
            new = {h: a for h, a in new.items() if not h.endswith(drop_suffix)}
        for host, server in mapping.items():
            if server is not None:
                new[host] = f"127.0.0.1:{server.port}"
            else:
                new.pop(host, None)
        if new != self._overrides:
            self._overrides = new
            self._write_overrides()

    def _reconcile_knative(self, key: tuple[str, str], obj: dict, state: _State) -> None:
        namespace, name = key
        hosts = self.hosts(namespace, name)
        predictor = dict((obj.get("spec") or {}).get("predictor") or {})
        canary = predictor.pop("canaryTrafficPercent", None)
        template = json.dumps(predictor, sort_keys=True)
        if template != state.template:
            state.template = template
            state.revisions.append(self._new_revision(key, obj, state))
        latest = state.revisions[-1]
        by_name = {r.name: r for r in state.revisions}
        entries: list[tuple[_Revision, int, str]] = []  # (revision, percent, tag)
        if latest.ready:
            if state.rolled_out is None or canary in (None, 100) or state.rolled_out == latest.name:
                if state.rolled_out != latest.name:
                    state.previous_rolled_out, state.rolled_out = state.rolled_out, latest.name
                entries = [(latest, 100, "latest")]
            else:
                entries = [(latest, int(canary), "latest"), (by_name[state.rolled_out], 100 - int(canary), "prev")]
        elif state.rolled_out is not None:
            entries = [(by_name[state.rolled_out], 100, "prev")]
        traffic = [
            {"revisionName": r.name, "percent": pct, "latestRevision": r is latest, "tag": tag,
             "url": f"http://{tag}-{hosts['predictor_external']}"}
            for r, pct, tag in entries
        ]  # fmt: skip
        main = max(entries, key=lambda e: e[1])[0] if entries else None
        self._route({hosts["local"]: main and main.server, hosts["predictor_local"]: main and main.server,
                     **{f"{tag}-{hosts['predictor_local']}": r.server for r, _, tag in entries}},
                    drop_suffix=f"-{hosts['predictor_local']}")  # fmt: skip
        ready_revs = [r for r in state.revisions if r.ready]
        if latest.ready:
            cond = {"status": "True"}
        elif latest.failed:
            cond = {"status": "False", "reason": "RevisionFailed",
                    "message": f'Revision "{latest.name}" failed with message: {latest.failed}'}  # fmt: skip
        else:
            cond = {"status": "Unknown", "reason": "RevisionNotReady",
                    "message": f'Revision "{latest.name}" is not ready yet'}  # fmt: skip
        predictor_status: dict[str, Any] = {"latestCreatedRevision": latest.name}
        if ready_revs:
            predictor_status["latestReadyRevision"] = ready_revs[-1].name
        if state.rolled_out:
            predictor_status["latestRolledoutRevision"] = state.rolled_out
        if state.previous_rolled_out:
            predictor_status["previousRolledoutRevision"] = state.previous_rolled_out
        if traffic:
            predictor_status["traffic"] = traffic
            predictor_status["url"] = f"http://{hosts['predictor_external']}"
            predictor_status["address"] = {"url": f"http://{hosts['predictor_local']}"}
        split = {t["revisionName"]: t["percent"] for t in traffic}
        self._set_status(key, obj, cond, bool(traffic), predictor_status, "Serverless", split)

    def _reconcile_standard(self, key: tuple[str, str], obj: dict, state: _State) -> None:
        """KServe's standard (RawDeployment) mode: one Deployment, rolling update, no revisions or traffic split."""
        namespace, name = key
        hosts = self.hosts(namespace, name)
        predictor = dict((obj.get("spec") or {}).get("predictor") or {})
        predictor.pop("canaryTrafficPercent", None)  # ignored in this mode, as by KServe
        template = json.dumps(predictor, sort_keys=True)
        if template != state.template:
            state.template = template
            state.revisions.append(self._new_revision(key, obj, state))  # the Deployment's new ReplicaSet
        latest = state.revisions[-1]
        if latest.ready and state.rolled_out != latest.name:
            state.previous_rolled_out, state.rolled_out = state.rolled_out, latest.name
        serving = {r.name: r for r in state.revisions}.get(state.rolled_out or "")
        self._route({hosts["predictor_local"]: serving and serving.server})
        if latest.ready:
            cond = {"status": "True"}
        elif latest.failed:
            cond = {"status": "False", "reason": "RevisionFailed", "message": f"predictor failed: {latest.failed}"}
        else:
            cond = {"status": "Unknown", "reason": "PredictorNotReady", "message": "new pods are not ready yet"}
        predictor_status: dict[str, Any] = {}
        if serving:
            predictor_status = {"url": f"http://{hosts['predictor_external']}",
                                "address": {"url": f"http://{hosts['predictor_local']}"}}  # fmt: skip
        split = {serving.storage_uri: 100} if serving else {}
        self._set_status(key, obj, cond, serving is not None, predictor_status, "RawDeployment", split,
                         address=f"http://{hosts['predictor_local']}")  # fmt: skip

    def _set_status(
        self, key: tuple[str, str], obj: dict, cond: dict, routed: bool, predictor_status: dict, mode: str,
        split: dict[str, int], address: str | None = None,
    ) -> None:  # fmt: skip
        namespace, name = key
        hosts = self.hosts(namespace, name)
        old = obj.get("status") or {}
        stamp = {c["type"]: c.get("lastTransitionTime") for c in old.get("conditions") or []}
        conditions = []
        for ctype in ("IngressReady", "PredictorReady", "Ready"):
            c = {"type": ctype, **(cond if ctype != "IngressReady" or not routed else {"status": "True"})}
            prev = next((p for p in old.get("conditions") or [] if p["type"] == ctype), None)
            same = prev is not None and prev.get("status") == c["status"]
            c["lastTransitionTime"] = stamp.get(ctype) if same else _now()
            conditions.append(c)
        status: dict[str, Any] = {
            "observedGeneration": obj["metadata"]["generation"],
            "conditions": conditions,
            "components": {"predictor": predictor_status},
            "deploymentMode": mode,
        }
        if routed:
            status["url"] = f"http://{hosts['external']}"
            status["address"] = {"url": address or f"http://{hosts['local']}"}
        if status != old:
            obj["status"] = status
            obj["metadata"]["resourceVersion"] = self._next_rv()
            history = self.traffic_history.setdefault(key, [])
            if not history or history[-1] != split:
                history.append(split)


def main() -> None:  # pragma: no cover - manual exploration: python -m tests.doubles.kube_api
    with KubeApiTestDouble() as double:
        print(f"KubeApiTestDouble (a test double, not a cluster) at {double.host}; Ctrl-C stops it", file=sys.stderr)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
