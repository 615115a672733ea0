"""Evaluate a trained model with TFMA: metrics overall and per slice, thresholds, blessing.

The candidate model (and optionally a baseline model) is run by TFMA on the raw eval split of
an examples artifact. The label comes from the model's ``transform_features`` signature when
the label is produced by ``preprocessing_fn`` (e.g. taxi: tips > 20% of fare), otherwise from
the raw examples. Thresholds are checked by TFMA's own validator on the overall slice:

* value thresholds: ``{metric: bound}``. For metrics where higher is better (auc, accuracy, ...)
  the bound is a *lower* bound; for loss/error metrics (mean_squared_error,
  binary_crossentropy, ...) it is an *upper* bound.
* change thresholds (only with a baseline model): ``{metric: allowed degradation}`` in absolute
  units of the metric, e.g. ``{"auc": 0.01}`` fails when the candidate's AUC is more than 0.01
  below the baseline's.

Outputs (layout in ``components/_shared/artifacts.py``):
``<evaluation_dir>/tfma/`` (``tfma.load_eval_result``; with a baseline pass
``model_name="candidate"``), ``<evaluation_dir>/slices.json``, ``<evaluation_dir>/evaluation.json``
(the whole :class:`EvaluationResult`), ``<blessing_dir>/blessing.json`` and an HTML report.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared import artifacts
from components._shared.log import get_logger, timed

log = get_logger("evaluate")

from components._shared.tasks import TASKS  # noqa: E402

CANDIDATE = "candidate"
BASELINE = "baseline"
#: Extra file in the evaluation artifact: the whole EvaluationResult as JSON.
SUMMARY_FILE = "evaluation.json"

# (TFMA/Keras metric class, metric name, config) per task; names are what thresholds refer to.
_METRICS: dict[str, list[tuple[str, str, dict]]] = {
    "binary": [
        ("ExampleCount", "example_count", {}),
        ("AUC", "auc", {}),
        ("AUCPrecisionRecall", "auc_precision_recall", {}),
        ("BinaryAccuracy", "binary_accuracy", {}),
        ("Precision", "precision", {}),
        ("Recall", "recall", {}),
        ("BinaryCrossEntropy", "binary_crossentropy", {}),
        ("MeanLabel", "mean_label", {}),
        ("MeanPrediction", "mean_prediction", {}),
        ("Calibration", "calibration", {}),
    ],
    "multiclass": [
        ("ExampleCount", "example_count", {}),
        ("SparseCategoricalAccuracy", "sparse_categorical_accuracy", {}),
        ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", {}),
    ],
    "regression": [
        ("ExampleCount", "example_count", {}),
        ("MeanSquaredError", "mean_squared_error", {}),
        ("RootMeanSquaredError", "root_mean_squared_error", {}),
        ("MeanAbsoluteError", "mean_absolute_error", {}),
        ("MeanLabel", "mean_label", {}),
        ("MeanPrediction", "mean_prediction", {}),
    ],
}
#: Metrics where a smaller value is better: value thresholds are upper bounds for these.
LOWER_IS_BETTER = frozenset(
    {
        "mean_squared_error",
        "root_mean_squared_error",
        "mean_absolute_error",
        "binary_crossentropy",
        "sparse_categorical_crossentropy",
    }
)
#: Descriptive metrics without a "better" direction: no thresholds on these.
_NO_DIRECTION = frozenset({"mean_label", "mean_prediction", "calibration"})

#: Value thresholds used when the caller gives none. binary: AUC 0.5 is a coin toss, so 0.6 asks
#: for a clearly better-than-chance ranking; multiclass and regression have no data-independent
#: floor, so kfx adds a data-derived check instead (see ``_naive_checks``).
DEFAULT_VALUE_THRESHOLDS: dict[str, dict[str, float]] = {"binary": {"auc": 0.6}, "multiclass": {}, "regression": {}}
#: Change thresholds used with a baseline when the caller gives none (allowed absolute degradation).
DEFAULT_CHANGE_THRESHOLDS: dict[str, dict[str, float]] = {
    "binary": {"auc": 0.01},
    "multiclass": {"sparse_categorical_accuracy": 0.01},
    "regression": {},
}
#: Regression default with a baseline: MSE may not rise by more than this *fraction* of the baseline
#: MSE (an absolute tolerance would depend on the label's units).
DEFAULT_REGRESSION_RELATIVE_CHANGE = 0.01

_ROC_THRESHOLDS = 100
_MAIN_METRICS = {
    "binary": ["example_count", "auc", "auc_precision_recall", "binary_accuracy", "precision", "recall"],
    "multiclass": ["example_count", "sparse_categorical_accuracy", "sparse_categorical_crossentropy"],
    "regression": ["example_count", "mean_squared_error", "root_mean_squared_error", "mean_absolute_error"],
}


class EvaluationError(ValueError):
    """The model, examples or parameters given to evaluate are unusable."""


@dataclass
class EvaluationResult:
    task: str
    label_key: str
    overall: dict[str, float]
    slices: list[dict[str, Any]]
    blessed: bool
    reasons: list[str]
    checks: list[dict[str, Any]] = field(default_factory=list)
    baseline: str | None = None
    baseline_overall: dict[str, float] = field(default_factory=dict)
    roc: dict[str, list[float]] | None = None
    confusion_matrix: dict[str, Any] | None = None
    example_count: int = 0
    label_from: str = "transform_features"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- inputs


def _read_model_meta(model_dir: str) -> dict[str, Any]:
    path = os.path.join(model_dir, artifacts.MODEL_META)
    if not _exists(path):
        return {}
    return artifacts.read_json(path)


def _exists(path: str) -> bool:
    import tensorflow as tf

    return tf.io.gfile.exists(path)


def _signatures(model_dir: str, what: str) -> dict[str, dict[str, Any]]:
    """Signature name -> {"inputs": {name: dtype}, "outputs": {name: shape}} read from saved_model.pb."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved = os.path.join(model_dir, artifacts.SAVED_MODEL_DIR)
    pb = os.path.join(saved, "saved_model.pb")
    if not _exists(pb):
        raise EvaluationError(f"{what} model has no SavedModel: expected {pb} (the train step's model artifact)")
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(pb, "rb") as f:
        proto.ParseFromString(f.read())
    sigs: dict[str, dict[str, Any]] = {}
    for mg in proto.meta_graphs:
        if "serve" not in mg.meta_info_def.tags:
            continue
        for name, sd in mg.signature_def.items():
            sigs[name] = {
                "inputs": {k: tf.dtypes.as_dtype(v.dtype).name for k, v in sd.inputs.items()},
                "outputs": {k: [d.size for d in v.tensor_shape.dim] for k, v in sd.outputs.items()},
            }
    serving = sigs.get(artifacts.SERVING_SIGNATURE)
    if serving is None:
        raise EvaluationError(
            f"{what} model {saved} has no '{artifacts.SERVING_SIGNATURE}' signature (found: {sorted(sigs)})"
        )
    if artifacts.OUTPUT_KEY not in serving["outputs"]:
        raise EvaluationError(
            f"{what} model's '{artifacts.SERVING_SIGNATURE}' signature has no '{artifacts.OUTPUT_KEY}' output "
            f"(found: {sorted(serving['outputs'])})"
        )
    return sigs


