"""Deploy logic without model servers: blessing gate, API errors, storage push, objects vs KServe's CRD schema.

The Kubernetes API here is KubeApiTestDouble (tests/doubles/kube_api.py) — a test double, not a cluster —
driven by the real ``kubernetes`` client.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest
import tensorflow as tf

from components._shared.artifacts.examples import shard_path
from components.deploy import baseline as baseline_lib
from components.deploy import isvc as isvc_lib
from components.deploy import logic, smoke, storage
from components.deploy.baseline import baseline_of
from components.deploy.isvc import build_inference_service
from components.deploy.logic import DeployError, DeployParams
from tests.deploy.conftest import LINEAGE, evidence, fake_model, write_blessing
from tests.doubles.kube_api import apply_json_patch, apply_merge_patch, validate_against_crd

pytestmark = pytest.mark.unit

NS = "kfx-test"


def P(**kwargs) -> DeployParams:  # noqa: N802  (reads like the dataclass)
    return DeployParams(**{"name": "fraud", "namespace": NS, "storage_uri": "s3://unused", **kwargs})


def deploy_model(model, blessing, name="fraud", namespace=NS, storage_uri="", api_client=None, poll_seconds=2.0,
                 **kwargs) -> logic.DeployResult:  # fmt: skip
    """``logic.deploy_model`` with the parameters spelled as keywords (as the tests read best)."""
    params = DeployParams(name=name, namespace=namespace, storage_uri=storage_uri, **kwargs)
    return logic.deploy_model(model, blessing, params, api_client=api_client, poll_seconds=poll_seconds)


def resolve_baseline(name, namespace, api_client=None) -> str | None:
    return baseline_lib.resolve_baseline(name, namespace, api_client=api_client).storage_uri


def _storage_untouched(root: str) -> bool:
    return not os.path.exists(root) or not os.listdir(root)


# ------------------------------------------------------------------------------------------- blessing gate


def test_unblessed_model_is_refused_and_nothing_is_applied(tmp_path, double):
    model = fake_model(str(tmp_path / "model"))
    blessing = write_blessing(str(tmp_path / "blessing"), False, ["auc 0.61 < threshold 0.80", "auc dropped by 0.05"])
    store = str(tmp_path / "store")

    result = deploy_model(model, blessing, "fraud", NS, store + "/fraud/v1", api_client=double.api_client())

    assert result.deployed is False
    assert result.reason == "not deployed: not blessed (auc 0.61 < threshold 0.80; auc dropped by 0.05)"
    assert double.requests == []  # not even a GET
    assert _storage_untouched(store)
    assert "not deployed" in result.markdown("fraud", NS)


def test_missing_blessing_is_a_clear_error(tmp_path, double):
    with pytest.raises(DeployError, match="blessing .*blessing.json.*evaluate step"):
        deploy_model(fake_model(str(tmp_path / "m")), str(tmp_path / "nope"), "fraud", NS, str(tmp_path / "s"),
                     api_client=double.api_client())  # fmt: skip
    assert double.requests == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "Fraud_Model"}, "DNS-1035"),
        ({"rollout": "blue-green"}, "rollout must be one of canary, direct"),
        ({"runtime": "onnx"}, "runtime must be one of kfx, tensorflow"),
        ({"canary_traffic_percent": 100}, "between 1 and 99"),
    ],
)
def test_bad_parameters_fail_before_any_call(tmp_path, double, blessed, kwargs, message):
    args = {"name": "fraud", "namespace": NS, "storage_uri": str(tmp_path / "s"), **kwargs}
    with pytest.raises(DeployError, match=message):
        deploy_model(fake_model(str(tmp_path / "m")), blessed, api_client=double.api_client(), **args)
    assert double.requests == []


# ------------------------------------------------------------------------------------------- API errors


def test_forbidden_create_names_verb_resource_namespace_and_rbac(tmp_path, double, blessed):
    double.forbid("create")
    store = str(tmp_path / "store")
    with pytest.raises(DeployError) as e:
        deploy_model(
            fake_model(str(tmp_path / "m")), blessed, "fraud", NS, store + "/v1", api_client=double.api_client()
        )
    msg = str(e.value)
    assert "forbidden (HTTP 403) to create inferenceservices.serving.kserve.io 'fraud' in namespace 'kfx-test'" in msg
    assert "get, create, patch, delete" in msg and "manifests/base/rbac.yaml" in msg and "kfx-deployer" in msg
    assert double.get(NS, "fraud") is None
    assert _storage_untouched(store)  # the server-side dry run failed before anything was written


def test_forbidden_get_is_clear(tmp_path, double, blessed):
    double.forbid("get")
    with pytest.raises(DeployError, match="forbidden \\(HTTP 403\\) to get inferenceservices.serving.kserve.io"):
        resolve_baseline("fraud", NS, api_client=double.api_client())


def _create_held(double, tmp_path, uri: str) -> None:
    """An existing InferenceService whose revision never becomes ready (no model server is started)."""
    from kubernetes import client

    double.hold(uri)
    body = build_inference_service(P(), uri)
    client.CustomObjectsApi(double.api_client()).create_namespaced_custom_object(
        isvc_lib.GROUP, isvc_lib.VERSION, NS, isvc_lib.PLURAL, body
    )
    deadline = time.monotonic() + 10
    while not double.revisions(NS, "fraud") and time.monotonic() < deadline:  # the controller saw it
        time.sleep(0.05)


def test_conflict_on_patch_is_clear_and_nothing_is_written(tmp_path, double, blessed):
    _create_held(double, tmp_path, str(tmp_path / "old"))
    double.conflict("patch", times=2)  # the dry run, and its one retry
    store = str(tmp_path / "store")
    before = double.get(NS, "fraud")
    with pytest.raises(DeployError) as e:
        deploy_model(
            fake_model(str(tmp_path / "m")), blessed, "fraud", NS, store + "/v2", api_client=double.api_client()
        )
    msg = str(e.value)
    assert "conflict (HTTP 409) on patch inferenceservices.serving.kserve.io 'fraud' in namespace 'kfx-test'" in msg
    assert "re-run the step" in msg
    assert double.get(NS, "fraud")["spec"] == before["spec"]
    assert _storage_untouched(store)


def test_create_conflict_when_someone_else_created_it(tmp_path, double, blessed):
    double.conflict("create", times=1)
    with pytest.raises(DeployError, match="conflict \\(HTTP 409\\) on create"):
        deploy_model(fake_model(str(tmp_path / "m")), blessed, "fraud", NS, str(tmp_path / "s"),
                     api_client=double.api_client())  # fmt: skip


def test_stale_resource_version_is_a_real_409(double, tmp_path):
    """The double's optimistic concurrency: a patch carrying an old resourceVersion is refused."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    _create_held(double, tmp_path, str(tmp_path / "old"))
    api = client.CustomObjectsApi(double.api_client())
    patch = {"metadata": {"resourceVersion": "1"}, "spec": {"predictor": {"minReplicas": 2}}}
    with pytest.raises(ApiException) as e:
        api.patch_namespaced_custom_object(isvc_lib.GROUP, isvc_lib.VERSION, NS, isvc_lib.PLURAL, "fraud", patch)
    assert e.value.status == 409 and json.loads(e.value.body)["reason"] == "Conflict"


