"""Evaluate (TFMA) on real models from the real chain: metrics, slices, thresholds, baseline, blessing."""

from __future__ import annotations

import json
import math
import os

import pytest

from components._shared.artifacts import blessing as blessing_layout
from components._shared.artifacts import evaluation as evaluation_layout
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts import model as model_layout
from components.evaluate.logic import EvaluationError, evaluate_model
from tests.testdata.chain import build_chain

pytestmark = pytest.mark.unit

MULTITASK_MODULE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "testdata", "engineer_d_multitask_module.py"
)
# ~1,000 eval rows (~40 frauds) keep TFMA's AUC stable enough; 3 epochs keep the chain short.
N_ROWS = 5000


def _eval_rows(examples_dir: str) -> int:
    return examples_layout.read_meta(examples_dir)["splits"]["eval"]


def _run(chain: dict, out, **kwargs):
    return evaluate_model(
        kwargs.pop("model_dir", None) or chain["model"],
        chain["examples"],
        str(out / "evaluation"),
        str(out / "blessing"),
        html_path=str(out / "report.html"),
        **kwargs,
    )


@pytest.fixture(scope="module")
def fraud(tmp_path_factory) -> dict:
    return build_chain(str(tmp_path_factory.mktemp("fraud_chain")), n_rows=N_ROWS, epochs=3)


@pytest.fixture(scope="module")
def vs_itself(fraud, tmp_path_factory):
    """The fraud model evaluated against itself as baseline, sliced by channel, with low thresholds."""
    out = tmp_path_factory.mktemp("vs_itself")
    result = _run(
        fraud,
        out,
        slice_features=["channel"],
        value_thresholds={"auc": 0.55},
        change_thresholds={"auc": 0.0},
        baseline_model_dir=fraud["model"],
    )
    return out, result


def test_binary_overall_metrics_slices_and_files(fraud, vs_itself):
    out, r = vs_itself
    n_eval = _eval_rows(fraud["examples"])
    assert r.task == "binary" and r.label_key == "is_fraud"
    assert 0.0 <= r.overall["auc"] <= 1.0
    assert r.overall["auc"] > 0.7, "the fraud model has real signal"
    assert r.example_count == n_eval == int(r.overall["example_count"])
    for name in ("auc_precision_recall", "binary_accuracy", "precision", "recall", "binary_crossentropy"):
        assert name in r.overall

    # per slice: one row per channel, counts add up to the eval split
    by_slice = {s["slice"]: s for s in r.slices}
    channels = {k for k in by_slice if k.startswith("channel=")}
    assert channels == {"channel=pos", "channel=online", "channel=atm"}
    assert sum(by_slice[k]["metrics"]["example_count"] for k in channels) == n_eval
    assert all(0.0 <= by_slice[k]["metrics"]["binary_accuracy"] <= 1.0 for k in channels)

    # ROC points and the confusion matrix for the KFP UI
    roc = r.roc
    assert len(roc["fpr"]) == len(roc["tpr"]) == len(roc["thresholds"]) > 10
    assert all(0.0 <= v <= 1.0 for v in roc["fpr"] + roc["tpr"])
    assert roc["tpr"][0] == 1.0 and roc["tpr"][-1] <= roc["tpr"][0]
    cm = r.confusion_matrix
    assert cm["categories"] == ["0", "1"] and sum(map(sum, cm["matrix"])) == n_eval

    # files: slices.json, blessing.json, TFMA output loadable by TFMA, self-contained HTML
    def strict(token):
        raise AssertionError(f"{token} in slices.json is not JSON")

    slices = json.loads((out / "evaluation" / evaluation_layout.SLICES_FILE).read_text(), parse_constant=strict)
    assert {s["slice"] for s in slices} == set(by_slice)
    import tensorflow_model_analysis as tfma

    loaded = tfma.load_eval_result(evaluation_layout.tfma_dir(str(out / "evaluation")), model_name="candidate")
    assert len(loaded.slicing_metrics) == len(r.slices)
    page = (out / "report.html").read_text()
    assert "channel=online" in page and "BLESSED" in page and "<script" not in page


def test_identical_baseline_passes_change_threshold(vs_itself):
    out, r = vs_itself
    assert r.blessed, r.reasons
    assert r.reasons == []
    assert r.baseline_overall["auc"] == pytest.approx(r.overall["auc"])
    change = [c for c in r.checks if c["kind"] == "change"]
    assert len(change) == 1 and change[0]["passed"] and change[0]["metric"] == "auc"
    blessing = blessing_layout.read_blessing(str(out / "blessing"))
    assert blessing["blessed"] is True and blessing["reasons"] == [] and blessing["baseline"]