def _resolve_label(label_key: str, sigs: dict[str, dict[str, Any]], columns: dict[str, str] | None) -> str:
    """Where TFMA finds the label: 'transform_features' (preprocessed) or 'examples' (raw)."""
    transform = sigs.get(artifacts.TRANSFORM_SIGNATURE)
    if transform is not None and label_key in transform["outputs"]:
        return "transform_features"
    if columns is None or label_key in columns:
        return "examples"
    produced = sorted(transform["outputs"]) if transform else []
    raise EvaluationError(
        f"label '{label_key}' is neither an output of the model's '{artifacts.TRANSFORM_SIGNATURE}' signature "
        f"({produced or 'no such signature'}) nor a column of the eval examples ({sorted(columns)}); "
        "pass label_key= the (transformed) label name"
    )


def _check_thresholds(kind: str, thresholds: dict[str, float], task: str) -> None:
    known = {name for _, name, _ in _METRICS[task]} - _NO_DIRECTION
    for name, bound in thresholds.items():
        if name not in known:
            raise EvaluationError(
                f"{kind} threshold on unknown metric '{name}' for task '{task}'; choose from {sorted(known)}"
            )
        if not isinstance(bound, int | float) or math.isnan(float(bound)):
            raise EvaluationError(f"{kind} threshold for '{name}' must be a number, got {bound!r}")
        if kind == "change" and bound < 0:
            raise EvaluationError(f"change threshold for '{name}' is an allowed degradation and must be >= 0")


