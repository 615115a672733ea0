"""The whole training pipeline on the real Chicago taxi table (binary: tip > 20% of the fare)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from pipelines.run import run_local

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def taxi_run(tmp_path_factory, taxi_csv, project_root):
    root = tmp_path_factory.mktemp("taxi")
    args = dict(
        data_uri=taxi_csv,
        module_file=os.path.join(project_root, "pipelines", "modules", "taxi.py"),
        schema_uri=os.path.join(project_root, "pipelines", "schemas", "taxi.pbtxt"),
        label_key="big_tipper",
        raw_label_key="tips",
        task="binary",
        slice_features=["payment_type"],
        value_thresholds={"auc": 0.75},
        epochs=5,
    )
    return run_local(str(root), args)


def test_taxi_pipeline_blesses_a_model_that_beats_chance(taxi_run):
    s = taxi_run
    assert s.succeeded, s.error
    assert s.anomaly_count == 0, s.findings
    from components._shared.artifacts.examples import read_meta

    meta = read_meta(s.artifacts["ingest/examples"])
    assert sum(meta["splits"].values()) == 15002
    overall = next(x for x in s.slices if x["slice"] == "Overall")
    assert overall["metrics"]["example_count"] == meta["splits"]["eval"]
    assert overall["metrics"]["auc"] > 0.75
    assert s.blessed is True, s.reasons
    assert any(x["slice"].startswith("payment_type") for x in s.slices)


def test_taxi_model_serves_raw_rows_without_the_label(taxi_run):
    import tensorflow as tf

    from components._shared.artifacts import examples as examples_layout
    from components._shared.artifacts import model as model_layout

    model = tf.saved_model.load(model_layout.saved_model_dir(taxi_run.model_dir))
    examples = []
    for record in examples_layout.read_records(taxi_run.artifacts["ingest/examples"], "eval", 50):
        example = tf.train.Example.FromString(record)
        del example.features.feature["tips"]  # serving never sees the label's source column
        examples.append(example.SerializeToString())
    out = model.signatures["serving_default"](examples=tf.constant(examples))["outputs"].numpy()
    assert out.shape == (50, 1)
    assert np.all((out >= 0) & (out <= 1))
    assert out.std() > 0.01  # it discriminates
