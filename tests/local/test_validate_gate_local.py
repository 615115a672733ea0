"""The gate component alone under kfp.local: it fails with validate's message, or lets the run through."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.local


@pytest.fixture()
def local_runner(tmp_path, project_root):
    from kfp import local

    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (project_root, os.environ.get("PYTHONPATH")) if p)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path), raise_on_error=True)


def test_gate_fails_with_the_message(local_runner, capfd):
    from components.validate.component import gate

    message = "Data validation found 1 anomaly: feature `x`: SCHEMA_MISSING_COLUMN (eval split vs schema)."
    with pytest.raises(RuntimeError, match="gate"):
        gate(passed=False, message=message, fail_on_anomalies=True)
    out, err = capfd.readouterr()
    assert f"DataValidationError: {message}" in out + err


def test_gate_lets_the_run_through(local_runner):
    from components.validate.component import gate

    gate(passed=False, message="Data validation found 1 anomaly", fail_on_anomalies=False)
    gate(passed=True, message="")
