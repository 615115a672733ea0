"""Render every kustomization under manifests/ and validate what it produces.

Rendering uses ``kubectl kustomize`` (kustomize v5 built into kubectl) when kubectl is on the PATH, and
otherwise ``tests/testdata/deploy_kustomize.py`` — a small renderer of the kustomize subset the manifests use;
when kubectl is present, both must give the same objects. Every InferenceService is validated against the
openAPIV3Schema of KServe's InferenceService CRD (../shared/kserve/), every ServingRuntime against the
ServingRuntime CRD, including fields the API server would silently prune.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from components._shared.image import serving_image
from components.deploy.isvc import GROUP, PLURAL, build_inference_service
from components.deploy.kube import VERBS
from components.deploy.params import DeployParams
from pipelines.cluster import STORAGE_KEYS
from tests.doubles.kube_api import crd_schema, validate_against_crd
from tests.testdata.deploy_kustomize import render

pytestmark = pytest.mark.unit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFESTS = os.path.join(ROOT, "manifests")
KSERVE = os.path.join(os.path.dirname(ROOT), "shared", "kserve")
TARGETS = ["base", "overlays/kind", "overlays/production"]
KUBECTL = shutil.which("kubectl")


def _load(path: str) -> dict:
    with open(path) as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict]:
    return {
        "InferenceService": crd_schema(_load(os.path.join(KSERVE, "serving.kserve.io_inferenceservices.yaml"))),
        "ServingRuntime": crd_schema(_load(os.path.join(KSERVE, "serving.kserve.io_servingruntimes.yaml")), "v1alpha1"),
    }


def kubectl_kustomize(target: str) -> list[dict]:
    out = subprocess.run([KUBECTL, "kustomize", os.path.join(MANIFESTS, target)], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, f"kubectl kustomize {target} failed: {out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {t: kubectl_kustomize(t) if KUBECTL else render(os.path.join(MANIFESTS, t)) for t in TARGETS}


def _by(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _key(o: dict) -> tuple:
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: nothing to compare the fallback renderer with")
@pytest.mark.parametrize("target", TARGETS)
def test_fallback_renderer_matches_kubectl_kustomize(target):
    ours = {_key(o): o for o in render(os.path.join(MANIFESTS, target))}
    theirs = {_key(o): o for o in kubectl_kustomize(target)}
    assert ours == theirs


@pytest.mark.parametrize("target", TARGETS)
def test_every_object_is_valid_against_kserve_crds(rendered, schemas, target):
    objects = rendered[target]
    kinds = {o["kind"] for o in objects}
    assert {"InferenceService", "ServingRuntime", "Role", "RoleBinding", "ServiceAccount", "Secret"} <= kinds
    for o in objects:
        if o["kind"] in schemas:
            assert validate_against_crd(o, schemas[o["kind"]]) == [], f"{target}: {o['kind']} {o['metadata']['name']}"


@pytest.mark.parametrize("target", TARGETS)
def test_rbac_grants_only_inferenceservices_in_one_namespace(rendered, target):
    objects = rendered[target]
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    (role,) = _by(objects, "Role").values()
    # exactly the verbs of components/deploy/kube.py (tests/deploy/test_deploy_live.py proves they are all used)
    assert role["rules"] == [{"apiGroups": [GROUP], "resources": [PLURAL], "verbs": list(VERBS)}]
    (binding,) = _by(objects, "RoleBinding").values()
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["metadata"].get("namespace") == role["metadata"].get("namespace")
    assert all(s["kind"] == "ServiceAccount" for s in binding["subjects"])


def test_overlays_bind_only_the_deployer_service_account_of_the_pipeline_namespace(rendered):
    for target, ns, runs_in in [
        ("overlays/kind", "kfx", "kubeflow"),
        ("overlays/production", "kfx-serving", "ml-team"),
    ]:
        objects = rendered[target]
        assert {o["metadata"].get("namespace") for o in objects} == {ns}
        subjects = [
            (s["kind"], s["namespace"], s["name"]) for s in _by(objects, "RoleBinding")["kfx-deployer"]["subjects"]
        ]
        # not KFP's pipeline-runner, not a profile's default-editor: only the runs' own service account
        assert subjects == [("ServiceAccount", runs_in, "kfx-deployer")]


def test_storage_secret_pattern(rendered):
    for target in TARGETS:
        objects = rendered[target]
        secret = _by(objects, "Secret")["kfx-s3"]
        ann = secret["metadata"]["annotations"]
        assert {"serving.kserve.io/s3-endpoint", "serving.kserve.io/s3-usehttps"} <= set(ann)
        assert _by(objects, "ServiceAccount")["kfx-models"]["secrets"] == [{"name": "kfx-s3"}]
        for isvc in _by(objects, "InferenceService").values():
            assert isvc["spec"]["predictor"]["serviceAccountName"] == "kfx-models"
        # the non-secret keys the pipeline steps read; the two credentials are never committed
        assert set(secret["stringData"]) == set(STORAGE_KEYS) - {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        assert "data" not in secret
        # one configuration: tensorflow-io needs the scheme in S3_ENDPOINT (it ignores S3_USE_HTTPS), KServe's annotation
        # takes host:port with s3-usehttps
        endpoint = secret["stringData"]["S3_ENDPOINT"]
        assert endpoint.split("://", 1)[-1] == ann["serving.kserve.io/s3-endpoint"]
        if endpoint.startswith("http://"):
            assert ann.get("serving.kserve.io/s3-usehttps") == "0"
    kind = _by(rendered["overlays/kind"], "Secret")["kfx-s3"]
    assert kind["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"].startswith("minio-service.kubeflow")
    prod = _by(rendered["overlays/production"], "Secret")["kfx-s3"]
    assert prod["metadata"]["annotations"]["serving.kserve.io/s3-usehttps"] == "1"


def test_secret_template_has_every_key_and_only_placeholders():
    (secret,) = [d for d in yaml.safe_load_all(open(os.path.join(MANIFESTS, "templates", "secret-kfx-s3.yaml"))) if d]
    assert set(secret["stringData"]) == set(STORAGE_KEYS)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert secret["stringData"][key].startswith("REPLACE_WITH_")


def test_no_manifest_commits_a_credential():
    for dirpath, _, files in os.walk(MANIFESTS):
        for name in files:
            text = open(os.path.join(dirpath, name)).read()
            for bad in ("minio123", "AWS_SECRET_ACCESS_KEY: minio", "AWS_ACCESS_KEY_ID: minio"):
                assert bad not in text, f"{os.path.join(dirpath, name)} commits a credential ({bad!r})"


def test_serving_runtime_runs_the_kfx_predictor_of_this_version(rendered):
    runtime = _by(rendered["base"], "ServingRuntime")["kfx-predictor"]
    (container,) = runtime["spec"]["containers"]
    assert container["image"] == serving_image()  # the one project version
    assert "--model-dir=/mnt/models" in container["args"] and "--model-name={{.Name}}" in container["args"]
    assert runtime["spec"]["supportedModelFormats"][0]["name"] == "kfx"
    assert _by(rendered["overlays/kind"], "ServingRuntime")["kfx-predictor"]["spec"]["containers"][0]["image"] == (
        "kfx-serving:dev"
    )


def test_the_servingruntime_args_are_accepted_by_the_kfx_server_cli(rendered, tmp_path):
    """The args the runtime passes parse with the serving CLI (its argparse front; no kserve needed)."""
    from components.serving.__main__ import parse_args
    from tests.deploy.conftest import fake_model

    runtime = _by(rendered["base"], "ServingRuntime")["kfx-predictor"]
    argv = runtime["spec"]["containers"][0]["args"]
    assert "--model-dir=/mnt/models" in argv  # where KServe's storage initializer puts the model
    mnt = fake_model(str(tmp_path / "mnt" / "models"))  # the CLI checks the directory holds a model
    args = parse_args([a.replace("{{.Name}}", "fraud").replace("/mnt/models", mnt) for a in argv])
    assert (args.model_dir, args.model_name, args.host, args.http_port) == (mnt, "fraud", "0.0.0.0", 8080)
    assert runtime["spec"]["containers"][0]["ports"][0]["containerPort"] == args.http_port


def test_inference_service_templates_match_what_deploy_builds(rendered):
    isvcs = _by(rendered["base"], "InferenceService")
    for name, runtime in [("kfx-model", "kfx"), ("kfx-model-tf", "tensorflow")]:
        params = DeployParams(name=name, namespace="ns", storage_uri="s3://x", runtime=runtime,
                              service_account="kfx-models")  # fmt: skip
        built = build_inference_service(params, "s3://x")
        template = isvcs[name]
        assert (
            template["spec"]["predictor"]["model"]["modelFormat"] == built["spec"]["predictor"]["model"]["modelFormat"]
        )
        assert template["metadata"]["annotations"] == built["metadata"]["annotations"]
        assert set(template["spec"]["predictor"]) == set(built["spec"]["predictor"])


def test_kind_scripts_are_valid_bash():
    for script in ("install.sh", "run.sh"):
        path = os.path.join(MANIFESTS, "kind", script)
        assert os.access(path, os.X_OK), f"{path} is not executable"
        assert subprocess.run(["bash", "-n", path], capture_output=True).returncode == 0
    cluster = _load(os.path.join(MANIFESTS, "kind", "cluster.yaml"))
    assert cluster["kind"] == "Cluster" and cluster["apiVersion"].startswith("kind.x-k8s.io/")


def test_kind_pipeline_compiles_with_deploy_after_evaluate(tmp_path):
    from kfp import compiler

    from pipelines.train_and_deploy import train_and_deploy

    out = tmp_path / "p.yaml"
    compiler.Compiler().compile(train_and_deploy, str(out))
    tasks = next(yaml.safe_load_all(open(out)))["root"]["dag"]["tasks"]
    assert tasks["deploy"]["inputs"]["artifacts"]["blessing"]["taskOutputArtifact"]["producerTask"] == "evaluate"
    assert "resolve-baseline" in tasks  # its Model output feeds evaluate once evaluate takes Input[Model]