# ----------------------------------------------------------------------------- TFMA config


def _eval_config(
    task: str,
    label_key: str,
    label_from: str,
    slice_features: Sequence[str],
    value_thresholds: dict[str, float],
    change_thresholds: dict[str, float],
    relative_change: dict[str, float],
    has_baseline: bool,
):
    import tensorflow_model_analysis as tfma

    def model_spec(name: str, is_baseline: bool) -> Any:
        spec = tfma.ModelSpec(
            name=name if has_baseline else "",
            signature_name=artifacts.SERVING_SIGNATURE,
            prediction_key=artifacts.OUTPUT_KEY,
            label_key=label_key,
            model_type=tfma.TF_GENERIC,
            is_baseline=is_baseline,
        )
        if label_from == "transform_features":
            spec.preprocessing_function_names.append(artifacts.TRANSFORM_SIGNATURE)
        return spec

    specs = [model_spec(CANDIDATE, False)]
    if has_baseline:
        specs.append(model_spec(BASELINE, True))

    overall = [tfma.SlicingSpec()]
    configs = []
    for class_name, name, cfg in _METRICS[task]:
        mc = tfma.MetricConfig(class_name=class_name, config=json.dumps(cfg) if cfg else "")
        thr = tfma.MetricThreshold()
        lower_better = name in LOWER_IS_BETTER
        direction = tfma.MetricDirection.LOWER_IS_BETTER if lower_better else tfma.MetricDirection.HIGHER_IS_BETTER
        if name in value_thresholds:
            bound = {"value": float(value_thresholds[name])}
            vt = (
                tfma.GenericValueThreshold(upper_bound=bound)
                if lower_better
                else tfma.GenericValueThreshold(lower_bound=bound)
            )
            thr.value_threshold.CopyFrom(vt)
        if has_baseline and name in change_thresholds:
            allowed = float(change_thresholds[name])
            thr.change_threshold.CopyFrom(
                tfma.GenericChangeThreshold(
                    direction=direction, absolute={"value": allowed if lower_better else -allowed}
                )
            )
        elif has_baseline and name in relative_change:
            allowed = float(relative_change[name])
            thr.change_threshold.CopyFrom(
                tfma.GenericChangeThreshold(
                    direction=direction, relative={"value": allowed if lower_better else -allowed}
                )
            )
        if thr.HasField("value_threshold") or thr.HasField("change_threshold"):
            # Thresholds gate the overall slice only; small slices are reported, not gated.
            mc.per_slice_thresholds.append(tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=thr))
        configs.append(mc)
    if task == "binary":
        configs.append(
            tfma.MetricConfig(class_name="ConfusionMatrixPlot", config=json.dumps({"num_thresholds": _ROC_THRESHOLDS}))
        )
        configs.append(
            tfma.MetricConfig(class_name="ConfusionMatrixAtThresholds", config=json.dumps({"thresholds": [0.5]}))
        )
    elif task == "multiclass":
        configs.append(tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"))

    slicing = [tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[f]) for f in slice_features]
    return tfma.EvalConfig(
        model_specs=specs,
        metrics_specs=[tfma.MetricsSpec(metrics=configs, model_names=[s.name for s in specs])],
        slicing_specs=slicing,
    )


# ----------------------------------------------------------------------------- reading TFMA output


def _metric_value(value: Any) -> float | None:
    if value.HasField("double_value"):
        return float(value.double_value.value)
    return None


def _slice_name(key: tuple) -> str:
    return "Overall" if not key else ", ".join(f"{c}={v}" for c, v in key)


