"""The rehearsal machinery on a tiny probe pipeline: what a pod sees, artifacts through S3, failures publish nothing."""

from __future__ import annotations

import json

from tests.rehearsal.cluster import ROOT
from tests.rehearsal.environment import CACHE_DIR
from tests.rehearsal.testdata.probe_pipeline import compile_to


def test_probe_pipeline_runs_like_a_cluster(rehearsal, tmp_path):
    path = compile_to(str(tmp_path / "probe.yaml"))
    run = rehearsal.run(path, {"text": "over s3"})

    assert run.state("produce") == "SUCCEEDED", run.summary()
    out = run.output("produce", "out")
    assert out.uri.startswith("s3://mlpipeline/v2/artifacts/rehearsal-probe/")
    assert rehearsal.s3.read(out.uri + "/data.txt") == b"over s3"
    text, uri, chars = run.output("consume", "Output").split("|")
    assert (text, uri, chars) == ("over s3", out.uri, "7.0")  # metadata numbers travel as protobuf doubles

    seen = json.loads(run.output("probe", "Output"))
    env = seen["env"]
    assert env["FROM_IR"] == "ir-value"
    assert env["FROM_SECRET"] == "rehearsal-access-key"
    assert env["FROM_FIELD"] == "kfx"
    assert env["TF_USE_LEGACY_KERAS"] == "1"  # the image's ENV (components/Dockerfile)
    assert "VIRTUAL_ENV" not in env and "PYTHONPATH" not in env and "KUBECONFIG" not in env
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # the image's ENV: nothing is compiled at run time...
    assert seen["tf_bytecode"] is True  # ...so components/install.sh compiled it at install
    assert seen["listdir"] == []  # an empty working directory
    assert seen["kfx"].startswith(CACHE_DIR + "/") and "/site-packages/components/" in seen["kfx"]  # the built wheel
    source_tree = [p for p in seen["sys_path"] if p.startswith(ROOT) and "/.rehearsal/" not in p]
    assert source_tree == []

    assert run.state("broken") == "FAILED"
    assert "broken on purpose" in run.tasks["broken"].log
    assert run.tasks["broken"].outputs == {}
    assert run.state("after-broken") == "SKIPPED"
    assert rehearsal.s3.keys("s3://mlpipeline/v2/artifacts/rehearsal-probe/" + run.run_id + "/broken") == []


def test_execution_cache_reuses_a_succeeded_task(rehearsal, tmp_path):
    path = compile_to(str(tmp_path / "probe.yaml"))
    first = rehearsal.run(path, {"text": "same"})
    second = rehearsal.run(path, {"text": "same"})
    assert first.state("produce") == "SUCCEEDED"
    assert second.state("produce") == "CACHED"
    assert second.output("produce", "out").uri == first.output("produce", "out").uri
    assert second.state("broken") == "FAILED"  # a failed execution is never cached
