"""What a pipeline task needs from the cluster, applied the same way to every task that needs it.

Object storage: every task that reads or writes ``s3://`` (ingest reading data, transform/train loading module
files, evaluate reading the baseline model, resolve_baseline, deploy pushing the model) gets the SAME storage
configuration, from ONE Kubernetes Secret (``manifests/base/storage.yaml``, ``kfx-s3``), through kfp-kubernetes'
``secretKeyRef`` env vars. The compiled YAML names the Secret and its keys, never a value
(``tests/unit/test_compiled_secrets.py`` fails on any credential-looking literal).

The same Secret is listed by ServiceAccount ``kfx-models``, so KServe's storage initializer reads the model with
the same credentials (it uses the ``serving.kserve.io/s3-*`` annotations; the extra keys are ignored).
"""

from __future__ import annotations

from kfp import kubernetes
from kfp.dsl import PipelineTask

#: The Secret (in the namespace the pipeline runs in) holding the object-store configuration.
STORAGE_SECRET = "kfx-s3"
#: Secret key -> env var of the step (the names tensorflow-io's s3:// filesystem and boto read).
STORAGE_KEYS: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY",
    "S3_ENDPOINT": "S3_ENDPOINT",
    "S3_USE_HTTPS": "S3_USE_HTTPS",
    "S3_VERIFY_SSL": "S3_VERIFY_SSL",
    "AWS_REGION": "AWS_REGION",
}


def use_object_store(task: PipelineTask, secret_name: str = STORAGE_SECRET) -> PipelineTask:
    """Give ``task`` the object-store configuration from Secret ``secret_name`` (env vars, no literal values)."""
    return kubernetes.use_secret_as_env(task, secret_name=secret_name, secret_key_to_env=dict(STORAGE_KEYS))
