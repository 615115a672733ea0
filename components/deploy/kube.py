"""Kubernetes API access for InferenceServices: the only deploy module that imports ``kubernetes``.

``CustomObjectsApi`` on ``serving.kserve.io/v1beta1`` ``inferenceservices`` with in-cluster config in a pipeline
pod, else a kubeconfig, or any ``kubernetes.client.ApiClient`` passed in (tests pass one pointed at the
Kubernetes API test double). API errors become :class:`DeployError` saying what to do. The verbs used here are
exactly the ones ``manifests/base/rbac.yaml`` grants: get, create, patch, delete (a test proves it).
"""

from __future__ import annotations

import json
import os
from typing import Any

from components.deploy.errors import DeployError
from components.deploy.isvc import GROUP, PLURAL, RESOURCE, VERSION

VERBS = ("get", "create", "patch", "delete")


def default_api_client(kubeconfig: str | None = None) -> Any:
    """A client with the in-cluster ServiceAccount config in a pod, else the kubeconfig (``KUBECONFIG``); with
    ``kubeconfig`` given, that file (its current context) only."""
    from kubernetes import client, config

    if kubeconfig:
        try:
            return config.new_client_from_config(config_file=kubeconfig)
        except Exception as e:
            raise DeployError(f"cannot use kubeconfig {kubeconfig}: {e}") from e
    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:  # KUBECONFIG as set now (the client reads it once, at import)
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
        except Exception as e:
            raise DeployError(
                "no Kubernetes configuration: not running in a pod (no service-account token) and no kubeconfig "
                f"({e}); run the step inside the cluster or set KUBECONFIG"
            ) from e
    return client.ApiClient()


class Kube:
    """InferenceServices of one namespace; ``name`` is the default object (the candidate is named explicitly)."""

    def __init__(self, api_client: Any, namespace: str, name: str) -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(api_client or default_api_client())
        self.host = self.api.api_client.configuration.host
        self.namespace = namespace
        self.name = name

    def _call(self, verb: str, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as e:
            raise self._explain(verb, name, e) from e
        except Exception as e:  # urllib3 connection errors and the like
            if type(e).__module__.startswith(("urllib3", "socket", "ssl")) or isinstance(e, OSError):
                raise DeployError(
                    f"cannot reach the Kubernetes API at {self.host} to {verb} {RESOURCE} {self.namespace}/{name}: {e}"
                ) from e
            raise

    def _explain(self, verb: str, name: str, e: Any) -> DeployError:
        try:
            message = json.loads(e.body).get("message", "") if e.body else ""
        except (ValueError, AttributeError):
            message = str(e.body or "")
        what = f"{verb} {RESOURCE} '{name}' in namespace '{self.namespace}'"
        if e.status == 403:
            return DeployError(
                f"forbidden (HTTP 403) to {what}: {message}. The deploy step must run as ServiceAccount "
                f"kfx-deployer, bound to Role kfx-deployer ({', '.join(VERBS)} on {RESOURCE}) in namespace "
                f"'{self.namespace}': apply manifests/base/rbac.yaml and see README.md, section Cluster"
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

    def get(self, name: str | None = None) -> dict | None:
        """The InferenceService, or None when it does not exist (a 404 naming it)."""
        from kubernetes.client.exceptions import ApiException

        name = name or self.name
        fn = self.api.get_namespaced_custom_object
        try:
            return self._call("get", name, fn, GROUP, VERSION, self.namespace, PLURAL, name)
        except DeployError as e:
            cause = e.__cause__
            if not (isinstance(cause, ApiException) and cause.status == 404):
                raise
            try:
                details = json.loads(cause.body or "{}").get("details") or {}
            except (ValueError, AttributeError):
                details = {}
            if details.get("name") == name:
                return None
            raise DeployError(
                f"the Kubernetes API at {self.host} has no {RESOURCE} (HTTP 404 without naming '{name}'): "
                "is KServe installed? (see manifests/kind/install.sh)"
            ) from cause

    def create(self, body: dict, dry_run: bool = False) -> dict:
        kwargs = {"dry_run": "All"} if dry_run else {}
        fn = self.api.create_namespaced_custom_object
        return self._call("create", body["metadata"]["name"], fn, GROUP, VERSION, self.namespace, PLURAL, body,
                          **kwargs)  # fmt: skip

    def patch(self, body: dict, dry_run: bool = False, name: str | None = None) -> dict:
        kwargs = {"dry_run": "All"} if dry_run else {}
        name = name or self.name
        fn = self.api.patch_namespaced_custom_object
        return self._call("patch", name, fn, GROUP, VERSION, self.namespace, PLURAL, name, body, **kwargs)

    def delete(self, name: str) -> None:
        fn = self.api.delete_namespaced_custom_object
        self._call("delete", name, fn, GROUP, VERSION, self.namespace, PLURAL, name)