def test_impossible_thresholds_are_not_blessed_and_named(fraud, tmp_path):
    r = _run(fraud, tmp_path, value_thresholds={"auc": 1.01, "binary_crossentropy": 1e-6})
    assert not r.blessed
    assert any(x.startswith("auc ") and "< 1.010 (overall)" in x for x in r.reasons), r.reasons
    # lower-is-better metrics take an upper bound
    assert any(x.startswith("binary_crossentropy ") and "> 1e-06 (overall)" in x for x in r.reasons), r.reasons
    blessing = blessing_layout.read_blessing(str(tmp_path / "blessing"))
    assert blessing == {"blessed": False, "reasons": r.reasons, "baseline": None, "checks": r.reasons, "notes": r.notes}
    assert "NOT BLESSED" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"value_thresholds": {"accuracy_typo": 0.5}}, "unknown metric 'accuracy_typo'"),
        ({"change_thresholds": {"auc": -0.1}}, "must be >= 0"),
        ({"slice_features": ["no_such_column"]}, "slice feature 'no_such_column'"),
        (
            {"label_key": "no_such_label"},
            "label_key='no_such_label' was given to evaluate, but the model was trained with label_key='is_fraud'",
        ),
        (
            {"task": "regression"},
            "task='regression' was given to evaluate, but the model was trained with task='binary'",
        ),
        ({"baseline_model_dir": "/nonexistent/baseline"}, "baseline model /nonexistent/baseline does not exist"),
    ],
)
def test_bad_parameters_fail_before_writing(fraud, tmp_path, kwargs, message):
    with pytest.raises(EvaluationError, match=message.replace("(", r"\(")):
        _run(fraud, tmp_path, **kwargs)
    assert not (tmp_path / "evaluation").exists() and not (tmp_path / "blessing").exists()


@pytest.mark.slow
def test_worse_candidate_vs_good_baseline_is_not_blessed(fraud, tmp_path):
    from components.train.logic import run_training
    from tests.testdata.chain import FRAUD_MODULE

    worse = str(tmp_path / "worse_model")
    # one epoch at a learning rate of 1e-9: the weights stay at their random initialisation
    run_training(
        fraud["transformed_examples"],
        fraud["transform_graph"],
        FRAUD_MODULE,
        worse,
        label_key="is_fraud",
        task="binary",
        epochs=1,
        learning_rate=1e-9,
    )
    r = _run(fraud, tmp_path, model_dir=worse, value_thresholds={}, baseline_model_dir=fraud["model"])
    assert not r.blessed
    assert r.overall["auc"] < r.baseline_overall["auc"] - 0.01
    (reason,) = r.reasons
    assert reason.startswith("auc dropped ") and "vs baseline" in reason and "allowed 0.010" in reason


@pytest.fixture(scope="module")
def multitask(tmp_path_factory) -> dict:
    """Fraud data transformed by the multitask module (labels channel_id and log_amount), not trained."""
    return build_chain(
        str(tmp_path_factory.mktemp("multitask")), n_rows=2500, module_file=MULTITASK_MODULE, train=False
    )


def _train(chain: dict, model_dir: str, **kwargs) -> str:
    from components.train.logic import run_training

    run_training(
        chain["transformed_examples"], chain["transform_graph"], MULTITASK_MODULE, model_dir, epochs=3, **kwargs
    )
    return model_dir


def test_multiclass_evaluates_with_confusion_matrix(multitask, tmp_path):
    model = _train(multitask, str(tmp_path / "model"), label_key="channel_id", task="multiclass", num_classes=3)
    r = _run(multitask, tmp_path, model_dir=model, slice_features=["device_type"])
    n_eval = _eval_rows(multitask["examples"])
    assert r.task == "multiclass" and r.example_count == n_eval
    assert 0.0 <= r.overall["sparse_categorical_accuracy"] <= 1.0
    assert r.overall["sparse_categorical_crossentropy"] > 0.0
    cm = r.confusion_matrix
    # categories are the class names train recorded in model.json (the label's vocabulary), in class-id order
    assert cm["categories"] == model_layout.read_model_meta(model)["classes"] and len(cm["matrix"]) == 3
    assert sum(map(sum, cm["matrix"])) == n_eval
    assert r.roc is None
    # default gate: accuracy must beat always answering the majority class
    (check,) = r.checks
    assert check["kind"] == "naive" and check["bound"] == pytest.approx(max(map(sum, cm["matrix"])) / n_eval)
    assert r.blessed == check["passed"]
    assert any(s["slice"].startswith("device_type=") for s in r.slices)
    # the naive baseline is stated, and the report has the heat map and per-class metrics
    assert r.naive["naive"] == pytest.approx(check["bound"]) and "majority class" in r.naive["naive_text"]
    assert bool(r.notes) == r.naive["barely"]
    page = (tmp_path / "report.html").read_text()
    assert 'data-chart="heatmap"' in page and "Per-class metrics" in page and "<script" not in page


@pytest.fixture(scope="module")
def regression_model(multitask, tmp_path_factory) -> str:
    return _train(
        multitask, str(tmp_path_factory.mktemp("regression") / "model"), label_key="log_amount", task="regression"
    )


