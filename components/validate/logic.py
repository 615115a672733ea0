"""Validate statistics with TFDV (schema anomalies, drift, skew, PSI), publish the evidence; the gate's rule.

``validate`` reads a statistics artifact (``<dir>/<split>/FeatureStats.pb``) and a schema artifact
(``<dir>/schema.pbtxt``) and runs, all with the real ``tfdv.validate_statistics``:

* each split present (``train``, ``eval``) against the schema (missing column, wrong type,
  unseen categorical value, ...: the TFDV anomaly type is the finding's ``kind``);
* **drift**: current train statistics against previous train statistics, with drift comparators
  set on a copy of the schema (L-infinity for categorical features, approximate Jensen-Shannon
  divergence for numeric ones);
* **skew**: train statistics against serving statistics, with skew comparators, and the serving
  statistics against the schema in the ``SERVING`` environment (the label, ``label_key``, is
  expected to be absent there);
* a **PSI** per numeric feature (current vs previous, and vs serving) from the statistics'
  histograms; reported, and a finding only when ``psi_threshold > 0``.

It never fails on what it finds: it always writes the anomalies artifact (``anomalies.pbtxt``, ``report.json``,
``report.html``; layout in ``components/_shared/artifacts/anomalies.py``) and returns a :class:`ValidationResult`
whose ``passed``/``message`` feed the separate gate step (:func:`check_gate`), which stops the run. On a cluster a
failed task publishes no outputs, so the evidence must come from a step that succeeds.

Layers: ``load`` (reading), ``schema_setup`` (environments, comparators), ``findings``, ``psi``, ``merge`` (one
Anomalies proto), ``report_html`` (the page); this module drives them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from components._shared.artifacts import anomalies as anomalies_artifact
from components._shared.artifacts.schema import read_schema
from components._shared.artifacts.statistics import read_split_statistics, read_statistics
from components._shared.log import get_logger, timed
from components._shared.stats_view import num_examples
from components.validate import findings as F
from components.validate import schema_setup as S
from components.validate.gate import CONTINUE_ANYWAY, DataValidationError, check_gate, gate_message
from components.validate.merge import merge_anomalies
from components.validate.psi import population_stability_index
from components.validate.report_html import render_html

log = get_logger("validate")

# Re-exported for callers that used the single-module validate.
Finding = F.Finding
Comparison = F.Comparison
__all__ = [
    "CONTINUE_ANYWAY",
    "Comparison",
    "DataValidationError",
    "Finding",
    "ValidationResult",
    "check_gate",
    "gate_message",
    "validate",
]


@dataclass
class ValidationResult:
    anomaly_count: int
    max_drift: float
    max_skew: float
    psi: dict[str, float]  # numeric feature -> PSI of current train vs previous train
    findings: list[Finding]
    passed: bool
    psi_serving: dict[str, float] = field(default_factory=dict)  # numeric feature -> PSI train vs serving
    drift: list[Comparison] = field(default_factory=list)
    skew: list[Comparison] = field(default_factory=list)
    num_examples: dict[str, int] = field(default_factory=dict)  # split -> examples in its statistics
    anomalies_path: str = ""
    report_path: str = ""
    html_path: str = ""
    message: str = ""  # the gate's message: one readable paragraph, empty when passed

    @property
    def max_psi(self) -> float:
        return max([*self.psi.values(), *self.psi_serving.values()], default=0.0)

    def summary(self) -> str:
        status = "PASSED" if self.passed else "FAILED"
        text = f"data validation {status}: {self.anomaly_count} anomal{'y' if self.anomaly_count == 1 else 'ies'}"
        if self.drift:
            text += f", max drift {self.max_drift:.4g}"
        if self.skew:
            text += f", max skew {self.max_skew:.4g}"
        if self.psi or self.psi_serving:
            text += f", max PSI {self.max_psi:.4g}"
        return text

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "message": self.message,
            "anomaly_count": self.anomaly_count,
            "max_drift": self.max_drift,
            "max_skew": self.max_skew,
            "max_psi": self.max_psi,
            "num_examples": self.num_examples,
            "findings": [
                {**asdict(f), "where": F.SOURCE_LABELS.get(f.source, f.source), "line": f.line()} for f in self.findings
            ],
            "drift": [asdict(c) for c in self.drift],
            "skew": [asdict(c) for c in self.skew],
            "psi": self.psi,
            "psi_serving": self.psi_serving,
        }


@dataclass
class _Inputs:
    stats: dict[str, statistics_pb2.DatasetFeatureStatisticsList]
    schema: schema_pb2.Schema
    previous: statistics_pb2.DatasetFeatureStatisticsList | None
    serving: statistics_pb2.DatasetFeatureStatisticsList | None
    num_examples: dict[str, int]

    @property
    def current_split(self) -> str:
        return "train" if "train" in self.stats else "eval"

    @property
    def current(self) -> statistics_pb2.DatasetFeatureStatisticsList:
        return self.stats[self.current_split]


@dataclass
class _Checks:
    """What the checks found so far, and the TFDV protos they came from (for the merged Anomalies)."""

    parts: list[tuple[str, anomalies_pb2.Anomalies, Callable[[str], bool]]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    drift: list[Comparison] = field(default_factory=list)
    skew: list[Comparison] = field(default_factory=list)
    psi: dict[str, float] = field(default_factory=dict)
    psi_serving: dict[str, float] = field(default_factory=dict)
    psi_findings: list[Finding] = field(default_factory=list)
    baseline: schema_pb2.Schema | None = None


# --------------------------------------------------------------------------------------------- arguments, inputs


def _check_arguments(thresholds: dict[str, float], psi_threshold: float, numeric_histogram: str) -> None:
    for name, value in thresholds.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number (got {value!r}); use 1.0 or more to never gate on it")
    if numeric_histogram not in ("auto", "QUANTILES", "STANDARD"):
        raise ValueError(f"numeric_histogram must be auto, QUANTILES or STANDARD (got {numeric_histogram!r})")
    if psi_threshold < 0 or not math.isfinite(psi_threshold):
        raise ValueError(f"psi_threshold must be >= 0 (0 = PSI is reported, never gated); got {psi_threshold!r}")


def _read_inputs(
    statistics_dir: str, schema_dir: str, previous_uri: str | None, serving_uri: str | None, label_key: str
) -> _Inputs:
    """Read everything first: errors come before anything is written."""
    with timed(log, f"loading statistics from {statistics_dir} and schema from {schema_dir}") as t:
        stats = read_split_statistics(statistics_dir)
        inputs = _Inputs(
            stats=stats,
            schema=S.with_environments(read_schema(schema_dir), label_key),
            previous=read_statistics(previous_uri, "train") if previous_uri else None,
            serving=read_statistics(serving_uri, "train") if serving_uri else None,
            num_examples={split: num_examples(s) for split, s in stats.items()},
        )
        t["rows"] = sum(inputs.num_examples.values())
    return inputs


# --------------------------------------------------------------------------------------------- the checks


def _check_splits(inputs: _Inputs, checks: _Checks) -> None:
    """Each split against the schema (TRAINING environment)."""
    env = S.environment(inputs.schema, S.TRAINING)
    for split in ("eval", "train"):
        if split not in inputs.stats:
            continue
        with timed(log, f"validating {split} statistics against the schema") as t:
            anomalies = tfdv.validate_statistics(inputs.stats[split], inputs.schema, environment=env)
            found = F.findings(anomalies, split)
            t["rows"] = inputs.num_examples[split]
        log.info("%s vs schema: %d anomalies", split, len(found))
        checks.findings += found
        checks.parts.append((split, anomalies, lambda kind: True))
    checks.baseline = inputs.schema


def _check_drift(inputs: _Inputs, checks: _Checks, thresholds: dict[str, float], numeric_histogram: str) -> None:
    """Current train statistics vs the previous ones: TFDV drift comparators, and PSI."""
    drift_schema = S.with_comparators(
        inputs.schema,
        "drift",
        thresholds["categorical_drift_threshold"],
        thresholds["numeric_drift_threshold"],
        lambda f: True,
        numeric_histogram,
        S.auto_sources(inputs.current),
    )
    with timed(log, f"drift: {inputs.current_split} statistics vs previous statistics") as t:
        anomalies = tfdv.validate_statistics(
            inputs.current,
            drift_schema,
            environment=S.environment(inputs.schema, S.TRAINING),
            previous_statistics=inputs.previous,
        )
        checks.drift = F.measurements(anomalies, "drift", drift_schema)
        checks.findings += F.findings(anomalies, "drift", F.is_comparator, checks.drift)
        checks.psi = population_stability_index(inputs.previous, inputs.current)
        t["rows"] = inputs.num_examples[inputs.current_split] + num_examples(inputs.previous)
    checks.parts.append(("drift", anomalies, F.is_comparator))
    checks.baseline = drift_schema


def _check_skew(
    inputs: _Inputs,
    checks: _Checks,
    thresholds: dict[str, float],
    numeric_histogram: str,
    label_key: str,
    validate_serving_schema: bool,
) -> None:
    """Current train statistics vs serving statistics (skew comparators, PSI); serving data vs the schema."""
    schema, serving_env = inputs.schema, S.environment(inputs.schema, S.SERVING)
    skew_schema = S.with_comparators(
        schema,
        "skew",
        thresholds["categorical_skew_threshold"],
        thresholds["numeric_skew_threshold"],
        lambda f: S.in_environment(f, schema, serving_env) and (not label_key or f.name != label_key),
        numeric_histogram,
        S.auto_sources(inputs.current),
    )
    with timed(log, f"skew: {inputs.current_split} statistics vs serving statistics") as t:
        anomalies = tfdv.validate_statistics(
            inputs.current,
            skew_schema,
            environment=S.environment(schema, S.TRAINING),
            serving_statistics=inputs.serving,
        )
        checks.skew = F.measurements(anomalies, "skew", skew_schema)
        skew_findings = F.findings(anomalies, "skew", F.is_comparator, checks.skew)
        checks.findings += skew_findings
        checks.psi_serving = population_stability_index(inputs.current, inputs.serving)
        checks.parts.append(("skew", anomalies, F.is_comparator))
        if validate_serving_schema:
            _check_serving_schema(inputs, checks, skew_findings, label_key)
        t["rows"] = inputs.num_examples[inputs.current_split] + num_examples(inputs.serving)
    checks.baseline = S.merge_skew(checks.baseline or schema, skew_schema)


def _check_serving_schema(inputs: _Inputs, checks: _Checks, skew_findings: list[Finding], label_key: str) -> None:
    missing = {f.feature for f in skew_findings if f.kind == "COMPARATOR_CONTROL_DATA_MISSING"}
    anomalies = tfdv.validate_statistics(
        inputs.serving, inputs.schema, environment=S.environment(inputs.schema, S.SERVING)
    )
    # A feature absent from serving data is already reported once by the skew check.
    dropped = {(name, "SCHEMA_MISSING_COLUMN") for name in missing}
    if label_key:  # serving logs joined with their labels later are fine too
        dropped.add((label_key, "SCHEMA_NEW_COLUMN"))
    anomalies = F.without(anomalies, dropped)
    checks.findings += F.findings(anomalies, "serving")
    checks.parts.append(("serving", anomalies, lambda kind: True))


# --------------------------------------------------------------------------------------------- gate message, outputs


def _result(inputs: _Inputs, checks: _Checks, anomalies_dir: str, html_path: str | None) -> ValidationResult:
    paths = anomalies_artifact.paths(anomalies_dir)
    return ValidationResult(
        anomaly_count=len(checks.findings),
        max_drift=max((c.value for c in checks.drift), default=0.0),
        max_skew=max((c.value for c in checks.skew), default=0.0),
        psi=checks.psi,
        findings=checks.findings,
        passed=not checks.findings,
        psi_serving=checks.psi_serving,
        drift=checks.drift,
        skew=checks.skew,
        num_examples=inputs.num_examples,
        anomalies_path=paths["anomalies"],
        report_path=paths["report"],
        html_path=html_path or paths["html"],
        message=gate_message(checks.findings),
    )


def _write(
    result: ValidationResult, checks: _Checks, context: dict, anomalies_dir: str, html_path: str | None, inputs: _Inputs
) -> None:
    with timed(log, f"writing anomalies and reports to {anomalies_dir}"):
        merged = merge_anomalies(checks.baseline, checks.parts, checks.psi_findings)
        report = result.to_json()
        report.update(context)
        page = render_html(result, context, inputs.stats, inputs.previous, inputs.serving)
        anomalies_artifact.write_anomalies(anomalies_dir, text_format.MessageToString(merged), report, page)
        if html_path:
            anomalies_artifact.write_text(html_path, page)


# --------------------------------------------------------------------------------------------- entry


def validate(
    statistics_dir: str,
    schema_dir: str,
    anomalies_dir: str,
    html_path: str | None = None,
    previous_statistics_uri: str | None = None,
    serving_statistics_uri: str | None = None,
    categorical_drift_threshold: float = 0.1,
    numeric_drift_threshold: float = 0.1,
    categorical_skew_threshold: float = 0.1,
    numeric_skew_threshold: float = 0.1,
    label_key: str = "",
    psi_threshold: float = 0.0,
    validate_serving_schema: bool = True,
    numeric_histogram: str = "auto",
) -> ValidationResult:
    """Validate a statistics artifact against a schema (+ drift, skew, PSI) and write the anomalies artifact.

    Never raises on what it finds (only on bad arguments or unreadable inputs, before writing anything): the
    result's ``passed`` and ``message`` go to :func:`check_gate`.

    Args:
        statistics_dir: statistics artifact (``<dir>/<split>/FeatureStats.pb`` for ``train`` and/or ``eval``).
        schema_dir: schema artifact (``<dir>/schema.pbtxt``) or the schema file.
        anomalies_dir: output directory: ``anomalies.pbtxt``, ``report.json``, ``report.html``.
        html_path: also write the HTML report here (the KFP ``HTML`` artifact path).
        previous_statistics_uri: statistics of an earlier run (artifact dir or FeatureStats.pb; gfile URIs ok):
            enables drift detection of the current train split against the previous train split.
        serving_statistics_uri: statistics of serving data (artifact dir or FeatureStats.pb): enables
            training/serving skew detection, and validation of the serving data against the schema.
        categorical_drift_threshold: L-infinity threshold of drift (categorical features).
        numeric_drift_threshold: Jensen-Shannon divergence threshold of drift (numeric features).
        categorical_skew_threshold: L-infinity threshold of skew (categorical features).
        numeric_skew_threshold: Jensen-Shannon divergence threshold of skew (numeric features).
        label_key: the label feature; expected in TRAINING and absent in SERVING (no skew comparator on it).
        psi_threshold: when > 0, a PSI above it is a finding too (PSI is always reported).
        validate_serving_schema: with serving statistics, also validate them against the schema (SERVING env).
        numeric_histogram: histogram TFDV's Jensen-Shannon divergence reads for numeric features: ``auto``
            (per feature: QUANTILES when the equal-width histogram of the current data holds more than 60% of
            the examples in one bucket, i.e. long tails; STANDARD otherwise), ``QUANTILES`` or ``STANDARD``.
    """
    thresholds = {
        "categorical_drift_threshold": categorical_drift_threshold,
        "numeric_drift_threshold": numeric_drift_threshold,
        "categorical_skew_threshold": categorical_skew_threshold,
        "numeric_skew_threshold": numeric_skew_threshold,
    }
    _check_arguments(thresholds, psi_threshold, numeric_histogram)
    inputs = _read_inputs(statistics_dir, schema_dir, previous_statistics_uri, serving_statistics_uri, label_key)

    checks = _Checks()
    _check_splits(inputs, checks)
    if inputs.previous is not None:
        _check_drift(inputs, checks, thresholds, numeric_histogram)
    if inputs.serving is not None:
        _check_skew(inputs, checks, thresholds, numeric_histogram, label_key, validate_serving_schema)
    psi = {"previous": checks.psi, "serving": checks.psi_serving}
    checks.psi_findings = F.psi_findings(psi, psi_threshold, inputs.current_split)
    checks.findings += checks.psi_findings

    result = _result(inputs, checks, anomalies_dir, html_path)
    context = {
        "statistics_dir": statistics_dir,
        "schema_dir": schema_dir,
        "previous_statistics_uri": previous_statistics_uri,
        "serving_statistics_uri": serving_statistics_uri,
        "label_key": label_key,
        "thresholds": {**thresholds, "psi_threshold": psi_threshold},
    }
    _write(result, checks, context, anomalies_dir, html_path, inputs)
    log.info("%s", result.summary())
    for f in result.findings:
        log.info("  %s", f.line())
    return result
