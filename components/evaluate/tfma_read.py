"""Reading TFMA's output directory: metrics per slice and model, plots (ROC, precision-recall, calibration,
confusion matrices) and the validation result. Plain values out; no decisions here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from components.evaluate.tfma_config import BASELINE

_EMPTY = {"metrics": {}, "diff": {}, "messages": {}}


@dataclass
class TfmaOutput:
    """What kfx takes from one TFMA run, for the candidate (and the baseline when there is one)."""

    overall: dict[str, float]
    slices: list[dict[str, Any]]
    baseline_overall: dict[str, float] = field(default_factory=dict)
    diffs: dict[str, float] = field(default_factory=dict)
    #: per model ("candidate", "baseline"): {"roc": {...}, "pr": {...}, "calibration": {...}, "confusion": {...}}
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)


def _metric_value(value: Any) -> float | None:
    if value.HasField("double_value"):
        return float(value.double_value.value)
    return None


def slice_name(key: tuple) -> str:
    return "Overall" if not key else ", ".join(f"{c}={v}" for c, v in key)


def read_metrics(tfma_dir: str) -> dict[tuple, dict[str, dict]]:
    """slice key -> model name -> {"metrics": {name: float}, "diff": {name: float}, "messages": {...}}."""
    from tensorflow_model_analysis.slicer import slicer_lib
    from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer as w

    out: dict[tuple, dict[str, dict]] = {}
    for m in w.load_and_deserialize_metrics(tfma_dir):
        models = out.setdefault(slicer_lib.deserialize_slice_key(m.slice_key), {})
        for kv in m.metric_keys_and_values:
            if kv.key.HasField("sub_key") or kv.key.HasField("aggregation_type"):
                continue
            entry = models.setdefault(kv.key.model_name, {"metrics": {}, "diff": {}, "messages": {}})
            v = _metric_value(kv.value)
            if v is None:
                if not kv.key.is_diff:  # a diff of two confusion matrices is no confusion matrix
                    entry["messages"][kv.key.name] = kv.value
            else:
                entry["diff" if kv.key.is_diff else "metrics"][kv.key.name] = v
    # Model-independent metrics (example_count) are stored under model name "".
    for models in out.values():
        shared = models.get("", {"metrics": {}})["metrics"]
        for name, entry in models.items():
            if name:
                for k, v in shared.items():
                    entry["metrics"].setdefault(k, v)
    return out


def read_plots(tfma_dir: str) -> dict[str, dict[str, Any]]:
    """The overall slice's plot messages per model name: {"roc": ..., "multiclass": ..., "calibration": ...}."""
    from tensorflow_model_analysis.slicer import slicer_lib
    from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer as w

    found: dict[str, dict[str, Any]] = {}
    fields = {
        "confusion_matrix_at_thresholds": "roc",
        "multi_class_confusion_matrix_at_thresholds": "multiclass",
        "calibration_histogram_buckets": "calibration",
    }
    for p in w.load_and_deserialize_plots(tfma_dir):
        if slicer_lib.deserialize_slice_key(p.slice_key):
            continue
        for kv in p.plot_keys_and_values:
            for name, short in fields.items():
                if kv.value.HasField(name):
                    found.setdefault(kv.key.model_name, {})[short] = getattr(kv.value, name)
    return found


def roc_and_pr(matrices: Any) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """ROC points (fpr, tpr, threshold) and precision-recall points from TFMA's confusion matrices."""
    roc: dict[str, list[float]] = {"fpr": [], "tpr": [], "thresholds": []}
    pr: dict[str, list[float]] = {"recall": [], "precision": [], "thresholds": []}
    for m in matrices.matrices:
        pos = m.true_positives + m.false_negatives
        neg = m.false_positives + m.true_negatives
        threshold = float(min(max(m.threshold, 0.0), 1.0))  # TFMA's first threshold is -epsilon
        point = (
            float(m.false_positives / neg) if neg else 0.0,
            float(m.true_positives / pos) if pos else 0.0,
            threshold,
        )
        if not roc["fpr"] or (roc["fpr"][-1], roc["tpr"][-1], roc["thresholds"][-1]) != point:
            for key, v in zip(("fpr", "tpr", "thresholds"), point, strict=True):
                roc[key].append(v)
        predicted = m.true_positives + m.false_positives
        if predicted:
            pr["recall"].append(point[1])
            pr["precision"].append(float(m.true_positives / predicted))
            pr["thresholds"].append(threshold)
    return roc, pr