def test_timeout_rolls_back_to_the_previous_spec(tmp_path, double, blessed):
    """A revision that never becomes ready: the step times out, restores the previous spec and fails."""
    old = str(tmp_path / "old")
    _create_held(double, tmp_path, old)
    model = fake_model(str(tmp_path / "m"))
    new = logic.versioned_storage_uri(str(tmp_path / "store"), "fraud", model)
    double.hold(new)
    with pytest.raises(DeployError) as e:
        deploy_model(model, blessed, "fraud", NS, str(tmp_path / "store"), api_client=double.api_client(),
                     timeout_seconds=2, poll_seconds=0.1)  # fmt: skip
    assert "timed out waiting for the new revision" in str(e.value) and "Rolled back" in str(e.value)
    isvc = double.get(NS, "fraud")
    assert isvc_lib.served_storage_uri(isvc) == old
    assert isvc["spec"]["predictor"].get("canaryTrafficPercent") is None  # nothing was stable: nothing to pin
    assert isvc_lib.CANDIDATE_ANNOTATION not in isvc["metadata"]["annotations"]  # resolved: not stale
    deadline = time.monotonic() + 10
    while len(double.revisions(NS, "fraud")) < 3 and time.monotonic() < deadline:  # the controller's next tick
        time.sleep(0.05)
    assert [r["storage_uri"] for r in double.revisions(NS, "fraud")] == [old, new, old]
    assert os.path.exists(os.path.join(new, storage.PUSH_MARKER))  # pushed, just never served