def test_regression_evaluates_and_passes_against_itself(multitask, regression_model, tmp_path):
    model = regression_model
    r = _run(multitask, tmp_path, model_dir=model, baseline_model_dir=model)
    assert r.task == "regression" and r.example_count == _eval_rows(multitask["examples"])
    mse = r.overall["mean_squared_error"]
    assert mse > 0 and r.overall["root_mean_squared_error"] == pytest.approx(math.sqrt(mse), rel=1e-3)
    assert r.overall["mean_absolute_error"] > 0
    assert r.roc is None and r.confusion_matrix is None
    # default with a baseline: MSE may rise by at most 1% of the baseline's
    (check,) = r.checks
    assert check["kind"] == "change" and check["metric"] == "mean_squared_error" and check["passed"]
    assert r.blessed
    # predicted vs actual from real predictions; the naive baseline is predicting the mean (MSE = label variance)
    sample = r.predictions
    assert 0 < len(sample["label"]) == len(sample["prediction"]) <= 250 and sample["label_variance"] > 0
    assert r.naive["metric"] == "mean_squared_error" and r.naive["naive"] == sample["label_variance"]
    page = (tmp_path / "report.html").read_text()
    assert "Predicted vs actual" in page and "Residuals" in page and page.count("<circle") == 2 * len(sample["label"])


def _tf_serving_copy(model_dir: str, dest) -> str:
    """The model pushed in KServe's TF Serving layout: <dest>/1/ = the SavedModel, model.json beside it."""
    import shutil

    shutil.copytree(model_layout.saved_model_dir(model_dir), dest / model_layout.TF_SERVING_VERSION)
    shutil.copy(model_layout.meta_path(model_dir), model_layout.meta_path(str(dest)))
    assert model_layout.layout_of(str(dest)) == model_layout.TF_SERVING_LAYOUT
    return str(dest)


def test_baseline_in_tf_serving_layout_is_evaluated(fraud, vs_itself, tmp_path):
    """A baseline pushed for runtime='tensorflow' (<uri>/1/) loads like a kfx model artifact (was 'no SavedModel')."""
    baseline = _tf_serving_copy(fraud["model"], tmp_path / "served")
    r = _run(fraud, tmp_path, baseline_model_dir=baseline, value_thresholds={}, change_thresholds={"auc": 0.0})
    assert r.baseline == baseline and r.blessed, r.reasons
    assert r.baseline_overall["auc"] == pytest.approx(vs_itself[1].baseline_overall["auc"])
    summary = evaluation_layout.read_summary(str(tmp_path / "evaluation"))
    assert summary["curves"]["baseline"]["roc"]["fpr"], "the baseline's curves are kept for the side-by-side report"


def test_report_draws_binary_curves_side_by_side_and_stays_small(vs_itself):
    out, r = vs_itself
    page = (out / "report.html").read_text()
    assert len(page.encode()) < 300_000
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for title in ("ROC", "Precision-recall", "Calibration", "Metrics per slice"):
        assert title in page, title
    assert page.count('data-chart="heatmap"') == 2  # candidate and baseline confusion matrices
    assert page.count('data-chart="line"') == 3
    # the KFP UI gets a bounded ROC curve
    roc = r.kfp_roc()
    assert 10 < len(roc["fpr"]) <= 50 and roc["fpr"][0] == r.roc["fpr"][0] and roc["fpr"][-1] == r.roc["fpr"][-1]
    cal = r.curves["candidate"]["calibration"]
    assert cal["count"] and sum(cal["count"]) == r.example_count


def test_baseline_trained_for_another_label_is_refused(fraud, regression_model, tmp_path):
    with pytest.raises(EvaluationError, match="trained with label_key='log_amount'.*can't be compared"):
        _run(fraud, tmp_path, baseline_model_dir=regression_model)


def test_every_file_evaluate_writes_is_named_in_its_layout(vs_itself):
    out, _ = vs_itself
    written = {p.name + ("/" if p.is_dir() else "") for p in (out / "evaluation").iterdir()}
    assert written == set(evaluation_layout.FILES)
    assert {p.name for p in (out / "blessing").iterdir()} == set(blessing_layout.FILES)
    assert blessing_layout.read_blessing(str(out / "blessing"))["blessed"] is True
    assert evaluation_layout.read_slices(str(out / "evaluation")) == json.loads(
        (out / "evaluation" / evaluation_layout.SLICES_FILE).read_text()
    )


def test_tfma_runs_on_the_local_fn_api_runner_unless_a_runner_is_named():
    from components._shared._compat.beam import LOCAL_FN_API_RUNNER_FLAG
    from components.evaluate.logic import _pipeline_args

    assert _pipeline_args(["--direct_num_workers=1"]) == ["--direct_num_workers=1", LOCAL_FN_API_RUNNER_FLAG]
    assert _pipeline_args(["--runner=DataflowRunner"]) == ["--runner=DataflowRunner"]
    assert _pipeline_args(["--runner", "DirectRunner"]) == ["--runner", "DirectRunner"]
