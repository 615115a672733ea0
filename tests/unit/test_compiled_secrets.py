"""No credential in compiled pipelines: every compiled YAML under pipelines/compiled/ is scanned for literal
values of credential-looking keys and for known default credentials. Credentials come from the Kubernetes Secret
kfx-s3 (pipelines/cluster.py, manifests/base/storage.yaml), referenced by name and key only."""

from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPILED = sorted(glob.glob(os.path.join(ROOT, "pipelines", "compiled", "*", "*.yaml")))
SECRET_KEY = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|ACCESS_KEY|PRIVATE_KEY|API_KEY", re.I)
KNOWN_DEFAULTS = ("minio123", "minioadmin", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI")


def literal_credentials(doc: object, path: str = "") -> list[str]:
    """Paths where a credential-looking key has a literal value: {key: value}, or {name: KEY, value: v} env."""
    found = []
    if isinstance(doc, dict):
        name = doc.get("name")
        if isinstance(name, str) and SECRET_KEY.search(name) and isinstance(doc.get("value"), str | int):
            found.append(f"{path}: env {name}={doc['value']!r}")
        for k, v in doc.items():
            if isinstance(k, str) and SECRET_KEY.search(k) and isinstance(v, str | int) and not isinstance(v, bool):
                found.append(f"{path}/{k}: {v!r}")
            found += literal_credentials(v, f"{path}/{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += literal_credentials(v, f"{path}/{i}")
    return found


def test_there_are_compiled_pipelines():
    assert {os.path.basename(p) for p in COMPILED} >= {"training.yaml", "train_and_deploy.yaml"}


@pytest.mark.parametrize("path", COMPILED, ids=lambda p: os.path.relpath(p, ROOT))
def test_no_credential_literal_in_compiled_yaml(path):
    with open(path) as f:
        text = f.read()
    docs = list(yaml.safe_load_all(text))
    found = [hit for doc in docs for hit in literal_credentials(doc)]
    # secretAsEnv names the Secret and its keys (secretName, secretKey, envVar), never a value: allowed
    found = [h for h in found if not re.search(r"/(secretName|secretKey|envVar): ", h)]
    found += [f"known default credential {d!r}" for d in KNOWN_DEFAULTS if d in text]
    assert found == [], f"{os.path.relpath(path, ROOT)} carries credentials: {found}"


def test_the_scanner_catches_what_the_old_pipeline_compiled_to():
    old = {"deploymentSpec": {"executors": {"exec-deploy": {"container": {"env": [
        {"name": "S3_ENDPOINT", "value": "minio-service.kubeflow:9000"},
        {"name": "AWS_ACCESS_KEY_ID", "value": "minio"},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "minio123"}]}}}}}  # fmt: skip
    hits = literal_credentials(old)
    assert len(hits) == 2 and all("AWS_" in h for h in hits)
    assert literal_credentials({"platforms": {"kubernetes": {"secretAsEnv": [{"secretName": "kfx-s3", "keyToEnv": [
        {"envVar": "AWS_SECRET_ACCESS_KEY", "secretKey": "AWS_SECRET_ACCESS_KEY"}]}]}}})  # fmt: skip


def test_every_storage_task_reads_the_same_secret():
    """ingest, transform, train, evaluate, resolve_baseline and deploy get all storage keys from Secret kfx-s3."""
    from pipelines.cluster import STORAGE_KEYS, STORAGE_SECRET

    path = os.path.join(ROOT, "pipelines", "compiled", "0.1.0", "train_and_deploy.yaml")
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    (platform,) = [d for d in docs if "platforms" in d]
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    wanted = {"exec-ingest", "exec-transform", "exec-train", "exec-evaluate", "exec-resolve-baseline", "exec-deploy"}
    assert set(executors) >= wanted
    for name in wanted:
        (secret,) = executors[name]["secretAsEnv"]
        assert secret["secretName"] == STORAGE_SECRET
        assert {m["secretKey"]: m["envVar"] for m in secret["keyToEnv"]} == STORAGE_KEYS, name