def _read_metrics(tfma_dir: str) -> dict[tuple, dict[str, dict]]:
    """slice key -> model name -> {"metrics": {name: float}, "diff": {name: float}, "messages": {...}}."""
    from tensorflow_model_analysis.slicer import slicer_lib
    from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer as w

    out: dict[tuple, dict[str, dict]] = {}
    for m in w.load_and_deserialize_metrics(tfma_dir):
        key = slicer_lib.deserialize_slice_key(m.slice_key)
        models = out.setdefault(key, {})
        for kv in m.metric_keys_and_values:
            if kv.key.HasField("sub_key") or kv.key.HasField("aggregation_type"):
                continue
            entry = models.setdefault(kv.key.model_name, {"metrics": {}, "diff": {}, "messages": {}})
            v = _metric_value(kv.value)
            if v is None:
                if not kv.key.is_diff:  # a diff of two confusion matrices is no confusion matrix
                    entry["messages"][kv.key.name] = kv.value
            elif kv.key.is_diff:
                entry["diff"][kv.key.name] = v
            else:
                entry["metrics"][kv.key.name] = v
    # Model-independent metrics (example_count) are stored under model name "".
    for models in out.values():
        shared = models.get("", {"metrics": {}})["metrics"]
        for name, entry in models.items():
            if name:
                for k, v in shared.items():
                    entry["metrics"].setdefault(k, v)
    return out


def _read_plots(tfma_dir: str, model_name: str) -> dict[str, Any]:
    """The overall slice's plots of one model: {"roc": PlotData matrices, "multiclass": ...}."""
    from tensorflow_model_analysis.slicer import slicer_lib
    from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer as w

    found: dict[str, Any] = {}
    for p in w.load_and_deserialize_plots(tfma_dir):
        if slicer_lib.deserialize_slice_key(p.slice_key):
            continue
        for kv in p.plot_keys_and_values:
            if kv.key.model_name != model_name:
                continue
            if kv.value.HasField("confusion_matrix_at_thresholds"):
                found["roc"] = kv.value.confusion_matrix_at_thresholds
            if kv.value.HasField("multi_class_confusion_matrix_at_thresholds"):
                found["multiclass"] = kv.value.multi_class_confusion_matrix_at_thresholds
    return found


def _roc(matrices: Any) -> dict[str, list[float]]:
    fpr, tpr, thr = [], [], []
    for m in matrices.matrices:
        pos = m.true_positives + m.false_negatives
        neg = m.false_positives + m.true_negatives
        point = (
            float(m.false_positives / neg) if neg else 0.0,
            float(m.true_positives / pos) if pos else 0.0,
            float(min(max(m.threshold, 0.0), 1.0)),  # TFMA's first threshold is -epsilon
        )
        if fpr and (fpr[-1], tpr[-1], thr[-1]) == point:
            continue
        fpr.append(point[0])
        tpr.append(point[1])
        thr.append(point[2])
    return {"fpr": fpr, "tpr": tpr, "thresholds": thr}


def _binary_confusion(message: Any) -> dict[str, Any] | None:
    if not message.HasField("confusion_matrix_at_thresholds"):
        return None
    m = message.confusion_matrix_at_thresholds.matrices[0]
    # rows = actual, columns = predicted, categories in order ["0", "1"]
    matrix = [[int(m.true_negatives), int(m.false_positives)], [int(m.false_negatives), int(m.true_positives)]]
    return {"categories": ["0", "1"], "matrix": matrix, "threshold": float(m.threshold)}


def _multiclass_confusion(message: Any, num_classes: int, class_names: Sequence[str]) -> dict[str, Any]:
    m = message.matrices[0]
    ids = {e.actual_class_id for e in m.entries} | {
        e.predicted_class_id for e in m.entries if e.predicted_class_id >= 0
    }
    n = max(num_classes, (max(ids) + 1) if ids else 0)
    matrix = [[0] * n for _ in range(n)]
    for e in m.entries:
        if 0 <= e.actual_class_id < n and 0 <= e.predicted_class_id < n:
            matrix[e.actual_class_id][e.predicted_class_id] += int(round(e.num_weighted_examples))
    names = list(class_names) if len(class_names) == n else [str(i) for i in range(n)]
    return {"categories": names, "matrix": matrix}


