"""Rehearsal — one machine standing in for a Kubeflow cluster that runs kfx's compiled pipelines. NOT a cluster.

Parts, each named for what it is:
- the S3 test double (moto, ``tests/rehearsal/s3.py``) as the cluster's object store: data, module files, the
  pipeline root (``s3://mlpipeline/v2/artifacts``), model pushes and baselines;
- the Kubernetes API test double (``tests/doubles/kube_api.py``) as the API server + KServe controller, with a
  storage initializer added here: a revision whose ``storageUri`` is ``s3://`` gets the model downloaded from
  the S3 test double into a local directory, as KServe's storage initializer fills ``/mnt/models``;
- the Secret stand-in (``tests/rehearsal/secrets.py``: the kind overlay's Secrets + ``secrets.yaml``);
- cluster DNS and service routing (``tests/rehearsal/dns.py``): the pods' ``/etc/hosts`` names the doubles'
  services (``minio-service.kubeflow.svc.cluster.local``, ``kubernetes.default.svc``) and every cluster-local
  InferenceService address the API test double hands out, routed to the model server standing in for it;
- the pods' service account: a kubeconfig at ``$HOME/.kube/config`` naming ``kubernetes.default.svc`` (the API
  test double speaks plain HTTP, so the in-cluster TLS config cannot be rehearsed; this stands in for the
  service-account token mount);
- the image-equivalent interpreter (``tests/rehearsal/environment.py``) every step runs with;
- the IR runner (``tests/rehearsal/runner.py``) that runs committed compiled YAMLs task by task.
State (objects, InferenceServices, KFP's execution cache) lives as long as the ``Rehearsal``: consecutive
``run()`` calls rehearse consecutive pipeline runs on the same cluster.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import uuid
from typing import Any

from tests.doubles.kube_api import KubeApiTestDouble
from tests.rehearsal.dns import ClusterNetwork
from tests.rehearsal.environment import ImageEnvironment, build_environment, rehearsal_dir
from tests.rehearsal.launcher import LaunchContext
from tests.rehearsal.runner import CompiledPipeline, ExecutionCache, RunResult, run_pipeline
from tests.rehearsal.s3 import S3TestDouble, split_uri
from tests.rehearsal.secrets import SecretStore

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUCKET = "mlpipeline"
PIPELINE_ROOT = f"s3://{BUCKET}/v2/artifacts"
API_HOST_NAME = "kubernetes.default.svc"
NAMESPACE = "kfx"


def compiled_pipeline(name: str) -> str:
    """The committed compiled YAML of pipeline ``name`` for the current version."""
    from components._shared.version import __version__

    return os.path.join(ROOT, "pipelines", "compiled", __version__, f"{name}.yaml")


class StorageInitializingKubeApi(KubeApiTestDouble):
    """The Kubernetes API test double plus a storage initializer for ``s3://`` storage URIs (the S3 test double)."""

    def __init__(self, s3: S3TestDouble, model_cache: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.s3, self.model_cache = s3, model_cache
        self.downloads: list[str] = []

    def _new_revision(self, key: tuple[str, str], obj: dict, state: Any) -> Any:
        model = ((obj.get("spec") or {}).get("predictor") or {}).get("model") or {}
        uri = str(model.get("storageUri") or "")
        if not uri.startswith("s3://"):
            return super()._new_revision(key, obj, state)
        local = os.path.join(self.model_cache, uuid.uuid4().hex)
        if self.s3.download(uri.rstrip("/"), local) == 0:
            local = uri  # nothing there: let the double fail the revision, as the storage initializer would
        self.downloads.append(uri)
        rewritten = copy.deepcopy(obj)
        rewritten["spec"]["predictor"]["model"]["storageUri"] = local
        revision = super()._new_revision(key, rewritten, state)
        revision.storage_uri = uri
        return revision


class Rehearsal:
    """The S3 test double, the Kubernetes API test double, Secrets, DNS and the image-equivalent interpreter."""

    def __init__(self, isvc_schema: dict | None = None, secrets_file: str | None = None,
                 work_dir: str | None = None, caching: bool = True) -> None:  # fmt: skip
        os.makedirs(rehearsal_dir(), exist_ok=True)
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="rehearsal-", dir=rehearsal_dir())
        self.s3 = S3TestDouble()
        self.secrets = SecretStore.from_file(secrets_file) if secrets_file else SecretStore.default()
        self.kube = StorageInitializingKubeApi(self.s3, os.path.join(self.work_dir, "models"), schema=isvc_schema)
        self.cache = ExecutionCache() if caching else None
        self.network: ClusterNetwork | None = None
        self.env: ImageEnvironment | None = None
        self.runs: list[RunResult] = []

    def start(self) -> Rehearsal:
        os.makedirs(self.work_dir, exist_ok=True)
        self.env = build_environment()
        self.s3.start()
        self.s3.create_bucket(BUCKET)
        self.kube.start()
        self.network = ClusterNetwork(os.path.join(self.work_dir, "hosts"), self.hosts(), self.routes).start()
        return self

    def stop(self) -> None:
        if self.network is not None:
            self.network.stop()
        self.kube.stop()
        self.s3.stop()

    def __enter__(self) -> Rehearsal:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        if exc[0] is None and not os.environ.get("KFX_REHEARSAL_KEEP"):
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- what the pods see
    def hosts(self) -> dict[str, str]:
        return {self.s3.host_name: self.s3.ip, API_HOST_NAME: "127.0.0.1"}

    def routes(self) -> dict[str, str]:
        """Cluster-local host -> local server, from the API test double's address-override file (if it has one)."""
        path = getattr(self.kube, "address_overrides_path", None)
        if not path or not os.path.exists(path):
            return {}
        try:
            with open(path) as f:
                return dict(json.load(f))
        except (OSError, ValueError):
            return {}

    def kubeconfig(self) -> str:
        port = self.kube.host.rsplit(":", 1)[1]
        server = f"http://{API_HOST_NAME}:{port}"
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "pod",
            "clusters": [{"name": "rehearsal", "cluster": {"server": server}}],
            "users": [{"name": "pipeline-runner", "user": {"token": "rehearsal-service-account-token"}}],
            "contexts": [{"name": "pod", "context": {"cluster": "rehearsal", "user": "pipeline-runner",
                                                     "namespace": NAMESPACE}}],
        })  # fmt: skip

    def run(self, pipeline: str, arguments: dict[str, Any], kill_when: dict[str, Any] | None = None) -> RunResult:
        """Rehearse one run of the committed compiled pipeline ``pipeline`` (a name or a YAML path)."""
        assert self.env is not None, "start() the rehearsal first"
        path = pipeline if pipeline.endswith(".yaml") else compiled_pipeline(pipeline)
        compiled = CompiledPipeline.load(path)
        run_id = f"run-{len(self.runs) + 1}-{uuid.uuid4().hex[:6]}"
        ctx = LaunchContext(
            pipeline_name=compiled.name, run_id=run_id, pipeline_root=PIPELINE_ROOT, pipeline_args={},
            s3=self.s3, secrets=self.secrets, hosts_file=self.network.hosts_file,
            base_env={**self.env.image_env, "PATH": self.env.path()},
            kubelet_env={}, field_paths={"metadata.namespace": NAMESPACE},
            work_dir=os.path.join(self.work_dir, run_id), home_files={".kube/config": self.kubeconfig()},
        )  # fmt: skip
        result = run_pipeline(compiled, arguments, ctx, cache=self.cache, kill_when=kill_when)
        self.runs.append(result)
        return result

    # -- helpers for scenarios
    def put_file(self, local: str, uri: str) -> str:
        bucket, _ = split_uri(uri)
        if bucket != BUCKET:
            self.s3.create_bucket(bucket)
        self.s3.upload(local, uri)
        return uri