def test_no_inference_service_means_no_baseline(double):
    assert resolve_baseline("fraud", NS, api_client=double.api_client()) is None


def test_missing_crd_is_explained(tmp_path):
    """An API server without KServe answers 404 without naming the object."""
    from tests.doubles.kube_api import KubeApiTestDouble

    with KubeApiTestDouble() as d:
        d.handle = lambda *a: d._status(404, "NotFound", "the server could not find the requested resource")
        with pytest.raises(DeployError, match="is KServe installed"):
            resolve_baseline("fraud", NS, api_client=d.api_client())


def test_unreachable_api_is_clear():
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = "http://127.0.0.1:9"  # discard port: nothing listens
    cfg.retries = False
    with pytest.raises(DeployError, match="cannot reach the Kubernetes API at http://127.0.0.1:9"):
        resolve_baseline("fraud", NS, api_client=client.ApiClient(cfg))


# ------------------------------------------------------------------------------------------- baseline (pure)


def _isvc(uri: str, canary: int | None, traffic: dict[str, int], previous: str | None = None) -> dict:
    obj = build_inference_service(P(), uri)
    if canary is not None:
        obj["spec"]["predictor"]["canaryTrafficPercent"] = canary
    if previous:
        obj["metadata"]["annotations"][isvc_lib.PREVIOUS_URI_ANNOTATION] = previous
    obj["status"] = {"components": {"predictor": {"traffic": [
        {"revisionName": r, "percent": p, "latestRevision": i == 0} for i, (r, p) in enumerate(traffic.items())]}}}  # fmt: skip
    return obj


def test_baseline_is_the_model_with_the_stable_traffic():
    assert baseline_of(None) is None
    assert baseline_of(_isvc("s3://m/a", None, {})) is None  # nothing served yet
    assert baseline_of(_isvc("s3://m/a", None, {"r1": 100})) == "s3://m/a"
    assert baseline_of(_isvc("s3://m/b", 10, {"r2": 10, "r1": 90}, previous="s3://m/a")) == "s3://m/a"
    assert baseline_of(_isvc("s3://m/a", 0, {"r3": 0, "r1": 100}, previous="s3://m/b")) == "s3://m/a"
    with pytest.raises(DeployError, match="mid-rollout.*components.deploy rollback"):
        baseline_of(_isvc("s3://m/b", 10, {"r2": 10, "r1": 90}))


# ------------------------------------------------------------------------------------------- objects vs the CRD


def test_tensorflow_runtime_pins_a_tf_serving_not_older_than_the_training_tensorflow():
    obj = build_inference_service(P(runtime="tensorflow"), "s3://models/fraud/abc")
    version = obj["spec"]["predictor"]["model"]["runtimeVersion"]
    assert version == isvc_lib.TF_SERVING_RUNTIME_VERSION
    major_minor = lambda v: tuple(int(x) for x in v.split(".")[:2])  # noqa: E731
    assert major_minor(version) >= major_minor(tf.__version__)  # KServe's default (2.6.2) is older: rejected
    assert "runtimeVersion" not in build_inference_service(P(), "s3://m")["spec"]["predictor"]["model"]


def test_schema_check_catches_real_mistakes(isvc_schema):
    obj = build_inference_service(P(), "s3://models/fraud/abc")
    obj["spec"]["predictor"]["canaryTrafficPercent"] = "ten"
    obj["spec"]["predictor"]["model"]["storageURI"] = "typo"
    errors = validate_against_crd(obj, isvc_schema)
    assert any("canaryTrafficPercent" in e and "not of type 'integer'" in e for e in errors)
    assert any("storageURI: unknown field" in e for e in errors)