def calibration(buckets: Any) -> dict[str, list[float]]:
    """Per prediction bucket with examples: mean prediction, mean label and the number of examples."""
    out: dict[str, list[float]] = {"predicted": [], "actual": [], "count": []}
    for b in buckets.buckets:
        n = b.num_weighted_examples.value
        if n > 0:
            out["predicted"].append(float(b.total_weighted_refined_prediction.value / n))
            out["actual"].append(float(b.total_weighted_label.value / n))
            out["count"].append(float(n))
    return out


def binary_confusion(message: Any) -> dict[str, Any] | None:
    if not message.HasField("confusion_matrix_at_thresholds"):
        return None
    m = message.confusion_matrix_at_thresholds.matrices[0]
    # rows = actual, columns = predicted, categories in order ["0", "1"]
    matrix = [[int(m.true_negatives), int(m.false_positives)], [int(m.false_negatives), int(m.true_positives)]]
    return {"categories": ["0", "1"], "matrix": matrix, "threshold": float(m.threshold)}


def multiclass_confusion(message: Any, num_classes: int, class_names: Sequence[str]) -> dict[str, Any]:
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


def _curves(
    task: str, plots: dict[str, Any], messages: dict[str, Any], num_classes: int, classes: Sequence[str]
) -> dict[str, Any]:
    curves: dict[str, Any] = {}
    if "roc" in plots:
        curves["roc"], curves["pr"] = roc_and_pr(plots["roc"])
    if "calibration" in plots:
        curves["calibration"] = calibration(plots["calibration"])
    if task == "binary" and "confusion_matrix_at_thresholds" in messages:
        curves["confusion"] = binary_confusion(messages["confusion_matrix_at_thresholds"])
    if task == "multiclass" and "multiclass" in plots:
        curves["confusion"] = multiclass_confusion(plots["multiclass"], num_classes, classes)
    return curves


def collect(
    tfma_dir: str, task: str, candidate: str, has_baseline: bool, num_classes: int, classes: Sequence[str]
) -> TfmaOutput:
    """Overall and per-slice metrics of the candidate, the baseline's overall metrics and both models' curves."""
    metrics = read_metrics(tfma_dir)
    plots = read_plots(tfma_dir)
    slices = []
    for key in sorted(metrics, key=lambda s: (len(s), [(c, str(v)) for c, v in s])):
        cand = metrics[key].get(candidate, _EMPTY)
        slices.append({"slice": slice_name(key), "features": {c: v for c, v in key}, "metrics": cand["metrics"]})
    overall_entry = metrics.get((), {})
    cand = overall_entry.get(candidate, _EMPTY)
    out = TfmaOutput(overall=dict(cand["metrics"]), slices=slices, diffs=dict(cand["diff"]))
    out.curves["candidate"] = _curves(task, plots.get(candidate, {}), cand["messages"], num_classes, classes)
    if has_baseline:
        base = overall_entry.get(BASELINE, _EMPTY)
        out.baseline_overall = dict(base["metrics"])
        out.curves["baseline"] = _curves(task, plots.get(BASELINE, {}), base["messages"], num_classes, classes)
    return out


def validation(tfma_dir: str) -> tuple[list[Any], bool, list[str]]:
    """TFMA's threshold failures, whether its validation passed, and problems that are no metric failure."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(tfma_dir)
    failures = [f for per_slice in result.metric_validations_per_slice for f in per_slice.failures]
    # With no thresholds at all TFMA reports missing_thresholds and validation_ok=False;
    # for kfx "nothing to check" means nothing blocks the blessing.
    ok = bool(result.validation_ok) or (bool(result.missing_thresholds) and not failures and not result.missing_slices)
    other = [
        f"no examples in thresholded slice {list(m.feature_keys) or dict(m.feature_values) or 'Overall'}"
        for m in result.missing_slices
    ]
    return failures, ok, other


def thin(curve: dict[str, list[float]], limit: int) -> dict[str, list[float]]:
    """At most ``limit`` evenly spaced points of a curve (first and last kept), e.g. for the KFP UI."""
    n = len(next(iter(curve.values()), []))
    if n <= limit:
        return curve
    idx = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    return {k: [v[i] for i in idx] for k, v in curve.items()}
