"""The ``kfx`` cluster commands, with the REAL kfp.Client 2.13 against the KFP API test double (tests/doubles/kfp_api.py)."""

import json

import pytest
import yaml

from pipelines import cli
from tests.doubles.kfp_api import KfpApiDouble

pytestmark = pytest.mark.components


@pytest.fixture
def api():
    double = KfpApiDouble().start()
    yield double
    double.stop()


def _spec(pipeline: str) -> dict:
    with open(cli.package_path(pipeline)) as f:
        return next(d for d in yaml.safe_load_all(f) if d)


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_upload_creates_then_versions(api, capsys):
    code, out, _ = _run(["upload", "--host", api.host, "--pipeline", "training", "--version", "0.1.0-aaa"], capsys)
    assert code == 0 and json.loads(out.splitlines()[-1])["created"] == "pipeline"
    (upload,) = api.calls("POST", "/apis/v2beta1/pipelines/upload")
    assert upload.query["name"] == ["kfx-training"]
    assert next(yaml.safe_load_all(upload.files["uploadfile"])) == _spec(
        "training"
    )  # the committed compiled YAML, as is
    code, out, _ = _run(["upload", "--host", api.host, "--pipeline", "training", "--version", "0.1.0-bbb"], capsys)
    assert code == 0 and json.loads(out.splitlines()[-1])["version"] == "0.1.0-bbb"
    (version,) = api.calls("POST", "/apis/v2beta1/pipelines/upload_version")
    assert version.query["name"] == ["0.1.0-bbb"] and version.query["pipelineid"] == [upload_id(api)]
    code, _, err = _run(["upload", "--host", api.host, "--pipeline", "training", "--version", "0.1.0-bbb"], capsys)
    assert code == 2 and "already has a version '0.1.0-bbb'" in err


def test_upload_without_pipeline_uploads_all_three(api, capsys):
    """The monitoring pipeline submits train_and_deploy, so a plain `kfx upload` puts every pipeline on the host."""
    code, _, _ = _run(["upload", "--host", api.host, "--version", "0.1.0-ccc"], capsys)
    assert code == 0
    names = [c.query["name"][0] for c in api.calls("POST", "/apis/v2beta1/pipelines/upload")]
    assert names == ["kfx-training", "kfx-train-and-deploy", "kfx-monitoring"]


def upload_id(api) -> str:
    return next(iter(api.pipelines))


def test_run_on_a_host_sends_the_compiled_spec_and_arguments(api, capsys):
    argv = ["run", "--host", api.host, "--param", "data_uri=s3://bucket/day.csv", "--param", "epochs=3"]
    code, out, _ = _run(argv, capsys)
    assert code == 0
    run_id = json.loads(out.splitlines()[-1])["run_id"]
    (post,) = api.calls("POST", "/apis/v2beta1/runs")
    assert post.body["runtime_config"]["parameters"] == {"data_uri": "s3://bucket/day.csv", "epochs": 3}
    assert post.body["pipeline_spec"]["pipelineInfo"]["name"] == "kfx-training"
    assert post.body["pipeline_spec"]["root"] == _spec("training")["root"]
    api.finish_run(run_id, "FAILED")
    code, out, _ = _run(["status", "--host", api.host, "--run-id", run_id], capsys)
    assert json.loads(out)["state"] == "FAILED"


def test_schedule_is_a_cron_recurring_run_without_caching(api, capsys):
    argv = ["schedule", "--host", api.host, "--pipeline", "training", "--cron", "0 0 6 * * *"]
    code, _, _ = _run(argv + ["--param", "data_uri=s3://b/x.csv"], capsys)
    assert code == 0
    (post,) = api.calls("POST", "/apis/v2beta1/recurringruns")
    assert post.body["trigger"]["cron_schedule"]["cron"] == "0 0 6 * * *"
    assert int(post.body["max_concurrency"]) == 1 and post.body["no_catchup"] is True
    tasks = post.body["pipeline_spec"]["root"]["dag"]["tasks"]
    assert tasks and all(not t.get("cachingOptions", {}).get("enableCache") for t in tasks.values())
    assert api.calls("POST", "/apis/v2beta1/experiments")


def test_unreachable_host_is_one_line(capsys):
    code, _, err = _run(["status", "--host", "http://127.0.0.1:9"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is unreachable" in err


def test_unauthorised_host_is_one_line(capsys):
    double = KfpApiDouble(token="s3cret").start()
    try:
        code, _, err = _run(["status", "--host", double.host], capsys)
        assert code == 2 and "unauthorised (HTTP 401)" in err and len(err.strip().splitlines()) == 1
        code, _, _ = _run(["status", "--host", double.host, "--token", "s3cret"], capsys)
        assert code == 0
    finally:
        double.stop()


def test_wrong_version_host_is_one_line(capsys):
    double = KfpApiDouble(api_version="v1").start()
    try:
        code, _, err = _run(["upload", "--host", double.host], capsys)
        assert code == 2 and "runs Kubeflow Pipelines 1.8.5" in err and "needs Kubeflow Pipelines 2.x" in err
        assert not double.calls("POST", "/apis")  # nothing was sent after the version check
    finally:
        double.stop()


def test_version_name_carries_the_git_commit():
    name = cli.version_name()
    assert name.startswith(cli.__version__)


def test_run_without_a_host_is_the_local_cli(capsys):
    # the local path is python -m pipelines.run: its preflight answers in well under a second, with no TensorFlow
    code, out, err = _run(["run", "--", "--data", "/nonexistent/data.csv", "--label", "y"], capsys)
    assert code == 2 and "/nonexistent/data.csv" in out + err