def _failures(tfma_dir: str) -> tuple[list[Any], bool, list[str]]:
    """TFMA's threshold failures and whether its validation passed."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(tfma_dir)
    failures = []
    for per_slice in result.metric_validations_per_slice:
        failures.extend(per_slice.failures)
    # With no thresholds at all TFMA reports missing_thresholds and validation_ok=False;
    # for kfx "nothing to check" means nothing blocks the blessing.
    ok = bool(result.validation_ok) or (bool(result.missing_thresholds) and not failures and not result.missing_slices)
    other = [
        f"no examples in thresholded slice {list(m.feature_keys) or dict(m.feature_values) or 'Overall'}"
        for m in result.missing_slices
    ]
    return failures, ok, other


# ----------------------------------------------------------------------------- blessing


def _fmt(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    if abs(x) >= 1000 or (x != 0 and abs(x) < 0.001):
        return f"{x:.3g}"
    return f"{x:.3f}"


def _checks(
    task: str,
    overall: dict[str, float],
    baseline_overall: dict[str, float],
    diffs: dict[str, float],
    value_thresholds: dict[str, float],
    change_thresholds: dict[str, float],
    relative_change: dict[str, float],
    failed: set[tuple[str, bool]],
) -> list[dict[str, Any]]:
    """One entry per configured threshold; pass/fail comes from TFMA's validation result."""
    checks = []
    for name, bound in value_thresholds.items():
        v = overall.get(name)
        lower_better = name in LOWER_IS_BETTER
        passed = (name, False) not in failed
        op_fail, op_ok = (">", "<=") if lower_better else ("<", ">=")
        text = f"{name} {_fmt(v)} {op_ok if passed else op_fail} {_fmt(bound)} (overall)"
        checks.append({"kind": "value", "metric": name, "value": v, "bound": bound, "passed": passed, "text": text})
    for name in sorted(set(change_thresholds) | set(relative_change)):
        if not baseline_overall:
            break
        cand, base = overall.get(name), baseline_overall.get(name)
        diff = diffs.get(name, (cand - base) if cand is not None and base is not None else None)
        lower_better = name in LOWER_IS_BETTER
        degradation = None if diff is None else (diff if lower_better else -diff)
        verb = "rose" if lower_better else "dropped"
        passed = (name, True) not in failed
        if name in change_thresholds:
            allowed_text = f"allowed {_fmt(change_thresholds[name])}"
            allowed = change_thresholds[name]
        else:
            allowed = relative_change[name]
            allowed_text = f"allowed {allowed:.0%} of baseline"
        if degradation is not None and degradation > 0:
            moved = f"{verb} {_fmt(degradation)}"
        else:
            moved = f"did not degrade ({'+' if (diff or 0) >= 0 else ''}{_fmt(diff)})"
        text = f"{name} {moved} vs baseline ({_fmt(cand)} vs {_fmt(base)}), {allowed_text}"
        checks.append(
            {"kind": "change", "metric": name, "value": diff, "bound": allowed, "passed": passed, "text": text}
        )
    return checks


