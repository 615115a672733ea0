"""Input checks before a run starts (pipelines.preflight): each bad input is reported by name, with the
CLI's flag, before any step runs and without importing TensorFlow. Before these checks, a missing module
file surfaced after ~30 s, behind four finished steps."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipelines.preflight import check_inputs, metric_names
from pipelines.rundir import pipeline_root

pytestmark = pytest.mark.unit

FRAUD_SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "pipelines", "schemas", "fraud.pbtxt")
GOOD_MODULE = "def preprocessing_fn(inputs):\n    return inputs\n\n\ndef run_fn(args):\n    pass\n"


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("amount,channel,is_fraud\n1.0,pos,0\n2.0,atm,1\n")
    return str(path)


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "module.py"
    path.write_text(GOOD_MODULE)
    return str(path)


def values(csv: str, module: str, **kw) -> dict:
    base = dict(data_uri=csv, module_file=module, raw_label_key="is_fraud", task="binary", schema_uri="")
    return base | {"num_classes": 0, "eval_fraction": 0.2, "value_thresholds": {}, "change_thresholds": {}} | kw


def problems(**kw) -> str:
    return " | ".join(check_inputs(values(**kw)).problems)


def test_good_inputs_pass(csv, module):
    found = check_inputs(values(csv, module, schema_uri=FRAUD_SCHEMA))
    assert found.problems == [] and found.header == ["amount", "channel", "is_fraud"]
    assert check_inputs(values(csv, "pipelines.modules.fraud")).problems == []  # an installed module by name


def test_missing_data_and_directory_and_empty_file(tmp_path, module):
    assert "does not exist" in problems(csv=str(tmp_path / "nope.csv"), module=module)
    assert "is a directory" in problems(csv=str(tmp_path), module=module)
    (tmp_path / "empty.csv").write_text("")
    assert "it is empty" in problems(csv=str(tmp_path / "empty.csv"), module=module)


def test_module_missing_broken_or_incomplete(tmp_path, csv):
    assert "`module_file` " in problems(csv=csv, module=str(tmp_path / "missing.py"))
    assert "does not exist" in problems(csv=csv, module="no_such_package.module")
    broken = tmp_path / "broken.py"
    broken.write_text("def preprocessing_fn(inputs:\n    pass\n")
    assert "syntax error at line 1" in problems(csv=csv, module=str(broken))
    no_train = tmp_path / "no_train.py"
    no_train.write_text("def preprocessing_fn(inputs):\n    return inputs\n")
    assert "neither build_model nor run_fn" in problems(csv=csv, module=str(no_train))
    no_transform = tmp_path / "no_transform.py"
    no_transform.write_text("from x import build_model\n")
    assert "no preprocessing_fn" in problems(csv=csv, module=str(no_transform))


def test_schema_that_does_not_parse(tmp_path, csv, module):
    bad = tmp_path / "schema.pbtxt"
    bad.write_text('feature { name: "amount" type: FLOATY }\n')
    assert "not a valid text-format Schema" in problems(csv=csv, module=module, schema_uri=str(bad))
    assert "does not exist" in problems(csv=csv, module=module, schema_uri=str(tmp_path / "none.pbtxt"))


def test_label_column_must_be_in_the_header(csv, module):
    assert "`raw_label_key` 'fraud' is not a column" in problems(csv=csv, module=module, raw_label_key="fraud")
    assert "`slice_features` ['country'] are not columns" in problems(
        csv=csv, module=module, slice_features=["channel", "country"]
    )


def test_task_and_thresholds_must_agree(csv, module):
    assert "auc is a binary metric" in problems(
        csv=csv, module=module, task="regression", value_thresholds={"auc": 0.7}
    )
    assert "does not fit `task` binary" in problems(
        csv=csv, module=module, change_thresholds={"mean_squared_error": 0.1}
    )
    assert "for multiclass only" in problems(csv=csv, module=module, num_classes=3)
    assert "give 2 or more" in problems(csv=csv, module=module, task="multiclass", num_classes=1)
    assert "strictly between 0 and 1" in problems(csv=csv, module=module, eval_fraction=1.5)
    assert "one of binary" in problems(csv=csv, module=module, task="ranking")


def test_metric_names_come_from_evaluate():
    names = metric_names()
    assert "auc" in names["binary"] and "mean_squared_error" in names["regression"]
    assert "mean_label" not in names["binary"]  # no direction: no thresholds


def test_cli_reports_bad_inputs_before_anything_runs_and_without_tensorflow(tmp_path, csv):
    code = (
        "import sys; from pipelines.run import main; "
        f"rc = main(['--root', {str(tmp_path)!r}, '--data', {csv!r}, '--module', 'missing.py', "
        "'--task', 'regression', '--threshold', 'auc=0.7']); "
        "print('tensorflow imported:', 'tensorflow' in sys.modules); sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "`--module` missing.py does not exist" in done.stderr  # in the CLI's words
    assert "`--threshold` on 'auc' does not fit `--task` regression" in done.stderr
    assert "tensorflow imported: False" in done.stdout
    assert not os.path.exists(pipeline_root(str(tmp_path)))  # nothing started
