"""SecretStore — the rehearsal's stand-in for Kubernetes Secrets: Secret manifests read locally, NOT a cluster.

By default the Secrets are the ones an operator creates for the local (kind) cluster, rendered from
``manifests/overlays/kind`` (kubectl kustomize, or the project's fallback renderer), plus those in
``tests/rehearsal/secrets.yaml`` (Secrets the rehearsal itself needs). So a pipeline that references a key the
manifests do not provide fails here as it would on the cluster. The S3 test double is reached under the same
in-cluster address the kind overlay names (minio-service.kubeflow.svc.cluster.local:9000).

A step's Secret references (kfp-kubernetes ``use_secret_as_env`` / ``use_secret_as_volume``, compiled into the
pipeline's platform config) are resolved here the way the kubelet resolves them: a missing Secret or key fails
the pod before it starts (Kubernetes reports ``CreateContainerConfigError``), an optional one is skipped.
"""

from __future__ import annotations

import base64
import os

import yaml

DEFAULT_SECRETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "secrets.yaml")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KIND_OVERLAY = os.path.join(ROOT, "manifests", "overlays", "kind")


class SecretError(RuntimeError):
    """A referenced Secret or key does not exist (the pod would not start)."""


class SecretStore:
    """Secrets by name, each a {key: value} map, read from Kubernetes Secret manifests."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets

    @classmethod
    def from_manifests(cls, docs: list[dict]) -> SecretStore:
        secrets: dict[str, dict[str, str]] = {}
        for doc in docs:
            if not doc or doc.get("kind") != "Secret":
                continue
            values = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
            values.update({k: str(v) for k, v in (doc.get("stringData") or {}).items()})
            secrets[doc["metadata"]["name"]] = values
        return cls(secrets)

    @classmethod
    def from_file(cls, path: str = DEFAULT_SECRETS) -> SecretStore:
        with open(path) as f:
            return cls.from_manifests(list(yaml.safe_load_all(f)))

    @classmethod
    def default(cls) -> SecretStore:
        """The kind overlay's Secrets (as an operator creates them) plus tests/rehearsal/secrets.yaml, key by key:
        a key the overlay sets wins; secrets.yaml adds the keys an operator adds at install time (credentials)."""
        from tests.testdata.deploy_kustomize import render

        store = cls.from_manifests(render(KIND_OVERLAY))
        for name, values in cls.from_file(DEFAULT_SECRETS).secrets.items():
            store.secrets[name] = {**values, **store.secrets.get(name, {})}  # the overlay's keys win
        return store

    def value(self, name: str, key: str, optional: bool = False) -> str | None:
        """The value of ``key`` in Secret ``name``; None for an optional reference that does not resolve."""
        if name not in self.secrets:
            if optional:
                return None
            raise SecretError(f'CreateContainerConfigError: secret "{name}" not found')
        if key not in self.secrets[name]:
            if optional:
                return None
            raise SecretError(f'CreateContainerConfigError: couldn\'t find key {key} in Secret "{name}"')
        return self.secrets[name][key]