def _naive_checks(task: str, overall: dict[str, float], confusion: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Data-derived default for multiclass: accuracy must beat always predicting the majority class."""
    if task != "multiclass" or not confusion:
        return []
    rows = [sum(r) for r in confusion["matrix"]]
    total = sum(rows)
    acc = overall.get("sparse_categorical_accuracy")
    if not total or acc is None:
        return []
    majority = max(rows) / total
    passed = acc > majority
    text = f"sparse_categorical_accuracy {_fmt(acc)} {'>' if passed else '<='} {_fmt(majority)} majority-class rate (overall)"
    return [
        {
            "kind": "naive",
            "metric": "sparse_categorical_accuracy",
            "value": acc,
            "bound": majority,
            "passed": passed,
            "text": text,
        }
    ]


def _json_safe(obj: Any) -> Any:
    """NaN/inf (e.g. AUC of a slice without positives) -> None, so the JSON files are strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------- HTML


def _html(result: EvaluationResult) -> str:
    names = [m for m in _MAIN_METRICS[result.task] if any(m in s["metrics"] for s in result.slices)]
    extra = sorted({k for s in result.slices for k in s["metrics"]} - set(names))
    cols = names + extra
    status = "BLESSED" if result.blessed else "NOT BLESSED"
    color = "#1b7f3b" if result.blessed else "#b00020"
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>kfx evaluation</title><style>",
        "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-size:13px}",
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}",
        "td.s{text-align:left}.ok{color:#1b7f3b}.bad{color:#b00020}",
        "</style></head><body>",
        f"<h2>Model evaluation ({html.escape(result.task)}, label <code>{html.escape(result.label_key)}</code>)</h2>",
        f"<p style='font-size:18px;font-weight:bold;color:{color}'>{status}</p><ul>",
    ]
    for c in result.checks:
        cls = "ok" if c["passed"] else "bad"
        out.append(f"<li class='{cls}'>{'pass' if c['passed'] else 'FAIL'}: {html.escape(c['text'])}</li>")
    for r in result.reasons:
        if not any(r == c["text"] for c in result.checks):
            out.append(f"<li class='bad'>FAIL: {html.escape(r)}</li>")
    out.append("</ul>")
    if result.baseline:
        out.append(f"<p>Baseline model: <code>{html.escape(result.baseline)}</code></p>")
    out.append("<h3>Metrics per slice</h3><table><tr><th>slice</th>")
    out += [f"<th>{html.escape(c)}</th>" for c in cols]
    out.append("</tr>")
    rows = [(s["slice"], s["metrics"]) for s in result.slices]
    if result.baseline_overall:
        rows.insert(1, ("Overall (baseline)", result.baseline_overall))
    for name, metrics in rows:
        out.append(f"<tr><td class='s'>{html.escape(name)}</td>")
        for c in cols:
            v = metrics.get(c)
            cell = str(int(v)) if c == "example_count" and v is not None else _fmt(v)
            out.append(f"<td>{cell}</td>")
        out.append("</tr>")
    out.append("</table>")
    if result.confusion_matrix:
        cm = result.confusion_matrix
        out.append("<h3>Confusion matrix (overall; rows = actual, columns = predicted)</h3><table><tr><th></th>")
        out += [f"<th>{html.escape(c)}</th>" for c in cm["categories"]]
        out.append("</tr>")
        for cat, row in zip(cm["categories"], cm["matrix"], strict=True):
            out.append(f"<tr><th>{html.escape(cat)}</th>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


# ----------------------------------------------------------------------------- main entry


def evaluate_model(
    model_dir: str,
    examples_dir: str,
    evaluation_dir: str,
    blessing_dir: str,
    html_path: str | None = None,
    label_key: str | None = None,
    task: str | None = None,
    slice_features: Sequence[str] = (),
    value_thresholds: dict[str, float] | None = None,
    change_thresholds: dict[str, float] | None = None,
    baseline_model_dir: str | None = None,
    num_classes: int = 0,
    beam_pipeline_args: Sequence[str] = (),
) -> EvaluationResult:
    """Evaluate ``model_dir`` on the eval split of ``examples_dir`` with TFMA and decide the blessing.

    ``label_key``/``task`` default to the model artifact's ``model.json``. ``value_thresholds``
    (``{metric: bound}``: lower bound, or upper bound for the loss/error metrics in
    ``LOWER_IS_BETTER``) default to ``DEFAULT_VALUE_THRESHOLDS[task]``; pass ``{}`` for none.
    ``change_thresholds`` (``{metric: allowed absolute degradation}``) apply only with
    ``baseline_model_dir`` and default to ``DEFAULT_CHANGE_THRESHOLDS[task]`` (regression: MSE may
    rise by at most 1% of the baseline's). Thresholds gate the overall slice; slices are reported.
    """
    import tensorflow as tf

    # ---- validate everything before writing anything
    if not _exists(model_dir):
        raise EvaluationError(f"model artifact {model_dir} does not exist")
    meta = _read_model_meta(model_dir)
    task = task or meta.get("task") or ""
    if task not in TASKS:
        raise EvaluationError(f"task must be one of {', '.join(TASKS)} (got {task!r}; set task= or model.json 'task')")
    label_key = label_key or meta.get("label_key") or ""
    if not label_key:
        raise EvaluationError(f"no label_key given and {os.path.join(model_dir, artifacts.MODEL_META)} names none")
    eval_files = artifacts.split_files(examples_dir, "eval")
    ex_meta_path = os.path.join(examples_dir, artifacts.EXAMPLES_META)
    ex_meta = artifacts.read_json(ex_meta_path) if _exists(ex_meta_path) else {}
    columns = ex_meta.get("columns")
    for f in slice_features:
        if columns is not None and f not in columns:
            raise EvaluationError(f"slice feature '{f}' is not a column of the eval examples ({sorted(columns)})")
    sigs = _signatures(model_dir, "candidate")
    label_from = _resolve_label(label_key, sigs, columns)
    k = (sigs[artifacts.SERVING_SIGNATURE]["outputs"][artifacts.OUTPUT_KEY] or [0, 0])[-1]
    if task == "multiclass":
        if num_classes <= 0:
            num_classes = int(k) if k and k > 1 else 0
        if num_classes < 2:
            raise EvaluationError("multiclass task needs num_classes >= 2 (or a model whose output has k >= 2 columns)")
    elif k not in (1, -1, 0):
        raise EvaluationError(f"task '{task}' expects one model output column, the model has {k}; is task right?")

    baseline = baseline_model_dir or None
    if baseline:
        if not _exists(baseline):
            raise EvaluationError(f"baseline model {baseline} does not exist (pass an empty baseline for none)")
        bsigs = _signatures(baseline, "baseline")
        b_from = _resolve_label(label_key, bsigs, columns)
        if b_from != label_from:
            raise EvaluationError(
                f"candidate and baseline models disagree on where label '{label_key}' comes from "
                f"({label_from} vs {b_from}); they can't be compared on one eval config"
            )
    naive_default = value_thresholds is None
    value_thresholds = dict(DEFAULT_VALUE_THRESHOLDS[task] if value_thresholds is None else value_thresholds)
    relative_change: dict[str, float] = {}
    if change_thresholds is None:
        change_thresholds = dict(DEFAULT_CHANGE_THRESHOLDS[task])
        if task == "regression":
            relative_change = {"mean_squared_error": DEFAULT_REGRESSION_RELATIVE_CHANGE}
    change_thresholds = dict(change_thresholds)
    _check_thresholds("value", value_thresholds, task)
    _check_thresholds("change", change_thresholds, task)

    # ---- run TFMA
    import tensorflow_model_analysis as tfma
    from apache_beam.options.pipeline_options import PipelineOptions

    config = _eval_config(
        task,
        label_key,
        label_from,
        slice_features,
        value_thresholds,
        change_thresholds,
        relative_change,
        bool(baseline),
    )
    models = [
        tfma.default_eval_shared_model(
            os.path.join(model_dir, artifacts.SAVED_MODEL_DIR),
            model_name=CANDIDATE if baseline else "",
            eval_config=config,
        )
    ]
    if baseline:
        models.append(
            tfma.default_eval_shared_model(
                os.path.join(baseline, artifacts.SAVED_MODEL_DIR), model_name=BASELINE, eval_config=config
            )
        )
    tfma_dir = os.path.join(evaluation_dir, artifacts.TFMA_DIR)
    if tf.io.gfile.exists(tfma_dir):
        tf.io.gfile.rmtree(tfma_dir)
    tf.io.gfile.makedirs(tfma_dir)
    what = f"TFMA {task} evaluation of {len(eval_files)} eval file(s), label '{label_key}' from {label_from}"
    what += f", slices {list(slice_features)}" if slice_features else ""
    what += ", vs baseline" if baseline else ""
    try:
        with timed(log, what) as t:
            tfma.run_model_analysis(
                eval_shared_model=models if baseline else models[0],
                eval_config=config,
                data_location=artifacts.split_pattern(examples_dir, "eval"),
                output_path=tfma_dir,
                pipeline_options=PipelineOptions(list(beam_pipeline_args)),
            )
            metrics = _read_metrics(tfma_dir)
            cand_name = CANDIDATE if baseline else ""
            t["rows"] = int(metrics.get((), {}).get(cand_name, {}).get("metrics", {}).get("example_count", 0))
    except Exception:
        if tf.io.gfile.exists(tfma_dir):
            tf.io.gfile.rmtree(tfma_dir)
        raise

    # ---- collect
    slices = []
    overall: dict[str, float] = {}
    baseline_overall: dict[str, float] = {}
    diffs: dict[str, float] = {}
    confusion = None
    for key in sorted(metrics, key=lambda s: (len(s), [(c, str(v)) for c, v in s])):
        cand = metrics[key].get(cand_name, {"metrics": {}, "diff": {}, "messages": {}})
        slices.append({"slice": _slice_name(key), "features": {c: v for c, v in key}, "metrics": cand["metrics"]})
        if key == ():
            overall = dict(cand["metrics"])
            diffs = dict(cand["diff"])
            if baseline:
                baseline_overall = dict(metrics[key].get(BASELINE, {}).get("metrics", {}))
            if task == "binary" and "confusion_matrix_at_thresholds" in cand["messages"]:
                confusion = _binary_confusion(cand["messages"]["confusion_matrix_at_thresholds"])
    if not overall:
        raise EvaluationError(f"TFMA produced no overall metrics in {tfma_dir}; are there eval examples?")
    expected = ex_meta.get("splits", {}).get("eval")
    if expected is not None and int(overall.get("example_count", -1)) != int(expected):
        log.warning("TFMA counted %s eval examples, %s says %s", overall.get("example_count"), ex_meta_path, expected)
    plots = _read_plots(tfma_dir, cand_name)
    roc = _roc(plots["roc"]) if task == "binary" and "roc" in plots else None
    if task == "multiclass" and "multiclass" in plots:
        confusion = _multiclass_confusion(plots["multiclass"], num_classes, meta.get("classes") or [])

    failures, validation_ok, other_problems = _failures(tfma_dir)
    failed = {(f.metric_key.name, bool(f.metric_key.is_diff)) for f in failures}
    checks = _checks(
        task, overall, baseline_overall, diffs, value_thresholds, change_thresholds, relative_change, failed
    )
    if naive_default:
        checks += _naive_checks(task, overall, confusion)
    reasons = [c["text"] for c in checks if not c["passed"]]
    known = {(c["metric"], c["kind"] == "change") for c in checks}
    for f in failures:  # anything TFMA failed that kfx did not configure itself (should not happen)
        if (f.metric_key.name, bool(f.metric_key.is_diff)) not in known:
            reasons.append(f"{f.metric_key.name}: {f.message or 'failed its threshold'}")
    reasons += other_problems
    if not validation_ok and not reasons:
        reasons.append(f"TFMA validation failed, see {tfma_dir}/validations.tfrecord")
    blessed = validation_ok and not reasons

    result = EvaluationResult(
        task=task,
        label_key=label_key,
        overall=overall,
        slices=slices,
        blessed=blessed,
        reasons=reasons,
        checks=checks,
        baseline=baseline,
        baseline_overall=baseline_overall,
        roc=roc,
        confusion_matrix=confusion,
        example_count=int(overall.get("example_count", 0)),
        label_from=label_from,
    )
    artifacts.write_json(os.path.join(evaluation_dir, artifacts.SLICES_FILE), _json_safe(slices))
    artifacts.write_json(os.path.join(evaluation_dir, SUMMARY_FILE), _json_safe(result.to_dict()))
    artifacts.write_json(
        os.path.join(blessing_dir, artifacts.BLESSING_FILE),
        {"blessed": blessed, "reasons": reasons, "baseline": baseline, "checks": [c["text"] for c in checks]},
    )
    if html_path:
        tf.io.gfile.makedirs(os.path.dirname(html_path) or ".")
        with tf.io.gfile.GFile(html_path, "w") as f:
            f.write(_html(result))
    log.info(
        "%s: %s",
        "BLESSED" if blessed else "NOT BLESSED",
        "; ".join(reasons) if reasons else "; ".join(c["text"] for c in checks) or "no thresholds configured",
    )
    return result
