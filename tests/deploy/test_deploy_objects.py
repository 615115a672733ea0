"""Every InferenceService kfx can emit, in both deployment modes and both runtimes, is valid against KServe's CRD;
mode detection, stale-rollout detection and the baseline reference (pure, no servers)."""

from __future__ import annotations

import itertools
import json
import os
import re

import pytest

from components._shared.artifacts import model as model_layout
from components.deploy import baseline as baseline_lib
from components.deploy import isvc as isvc_lib
from components.deploy import logic, smoke
from components.deploy.errors import DeployError
from components.deploy.params import DeployParams
from components.deploy.rollout import is_stale
from tests.deploy.conftest import LINEAGE, fake_model
from tests.doubles.kube_api import apply_merge_patch, validate_against_crd

pytestmark = pytest.mark.unit

NS = "kfx-test"
NEW_LINEAGE = {**{k: v for k, v in LINEAGE.items() if k != "git_commit"}, "run_id": "run-2", "data_rows": 7000}


def _params(**kw) -> DeployParams:
    return DeployParams(**{"name": "fraud", "namespace": NS, "storage_uri": "s3://models", **kw})


def _served(obj: dict, rv: str = "7") -> dict:
    obj = json.loads(json.dumps(obj))
    obj["metadata"].update(resourceVersion=rv, generation=1)
    return obj


def emitted_objects() -> list[tuple[str, dict]]:
    """Every object shape deploy writes: creates, candidates, and the result of every patch it sends."""
    out = []
    for mode, runtime, sa in itertools.product(("knative", "standard"), ("kfx", "tensorflow"), ("", "kfx-models")):
        p = _params(runtime=runtime, service_account=sa)
        old = _served(isvc_lib.build_inference_service(p, "s3://models/fraud/aaa", mode, lineage=LINEAGE))
        new = isvc_lib.build_inference_service(p, "s3://models/fraud/bbb", mode, lineage=NEW_LINEAGE)
        tag = f"{mode}/{runtime}/{sa or 'no-sa'}"
        out.append((f"create {tag}", new))
        out.append((f"candidate {tag}", logic._candidate(new, p)))
        if mode == "standard":
            canary = apply_merge_patch(old, isvc_lib.canary_patch(old, new, 10, "s3://models/fraud/bbb"))
            out.append((f"spec.canary {tag}", canary))
            switch = isvc_lib.rollout_patch(canary, new, None, "s3://models/fraud/bbb")
            switch["spec"]["canary"] = None
            out.append((f"switch after canary {tag}", apply_merge_patch(canary, switch)))
        for pct in (None, 0, 10):
            rolled = apply_merge_patch(old, isvc_lib.rollout_patch(old, new, pct, "s3://models/fraud/bbb"))
            out.append((f"rollout {pct} {tag}", rolled))
            out.append(
                (
                    f"restore {tag}",
                    apply_merge_patch(rolled, isvc_lib.restore_patch(rolled, old["spec"]["predictor"], 0)),
                )
            )
            out.append((f"promote {tag}", apply_merge_patch(rolled, {"metadata": {"annotations": {
                isvc_lib.CANDIDATE_ANNOTATION: None}}, "spec": {"predictor": {"canaryTrafficPercent": None}}})))  # fmt: skip
    return out