def test_double_rejects_invalid_objects_like_the_api_server(double):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    obj = build_inference_service(P(), "s3://x")
    obj["spec"]["predictor"]["minReplicas"] = "one"
    with pytest.raises(ApiException) as e:
        client.CustomObjectsApi(double.api_client()).create_namespaced_custom_object(
            isvc_lib.GROUP, isvc_lib.VERSION, NS, isvc_lib.PLURAL, obj
        )
    assert e.value.status == 422 and "minReplicas" in json.loads(e.value.body)["message"]


def test_double_speaks_json_patch_and_merge_patch(double, tmp_path):
    _create_held(double, tmp_path, str(tmp_path / "old"))
    url = f"{double.host}/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices/fraud"
    ops = [{"op": "add", "path": "/spec/predictor/canaryTrafficPercent", "value": 20}]
    req = urllib.request.Request(url, data=json.dumps(ops).encode(), method="PATCH",
                                 headers={"Content-Type": "application/json-patch+json"})  # fmt: skip
    with urllib.request.urlopen(req) as r:
        assert json.loads(r.read())["spec"]["predictor"]["canaryTrafficPercent"] == 20
    assert double.get(NS, "fraud")["metadata"]["generation"] == 2
    assert apply_merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {"a": {"c": 2, "d": 3}}
    assert apply_json_patch(
        {"a": [1, 2]}, [{"op": "remove", "path": "/a/0"}, {"op": "add", "path": "/a/-", "value": 3}]
    ) == {"a": [2, 3]}


def test_merge_patch_turns_current_into_target():
    current = {"minReplicas": 1, "canaryTrafficPercent": 10, "model": {"storageUri": "b", "runtime": "r", "x": 1}}
    target = {"minReplicas": 1, "canaryTrafficPercent": 0, "model": {"storageUri": "a", "runtime": "r"}}
    assert apply_merge_patch(current, isvc_lib.merge_patch(current, target)) == target


# ------------------------------------------------------------------------------------------- storage


def test_push_is_atomic_idempotent_and_refuses_another_model(tmp_path):
    model = fake_model(str(tmp_path / "m"))
    dest = str(tmp_path / "store" / "fraud" / "v1")
    first = storage.push_model(model, dest)
    assert first["copied"] and first["files"] == 3
    assert sorted(os.listdir(dest)) == ["kfx-push.json", "model.json", "saved_model"]
    assert not os.path.exists(os.path.join(dest, "logs"))  # TensorBoard logs stay with the artifact
    assert [n for n in os.listdir(os.path.dirname(dest)) if n.startswith(".kfx-tmp")] == []
    assert storage.push_model(model, dest)["copied"] is False  # same digest: nothing copied
    other = fake_model(str(tmp_path / "m2"), content=b"another model")
    with pytest.raises(storage.StorageError, match="already holds another model"):
        storage.push_model(other, dest)
    os.makedirs(str(tmp_path / "foreign" / "x"))
    with pytest.raises(storage.StorageError, match="not empty and was not written by kfx"):
        storage.push_model(model, str(tmp_path / "foreign"))


@pytest.mark.parametrize("runtime", ["kfx", "tensorflow"])
def test_push_carries_the_lineage_and_the_training_evidence(tmp_path, runtime):
    """The monitoring pipeline finds a served model's training statistics and schema at its storage URI."""
    from components._shared.artifacts import model as model_layout
    from components._shared.artifacts.schema import read_schema
    from components._shared.artifacts.statistics import read_statistics

    model = fake_model(str(tmp_path / "m"), lineage=LINEAGE)
    stats_dir, schema_dir = evidence(str(tmp_path))
    dest = str(tmp_path / "store" / runtime)
    out = storage.push_model(model, dest, runtime=runtime, statistics_dir=stats_dir, schema_dir=schema_dir)
    assert out["copied"] and out["files"] == 7  # saved_model.pb, variables.index, model.json, lineage, 2 stats, schema
    assert sorted(os.listdir(dest)) == sorted(["kfx-push.json", "model.json", "lineage.json", "evidence",
                                               "saved_model" if runtime == "kfx" else "1"])  # fmt: skip
    assert model_layout.read_lineage(dest) == LINEAGE
    assert read_statistics(model_layout.evidence_statistics_dir(dest), "eval").datasets[0].num_examples == 20
    assert read_schema(model_layout.evidence_schema_dir(dest)).feature[0].name == "amount"
    assert model_layout.layout_of(dest) == runtime  # the loaders still find the SavedModel
    assert model_layout.saved_model_dir(dest).endswith("saved_model" if runtime == "kfx" else "1")


