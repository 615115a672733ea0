"""Evaluate a trained model with TFMA: metrics overall and per slice, thresholds, blessing, report.

The candidate model (and optionally a baseline model, in the kfx or the TF Serving layout, local or on object
storage) is run by TFMA on the raw eval split of an examples artifact. The label and task come from the model's
``model.json`` (written by train); ``label_key``/``task``/``num_classes`` arguments are overrides checked against
it. The label is read from the model's ``transform_features`` signature when ``preprocessing_fn`` produces it,
otherwise from the raw examples. Thresholds are checked by TFMA's own validator on the overall slice
(``tfma_config``), the verdict is decided by ``blessing`` and drawn by ``report_html``.

Outputs: the evaluation artifact (``components/_shared/artifacts/evaluation.py``), the blessing artifact
(``components/_shared/artifacts/blessing.py``) and a self-contained HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared import runner
from components._shared._compat.beam import (
    LOCAL_FN_API_RUNNER_FLAG,
    memoize_dofn_method_specs,
    memoize_option_views,
)
from components._shared._compat.tfma import (
    batched_metric_combine,
    fast_mapping_checks,
    keyword_signature_calls,
    per_slice_hot_key_fanout,
)
from components._shared.artifacts import evaluation as evaluation_layout
from components._shared.artifacts import examples as examples_layout
from components._shared.artifacts import write_text
from components._shared.artifacts.blessing import write_blessing
from components._shared.log import get_logger, timed
from components._shared.tasks import REGRESSION
from components.evaluate import blessing as rules
from components.evaluate import inputs, report_html, tfma_extract, tfma_read
from components.evaluate.tfma_config import (
    BASELINE,
    CANDIDATE,
    DEFAULT_CHANGE_THRESHOLDS,  # noqa: F401  (re-exported: part of evaluate's documented API)
    DEFAULT_VALUE_THRESHOLDS,  # noqa: F401
    LOWER_IS_BETTER,  # noqa: F401
    ThresholdError,
    Thresholds,
    eval_config,
    thresholds_for,
)

log = get_logger("evaluate")

#: Points of the ROC curve handed to the KFP UI (ClassificationMetrics); the report keeps all.
KFP_ROC_POINTS = 50


class EvaluationError(inputs.InputError):
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
    notes: list[str] = field(default_factory=list)
    naive: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)
    predictions: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def kfp_roc(self) -> dict[str, list[float]] | None:
        """The ROC curve thinned to at most KFP_ROC_POINTS points for ``ClassificationMetrics``."""
        return tfma_read.thin(self.roc, KFP_ROC_POINTS) if self.roc else None


@dataclass
class _Plan:
    """Everything checked before TFMA runs."""

    candidate: inputs.ModelInfo
    baseline: inputs.ModelInfo | None
    label_key: str
    task: str
    num_classes: int
    label_from: str
    thresholds: Thresholds
    eval_files: list[str]
    expected_rows: int | None


def _plan(
    model_dir: str,
    examples_dir: str,
    label_key: str | None,
    task: str | None,
    slice_features: Sequence[str],
    value_thresholds: dict[str, float] | None,
    change_thresholds: dict[str, float] | None,
    baseline_model_dir: str | None,
    num_classes: int,
) -> _Plan:
    candidate = inputs.load_model_info(model_dir, "candidate")
    label_key, task = inputs.label_and_task(candidate, label_key, task)
    eval_files = examples_layout.split_files(examples_dir, "eval")
    ex_meta = examples_layout.read_meta(examples_dir, required=False)
    columns = ex_meta.get("columns")
    inputs.check_slices(slice_features, columns)
    label_from = inputs.label_source(label_key, candidate, columns)
    n = inputs.num_classes_of(candidate, task, num_classes)
    baseline = inputs.load_model_info(baseline_model_dir, "baseline") if baseline_model_dir else None
    if baseline:
        inputs.check_baseline(baseline, label_key, task, label_from, columns)
    thresholds = thresholds_for(task, value_thresholds, change_thresholds, baseline is not None)
    expected = ex_meta.get("splits", {}).get("eval")
    return _Plan(candidate, baseline, label_key, task, n, label_from, thresholds, eval_files, expected)


def _run_tfma(
    plan: _Plan,
    examples_dir: str,
    tfma_dir: str,
    slice_features: Sequence[str],
    beam_args: Sequence[str],
) -> None:
    import tensorflow as tf
    import tensorflow_model_analysis as tfma
    from apache_beam.options.pipeline_options import PipelineOptions

    memoize_dofn_method_specs()  # Beam inspects each of TFMA's DoFns several times otherwise
    memoize_option_views()  # and parses its options again for every transform applied
    fast_mapping_checks()  # TFMA tests each example's values against typing aliases, slowly, otherwise
    per_slice_hot_key_fanout(runner.is_distributed(beam_args))  # in-process: combine as the data is read
    keyword_signature_calls()  # TF formats each batch into an error message when TFMA calls a signature positionally
    has_baseline = plan.baseline is not None
    config = eval_config(plan.task, plan.label_key, plan.label_from, slice_features, plan.thresholds, has_baseline)
    models = [
        tfma.default_eval_shared_model(
            plan.candidate.saved_model, model_name=CANDIDATE if has_baseline else "", eval_config=config
        )
    ]
    if plan.baseline:
        models.append(
            tfma.default_eval_shared_model(plan.baseline.saved_model, model_name=BASELINE, eval_config=config)
        )
    if tf.io.gfile.exists(tfma_dir):
        tf.io.gfile.rmtree(tfma_dir)
    tf.io.gfile.makedirs(tfma_dir)
    shared = models if has_baseline else models[0]
    full_config = tfma.utils.update_eval_config_with_defaults(config, has_baseline=has_baseline)
    batched = tfma_extract.batched_combine(full_config, runner.is_distributed(beam_args))
    extractors = tfma_extract.extractors(full_config, shared, batched=batched)
    what = f"TFMA {plan.task} evaluation of {len(plan.eval_files)} eval file(s), label '{plan.label_key}' from {plan.label_from}"
    what += (f", slices {list(slice_features)}" if slice_features else "") + (", vs baseline" if has_baseline else "")
    try:
        with timed(log, what), batched_metric_combine(batched):
            tfma.run_model_analysis(
                eval_shared_model=shared,
                eval_config=config,
                extractors=extractors,
                data_location=examples_layout.split_pattern(examples_dir, "eval"),
                output_path=tfma_dir,
                pipeline_options=PipelineOptions(_pipeline_args(beam_args)),
            )
    except Exception:
        if tf.io.gfile.exists(tfma_dir):
            tf.io.gfile.rmtree(tfma_dir)
        raise


def _pipeline_args(beam_args: Sequence[str]) -> list[str]:
    """``beam_args``; with no runner named, DirectRunner's own batch runner (FnApiRunner) without its PrismRunner
    attempt (which costs ~0.5 s and, with network access, would download Prism and evaluate there instead)."""
    return list(beam_args) + ([] if runner.runner_of(beam_args) else [LOCAL_FN_API_RUNNER_FLAG])


def _verdict(plan: _Plan, out: tfma_read.TfmaOutput, tfma_dir: str, predictions: dict | None) -> rules.Verdict:
    failures, validation_ok, other = tfma_read.validation(tfma_dir)
    failed = {(f.metric_key.name, bool(f.metric_key.is_diff)) for f in failures}
    t = plan.thresholds
    checks = rules.value_checks(out.overall, t.value, failed)
    checks += rules.change_checks(out.overall, out.baseline_overall, out.diffs, t, failed)
    confusion = out.curves.get("candidate", {}).get("confusion")
    variance = (predictions or {}).get("label_variance")
    naive = rules.naive_baseline(plan.task, out.overall, confusion, variance)
    if t.naive_gate:
        checks += rules.naive_gate(plan.task, naive)
    tfma_failures = [(f.metric_key.name, bool(f.metric_key.is_diff), f.message) for f in failures]
    return rules.decide(plan.task, checks, tfma_failures, validation_ok, other, naive)


def _result(
    plan: _Plan, out: tfma_read.TfmaOutput, verdict: rules.Verdict, predictions: dict | None
) -> EvaluationResult:
    cand_curves = out.curves.get("candidate", {})
    return EvaluationResult(
        task=plan.task,
        label_key=plan.label_key,
        overall=out.overall,
        slices=out.slices,
        blessed=verdict.blessed,
        reasons=verdict.reasons,
        checks=verdict.checks,
        baseline=plan.baseline.location if plan.baseline else None,
        baseline_overall=out.baseline_overall,
        roc=cand_curves.get("roc"),
        confusion_matrix=cand_curves.get("confusion"),
        example_count=int(out.overall.get("example_count", 0)),
        label_from=plan.label_from,
        notes=verdict.notes,
        naive=verdict.naive,
        curves=out.curves,
        predictions=predictions,
    )


def _write(result: EvaluationResult, evaluation_dir: str, blessing_dir: str, html_path: str | None) -> None:
    summary = evaluation_layout.json_safe(result.to_dict())
    evaluation_layout.write_evaluation(evaluation_dir, summary, result.slices)
    write_blessing(
        blessing_dir, result.blessed, result.reasons, result.baseline, [c["text"] for c in result.checks], result.notes
    )
    if html_path:
        write_text(html_path, report_html.render(summary))


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

    ``label_key``/``task``/``num_classes`` come from the model's ``model.json``; when given they must agree with
    it (an EvaluationError names both values). ``value_thresholds`` (``{metric: bound}``: lower bound, or upper
    bound for the loss/error metrics in ``LOWER_IS_BETTER``) default to ``DEFAULT_VALUE_THRESHOLDS[task]``; pass
    ``{}`` for none. ``change_thresholds`` (``{metric: allowed absolute degradation}``) apply only with
    ``baseline_model_dir`` (kfx or TF Serving layout) and default to ``DEFAULT_CHANGE_THRESHOLDS[task]``
    (regression: MSE may rise by at most 1% of the baseline's). Thresholds gate the overall slice.
    """
    try:
        plan = _plan(
            model_dir, examples_dir, label_key, task, slice_features, value_thresholds, change_thresholds,
            baseline_model_dir, num_classes,
        )  # fmt: skip
    except (inputs.InputError, ThresholdError) as e:
        raise EvaluationError(str(e)) from e
    tfma_dir = evaluation_layout.tfma_dir(evaluation_dir)
    _run_tfma(plan, examples_dir, tfma_dir, slice_features, beam_pipeline_args)
    cand_name = CANDIDATE if plan.baseline else ""
    classes = plan.candidate.meta.get("classes") or []
    out = tfma_read.collect(tfma_dir, plan.task, cand_name, plan.baseline is not None, plan.num_classes, classes)
    if not out.overall:
        raise EvaluationError(f"TFMA produced no overall metrics in {tfma_dir}; are there eval examples?")
    if plan.expected_rows is not None and int(out.overall.get("example_count", -1)) != int(plan.expected_rows):
        log.warning(
            "TFMA counted %s eval examples, %s says %s",
            out.overall.get("example_count"),
            examples_layout.META_FILE,
            plan.expected_rows,
        )
    predictions = None
    if plan.task == REGRESSION:
        from components.evaluate.predictions import regression_sample

        predictions = regression_sample(plan.candidate.saved_model, examples_dir, plan.label_key, plan.label_from)
    verdict = _verdict(plan, out, tfma_dir, predictions)
    result = _result(plan, out, verdict, predictions)
    _write(result, evaluation_dir, blessing_dir, html_path)
    summary = "; ".join(result.reasons) if result.reasons else "; ".join(c["text"] for c in result.checks)
    log.info("%s: %s", "BLESSED" if result.blessed else "NOT BLESSED", summary or "no thresholds configured")
    for note in result.notes:
        log.warning("%s", note)
    return result
