"""Fixtures of the deploy tests: KServe's CRD schema, blessings, model dirs, the Kubernetes API test double."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

import components  # noqa: F401
from components._shared.artifacts import blessing as blessing_layout
from components._shared.artifacts import model as model_layout
from tests.doubles.kube_api import SERVING_PYTHON, KubeApiTestDouble, crd_schema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KSERVE = os.path.join(os.path.dirname(ROOT), "shared", "kserve")
ISVC_CRD = os.path.join(KSERVE, "serving.kserve.io_inferenceservices.yaml")
RUNTIME_CRD = os.path.join(KSERVE, "serving.kserve.io_servingruntimes.yaml")
#: Reuse an already built serving model (the OUT_DIR of tests/testdata/build_serving_model.py) to iterate faster.
PREBUILT_ENV = "KFX_DEPLOY_TEST_MODEL"


def load_yaml(path: str) -> dict:
    with open(path) as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="session")
def isvc_schema() -> dict:
    if not os.path.exists(ISVC_CRD):
        pytest.fail(f"KServe's InferenceService CRD is expected at {ISVC_CRD} (../shared/kserve/)")
    return crd_schema(load_yaml(ISVC_CRD))


def write_blessing(directory: str, blessed: bool, reasons: list[str] | None = None) -> str:
    blessing_layout.write_blessing(directory, blessed, reasons or [], baseline=None, checks=[])
    return directory


@pytest.fixture
def blessed(tmp_path) -> str:
    return write_blessing(str(tmp_path / "blessing"), True)


#: A model's lineage as train writes it (components/_shared/lineage.py keys), for fake models.
LINEAGE = {
    "data_uri": "s3://data/fraud/day-1.csv",
    "data_sha256": "9f2c" * 16,
    "data_rows": 6000,
    "train_rows": 4755,
    "eval_rows": 1245,
    "module_file": "pipelines.modules.fraud",
    "module_sha256": "ab12" * 16,
    "hyperparameters": '{"batch_size":256,"epochs":8}',
    "kfx_version": "0.1.0",
    "git_commit": "2afa3c5",
    "pipeline_name": "kfx-train-and-deploy",
    "run_id": "run-1",
}


def evidence(directory: str) -> tuple[str, str]:
    """A statistics artifact (train and eval FeatureStats.pb) and a schema artifact, as the pipeline's steps write them."""
    from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

    from components._shared.artifacts.schema import write_schema
    from components._shared.artifacts.statistics import write_statistics

    stats_dir, schema_dir = os.path.join(directory, "statistics"), os.path.join(directory, "schema")
    for split, n in (("train", 80), ("eval", 20)):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        stats.datasets.add(name=split, num_examples=n)
        write_statistics(stats_dir, split, stats)
    schema = schema_pb2.Schema()
    schema.feature.add(name="amount", type=schema_pb2.FLOAT)
    write_schema(schema, schema_dir)
    return stats_dir, schema_dir


def fake_model(directory: str, content: bytes = b"not a real SavedModel", lineage: dict | None = None) -> str:
    """A model artifact's layout with a stand-in saved_model.pb: enough for digests, pushes and API calls (no
    server ever loads it). ``lineage``: its lineage.json (none when None)."""
    saved = model_layout.kfx_saved_model_dir(directory)
    os.makedirs(os.path.join(saved, "variables"), exist_ok=True)
    with open(model_layout.saved_model_pb(saved), "wb") as f:
        f.write(content)
    with open(os.path.join(saved, "variables", "variables.index"), "wb") as f:
        f.write(b"index")
    model_layout.write_model_meta(
        directory, {"label_key": "is_fraud", "raw_label_keys": ["is_fraud"], "task": "binary"}
    )
    os.makedirs(model_layout.logs_dir(directory), exist_ok=True)
    if lineage is not None:
        model_layout.write_lineage(directory, lineage)
    return directory


@pytest.fixture
def double(isvc_schema):
    """A KubeApiTestDouble validating against KServe's CRD schema (fast tests start no model server in it)."""
    with KubeApiTestDouble(schema=isvc_schema) as d:
        yield d


@pytest.fixture(scope="session")
def serving_model(tmp_path_factory) -> dict:
    """A REAL small trained kfx model (ingest -> TFT -> Keras) and raw eval rows, built once per session.

    Returns {"model_dir", "instances", "predictions"} (expected.json of tests/testdata/build_serving_model.py).
    """
    out = os.environ.get(PREBUILT_ENV)
    if not out:
        out = str(tmp_path_factory.mktemp("serving_model"))
        script = os.path.join(ROOT, "tests", "testdata", "build_serving_model.py")
        proc = subprocess.run([sys.executable, script, out, "--rows", "1500", "--eval-rows", "16"], cwd=ROOT,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        if proc.returncode != 0:
            pytest.fail(f"building the serving model failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    with open(os.path.join(out, "expected.json")) as f:
        expected = json.load(f)
    expected["model_dir"] = os.path.join(out, "model")
    return expected


@pytest.fixture(scope="session")
def live_double(isvc_schema):
    """One KubeApiTestDouble for every live test: it starts REAL kfx model servers (shared per model dir and name).
    At teardown it must have stopped every one of them."""
    if not os.path.exists(SERVING_PYTHON):
        pytest.skip(f"the serving environment is missing ({SERVING_PYTHON}): make install-serving")
    d = KubeApiTestDouble(schema=isvc_schema).start()
    try:
        yield d
    finally:
        d.stop()
        alive = [p.pid for p in d.processes() if p.poll() is None]
        assert not alive, f"model servers still running after the double stopped: {alive}"


def variant(model_dir: str, directory: str, tag: str) -> str:
    """A copy of a real model with a different digest (model.json gains a field): loads and serves the same."""
    if os.path.exists(directory):
        shutil.rmtree(directory)
    shutil.copytree(model_dir, directory, ignore=shutil.ignore_patterns(model_layout.LOGS_DIR))
    meta = model_layout.read_model_meta(directory)
    meta["kfx_test_variant"] = tag
    model_layout.write_model_meta(directory, meta)
    return directory


def corrupt(model_dir: str, directory: str) -> str:
    """A copy of a real model whose saved_model.pb is truncated: the real server fails to load it and exits."""
    variant(model_dir, directory, "corrupt")
    pb = os.path.join(directory, "saved_model", "saved_model.pb")
    with open(pb, "rb") as f:
        head = f.read(1000)
    with open(pb, "wb") as f:
        f.write(head)
    return directory