def test_push_digest_covers_the_lineage_and_the_evidence(tmp_path):
    bare = fake_model(str(tmp_path / "bare"))
    with_lineage = fake_model(str(tmp_path / "lin"), lineage=LINEAGE)
    other_run = fake_model(str(tmp_path / "lin2"), lineage={**LINEAGE, "run_id": "run-2"})
    stats_dir, schema_dir = evidence(str(tmp_path))
    digests = {
        storage.model_digest(bare),
        storage.model_digest(with_lineage),
        storage.model_digest(other_run),
        storage.model_digest(with_lineage, stats_dir, schema_dir),
        storage.model_digest(with_lineage, stats_dir),
    }
    assert len(digests) == 5  # one immutable pushed directory per model + lineage + evidence
    assert storage.model_digest(with_lineage, stats_dir, schema_dir) == storage.model_digest(
        shutil_copy(with_lineage, str(tmp_path / "copy")), stats_dir, schema_dir
    )  # fmt: skip  stable across copies
    with pytest.raises(storage.StorageError, match="no <split>/FeatureStats.pb.*statistics step"):
        storage.model_digest(bare, str(tmp_path / "m"))  # a model dir is not a statistics artifact
    with pytest.raises(storage.StorageError, match="no schema.pbtxt.*schema step"):
        storage.model_digest(bare, "", stats_dir)


def shutil_copy(src: str, dst: str) -> str:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_push_tensorflow_layout_puts_the_saved_model_under_a_numeric_version(tmp_path):
    model = fake_model(str(tmp_path / "m"))
    dest = "file://" + str(tmp_path / "store" / "fraud-tf")
    storage.push_model(model, dest, runtime="tensorflow")
    root = str(tmp_path / "store" / "fraud-tf")
    assert sorted(os.listdir(root)) == ["1", "kfx-push.json", "model.json"]
    assert sorted(os.listdir(os.path.join(root, "1"))) == ["saved_model.pb", "variables"]


def test_push_through_gfile_uri_scheme(tmp_path):
    """Object-store path (no directory rename): files moved one by one, the marker last. TensorFlow's ram://
    filesystem stands in for gs:// / s3:// (same gfile code path, no network)."""
    model = fake_model(str(tmp_path / "m"))
    dest = "ram://kfx-deploy-test/fraud/v1"
    storage.push_model(model, dest)
    assert tf.io.gfile.exists(dest + "/saved_model/saved_model.pb")
    assert storage.read_marker(dest)["digest"] == storage.model_digest(model)
    assert storage.push_model(model, dest)["copied"] is False


def test_not_a_model_is_a_clear_error(tmp_path, blessed, double):
    os.makedirs(tmp_path / "empty")
    with pytest.raises(DeployError, match="no saved_model/saved_model.pb.*train step"):
        deploy_model(str(tmp_path / "empty"), blessed, "fraud", NS, str(tmp_path / "s"), api_client=double.api_client())


def test_versioned_storage_uri_follows_the_content(tmp_path):
    a = fake_model(str(tmp_path / "a"))
    b = fake_model(str(tmp_path / "b"), content=b"other")
    ua = logic.versioned_storage_uri("s3://bucket/models/", "fraud", a)
    assert ua.startswith("s3://bucket/models/fraud/") and len(ua.rsplit("/", 1)[1]) == 12
    assert ua == logic.versioned_storage_uri("s3://bucket/models", "fraud", str(tmp_path / "a"))
    assert ua != logic.versioned_storage_uri("s3://bucket/models", "fraud", b)


