"""The gate: its rule (no TensorFlow needed), its KFP wrapper, and the training pipeline's wiring through it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from kfp import compiler

from components.validate.gate import CONTINUE_ANYWAY, DataValidationError, check_gate, gate_message

pytestmark = pytest.mark.unit


class _F:
    def __init__(self, text: str) -> None:
        self.text = text

    def line(self) -> str:
        return self.text


def test_message_is_one_paragraph_naming_findings_and_advising_in_each_interfaces_words():
    assert gate_message([]) == ""
    message = gate_message([_F(f"feature `f{i}`: KIND — d (eval split vs schema)") for i in range(10)])
    assert message.startswith("Data validation found 10 anomalies: feature `f0`")
    assert "feature `f7`" in message and "feature `f8`" not in message and "and 2 more" in message
    assert "\n" not in message and message.endswith(f"{CONTINUE_ANYWAY}.")
    assert "--no-fail-on-anomalies (CLI)" in CONTINUE_ANYWAY and "fail_on_anomalies=False" in CONTINUE_ANYWAY


def test_check_gate_raises_the_message_or_passes():
    check_gate(True, "")
    check_gate(False, "bad data", fail_on_anomalies=False)
    with pytest.raises(DataValidationError, match="^bad data$"):
        check_gate(False, "bad data")


def test_gate_module_does_not_load_tensorflow():
    code = "import sys, components.validate.gate; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _compile(fn, tmp_path) -> dict:
    path = tmp_path / "spec.yaml"
    compiler.Compiler().compile(fn, package_path=str(path))
    return yaml.safe_load(path.read_text())


def test_validate_returns_passed_and_message_and_gate_takes_them(tmp_path):
    from components.validate.component import gate, validate

    spec = _compile(validate, tmp_path)
    (component,) = spec["components"].values()
    outs = component["outputDefinitions"]["parameters"]
    assert outs["passed"]["parameterType"] == "BOOLEAN" and outs["message"]["parameterType"] == "STRING"
    assert "fail_on_anomalies" not in component["inputDefinitions"]["parameters"]
    spec = _compile(gate, tmp_path)
    (component,) = spec["components"].values()
    params = component["inputDefinitions"]["parameters"]
    assert set(params) == {"passed", "message", "fail_on_anomalies"}
    assert "artifacts" not in component.get("inputDefinitions", {})


def test_training_pipeline_runs_transform_after_the_gate(tmp_path):
    from pipelines.training import training_pipeline

    spec = _compile(training_pipeline, tmp_path)
    tasks = spec["root"]["dag"]["tasks"]
    assert "gate" in tasks["transform"]["dependentTasks"]
    inputs = tasks["gate"]["inputs"]["parameters"]
    assert inputs["passed"]["taskOutputParameter"] == {"producerTask": "validate", "outputParameterKey": "passed"}
    assert inputs["message"]["taskOutputParameter"] == {"producerTask": "validate", "outputParameterKey": "message"}
    assert inputs["fail_on_anomalies"]["componentInputParameter"] == "fail_on_anomalies"