@pytest.mark.parametrize("what, obj", emitted_objects(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_emitted_inference_service_is_valid_against_kserve_crd(isvc_schema, what, obj):
    assert validate_against_crd(obj, isvc_schema) == [], what


def _lineage_keys(obj: dict) -> dict[str, str]:
    return {k: v for k, v in obj["metadata"]["annotations"].items() if k.startswith("lineage.kfx.dev/")}


def test_lineage_annotations_are_valid_kubernetes_annotations():
    long = {**LINEAGE, "data_uri": "s3://data/" + "x" * 5000}
    obj = isvc_lib.build_inference_service(_params(), "s3://models/fraud/aaa", lineage=long)
    found = _lineage_keys(obj)
    assert found["lineage.kfx.dev/storage-uri"] == "s3://models/fraud/aaa"
    assert found["lineage.kfx.dev/data-sha256"] == LINEAGE["data_sha256"]
    assert found["lineage.kfx.dev/data-rows"] == "6000" and found["lineage.kfx.dev/run-id"] == "run-1"
    qualified = re.compile(r"^lineage\.kfx\.dev/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
    assert all(qualified.match(k) and isinstance(v, str) for k, v in found.items())
    assert len(found["lineage.kfx.dev/data-uri"]) == 1024 and found["lineage.kfx.dev/data-uri"].endswith("[shortened]")
    assert sum(len(k) + len(v) for k, v in obj["metadata"]["annotations"].items()) < 256 * 1024
    assert isvc_lib.lineage_of(obj)["data_sha256"] == LINEAGE["data_sha256"]


def test_lineage_annotations_follow_the_model_through_rollout_canary_and_rollback():
    p = _params()
    old = _served(isvc_lib.build_inference_service(p, "s3://models/fraud/aaa", lineage=LINEAGE))
    new = isvc_lib.build_inference_service(p, "s3://models/fraud/bbb", lineage=NEW_LINEAGE)
    rolled = apply_merge_patch(old, isvc_lib.rollout_patch(old, new, 10, "s3://models/fraud/bbb"))
    assert isvc_lib.lineage_of(rolled)["storage_uri"] == "s3://models/fraud/bbb"
    assert isvc_lib.lineage_of(rolled)["run_id"] == "run-2" and "git_commit" not in isvc_lib.lineage_of(rolled)
    assert isvc_lib.previous_lineage(rolled) == {"storage_uri": "s3://models/fraud/aaa",
                                                 **{k: str(v) for k, v in LINEAGE.items()}}  # fmt: skip
    restored = apply_merge_patch(rolled, isvc_lib.restore_patch(rolled, old["spec"]["predictor"], 0))
    assert _lineage_keys(restored) == _lineage_keys(old)  # the rollback restores the served model's lineage
    std = _params(deployment_mode="standard")
    old = _served(isvc_lib.build_inference_service(std, "s3://models/fraud/aaa", "standard", lineage=LINEAGE))
    new = isvc_lib.build_inference_service(std, "s3://models/fraud/bbb", "standard", lineage=NEW_LINEAGE)
    canary = apply_merge_patch(old, isvc_lib.canary_patch(old, new, 10, "s3://models/fraud/bbb"))
    assert _lineage_keys(canary) == _lineage_keys(old)  # spec.predictor still serves the old model
    assert isvc_lib.candidate_lineage(canary)["run_id"] == "run-2"  # the canary's own, recorded until the switch
    switch = isvc_lib.rollout_patch(canary, new, None, "s3://models/fraud/bbb")
    switched = apply_merge_patch(canary, switch)
    assert _lineage_keys(switched) == _lineage_keys(new) and isvc_lib.candidate_lineage(switched) == {}
    restored = apply_merge_patch(canary, isvc_lib.restore_patch(canary, old["spec"]["predictor"], None))
    assert _lineage_keys(restored) == _lineage_keys(old) and isvc_lib.candidate_lineage(restored) == {}


def test_modes_are_written_with_the_names_every_kserve_accepts_and_read_in_any_spelling():
    std = isvc_lib.build_inference_service(_params(), "s3://m", "standard")
    kn = isvc_lib.build_inference_service(_params(), "s3://m", "serverless")
    assert std["metadata"]["annotations"] == {isvc_lib.MODE_ANNOTATION: "RawDeployment"}
    assert kn["metadata"]["annotations"][isvc_lib.MODE_ANNOTATION] == "Serverless"
    assert kn["metadata"]["annotations"][isvc_lib.TAG_ROUTING_ANNOTATION] == "true"
    for value, mode in (("Standard", "standard"), ("RawDeployment", "standard"), ("Knative", "knative")):
        std["metadata"]["annotations"][isvc_lib.MODE_ANNOTATION] = value
        assert isvc_lib.mode_of(std) == mode


def test_auto_mode_follows_the_live_inference_service_and_a_contradiction_is_refused():
    live_std = isvc_lib.build_inference_service(_params(), "s3://m", "standard")
    assert logic.resolve_mode("auto", None) == "knative"
    assert logic.resolve_mode("auto", live_std) == "standard"
    assert logic.resolve_mode("standard", None) == "standard"
    with pytest.raises(DeployError, match="cannot change the mode of an existing InferenceService"):
        logic.resolve_mode("knative", live_std)


def test_stale_rollout_is_an_unverified_candidate_or_a_live_canary_share():
    obj = isvc_lib.build_inference_service(_params(), "s3://m/b")
    assert not is_stale(obj)
    obj["spec"]["predictor"]["canaryTrafficPercent"] = 0  # pinned by a rollback: finished
    assert not is_stale(obj)
    obj["spec"]["predictor"]["canaryTrafficPercent"] = 10
    assert is_stale(obj)
    del obj["spec"]["predictor"]["canaryTrafficPercent"]
    obj["metadata"]["annotations"][isvc_lib.CANDIDATE_ANNOTATION] = "s3://m/b"
    assert is_stale(obj)


def _artifact(tmp_path):
    from kfp.dsl import Model

    return Model(name="baseline", uri=str(tmp_path / "baseline"))  # the wrapper's Output[Model], as KFP makes it


def test_baseline_artifact_points_at_the_served_model_and_copies_nothing(tmp_path):
    served = fake_model(str(tmp_path / "served"))
    art = _artifact(tmp_path)
    baseline_lib.record_baseline(art, baseline_lib.Baseline(served, "served by kfx-test/fraud", "r1"))
    assert art.metadata == {"present": True, "reason": "served by kfx-test/fraud", "source": served, "layout": "kfx",
                            "revision": "r1"}  # fmt: skip
    assert art.uri == served and art.path == served  # evaluate reads the served model itself
    assert not os.path.exists(tmp_path / "baseline")  # nothing copied
    assert model_layout.saved_model_dir(art.path) == os.path.join(served, "saved_model")


def test_no_served_model_is_a_baseline_artifact_marked_absent(tmp_path):
    art = _artifact(tmp_path)
    baseline_lib.record_baseline(art, baseline_lib.Baseline(None, "no InferenceService"))
    assert art.metadata == {"present": False, "reason": "no InferenceService", "source": ""}
    assert all(v is not None for v in art.metadata.values())  # KFP artifact metadata must not be null
    assert model_layout.layout_of(art.path) is None
    with pytest.raises(FileNotFoundError, match="refers to no model: no InferenceService"):
        model_layout.saved_model_dir(art.path)


def test_a_baseline_pushed_for_tf_serving_is_read_through_the_one_layout_module(tmp_path):
    from components.deploy import storage

    pushed = str(tmp_path / "pushed")
    storage.push_model(fake_model(str(tmp_path / "m")), pushed, runtime="tensorflow")
    art = _artifact(tmp_path)
    baseline_lib.record_baseline(art, baseline_lib.Baseline(pushed, "served"))
    assert art.metadata["layout"] == "tensorflow"
    assert model_layout.saved_model_dir(art.path) == os.path.join(pushed, "1")


def test_smoke_addresses_are_cluster_local():
    obj = {"metadata": {"name": "fraud", "namespace": NS}, "status": {
        "url": "http://fraud.kfx-test.example.com", "address": {"url": "http://fraud.kfx-test.svc.cluster.local"},
        "components": {"predictor": {"address": {"url": "http://fraud-predictor.kfx-test.svc.cluster.local"},
                                     "traffic": [{"revisionName": "fraud-predictor-00002", "tag": "latest", "percent": 0,
                                                  "url": "http://latest-fraud-predictor.kfx-test.example.com"}]}}}}  # fmt: skip
    assert smoke.main_address(obj) == "http://fraud.kfx-test.svc.cluster.local"
    assert smoke.revision_address(obj, "fraud-predictor-00002") == (
        "http://latest-fraud-predictor.kfx-test.svc.cluster.local"
    )
    assert smoke.connect_to("http://x.svc.cluster.local/v1/models/m:predict") == (
        "http://x.svc.cluster.local/v1/models/m:predict", "x.svc.cluster.local")  # fmt: skip