# ------------------------------------------------------------------------------------------- smoke rows


def test_smoke_rows_drop_labels_and_missing_values():
    rows = [{"amount": 12.5, "is_fraud": 1, "country": b"US", "hour": float("nan"), "x": None}]
    assert smoke.smoke_rows(rows, {"is_fraud"}) == [{"amount": 12.5, "country": "US"}]


def test_eval_rows_reads_a_few_raw_rows_complete_ones_first(tmp_path):
    split = tmp_path / "examples" / "eval"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(shard_path(str(tmp_path / "examples"), "eval", 0)) as w:
        for i in range(6):
            f = {"amount": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                 "country": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"US"]))}  # fmt: skip
            if i % 2:
                f["hour"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))
            w.write(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
    rows = smoke.eval_rows(str(tmp_path / "examples"), n=4)
    assert rows[:3] == [{"amount": 1.0, "country": "US", "hour": 1}, {"amount": 3.0, "country": "US", "hour": 3},
                        {"amount": 5.0, "country": "US", "hour": 5}]  # fmt: skip
    assert rows[3] == {"amount": 0.0, "country": "US"}


# ------------------------------------------------------------------------------------------- KFP wrappers


def test_wrappers_compile_with_typed_io(tmp_path):
    import yaml
    from kfp import compiler

    from components.deploy.component import deploy, rollback
    from components.deploy.component import resolve_baseline as resolve

    compiler.Compiler().compile(deploy, str(tmp_path / "deploy.yaml"))
    spec = yaml.safe_load(open(tmp_path / "deploy.yaml"))["root"]
    arts = {k: v["artifactType"]["schemaTitle"] for k, v in spec["inputDefinitions"]["artifacts"].items()}
    assert arts == {"model": "system.Model", "blessing": "system.Dataset", "examples": "system.Dataset",
                    "statistics": "system.Dataset", "schema": "system.Dataset"}  # fmt: skip
    assert spec["inputDefinitions"]["artifacts"]["statistics"]["isOptional"] is True
    params = spec["inputDefinitions"]["parameters"]
    assert params["canary_traffic_percent"]["parameterType"] == "NUMBER_INTEGER"
    assert {"name", "namespace", "storage_uri", "runtime", "rollout", "service_account", "timeout_seconds",
            "cpu_request", "memory_request", "cpu_limit", "memory_limit"} <= set(params)  # fmt: skip
    outs = spec["outputDefinitions"]
    assert outs["artifacts"]["report"]["artifactType"]["schemaTitle"] == "system.Markdown"
    assert {k: v["parameterType"] for k, v in outs["parameters"].items()} == {
        "endpoint": "STRING", "revision": "STRING", "deployed": "BOOLEAN"}  # fmt: skip
    compiler.Compiler().compile(resolve, str(tmp_path / "resolve.yaml"))
    spec = yaml.safe_load(open(tmp_path / "resolve.yaml"))["root"]
    assert set(spec["inputDefinitions"]["parameters"]) == {"name", "namespace"}
    assert spec["outputDefinitions"]["artifacts"]["baseline"]["artifactType"]["schemaTitle"] == "system.Model"
    assert "parameters" not in spec["outputDefinitions"]  # the baseline is an artifact, not a URI string
    compiler.Compiler().compile(rollback, str(tmp_path / "rollback.yaml"))
    spec = yaml.safe_load(open(tmp_path / "rollback.yaml"))["root"]
    assert set(spec["inputDefinitions"]["parameters"]) == {"name", "namespace", "timeout_seconds"}


def test_storage_scheme_without_a_filesystem_is_named(tmp_path, blessed, double):
    with pytest.raises(DeployError, match="no filesystem for 'nofs://'.*use a local path, file://, gs:// or s3://"):
        deploy_model(fake_model(str(tmp_path / "m")), blessed, "fraud", NS, "nofs://bucket/models",
                     api_client=double.api_client())  # fmt: skip
    assert double.requests == []
