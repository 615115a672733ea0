"""Which model is in production: a model directory given directly, or the InferenceService (Kubernetes API test
double); the evidence kept with it."""

import pytest

from components._shared.artifacts import model as model_layout
from components.monitor.served import NoModelError, find_model, read_evidence
from tests.doubles.kube_api import KubeApiTestDouble

pytestmark = pytest.mark.unit


def test_nothing_served_is_a_clear_error():
    with KubeApiTestDouble() as double:
        with pytest.raises(
            NoModelError, match="InferenceService kfx/fraud: no InferenceService; there is no production"
        ):
            find_model("", "fraud", "kfx", api_client=double.api_client())
    with pytest.raises(NoModelError, match="give the served model"):
        find_model()


def test_a_model_directory_without_a_model_names_both_layouts(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SavedModel in"):
        find_model(str(tmp_path))


def test_evidence_of_a_model(monitor_env, tmp_path):
    evidence = read_evidence(monitor_env["model_dir"])
    assert evidence.label_key == "is_fraud" and evidence.schema is not None and evidence.training is not None
    assert evidence.notes == []
    bare = str(tmp_path / "bare")
    model_layout.write_model_meta(bare, {"label_key": "is_fraud", "raw_label_keys": []})
    empty = read_evidence(bare)
    assert empty.training is None and empty.schema is None and len(empty.notes) == 2
