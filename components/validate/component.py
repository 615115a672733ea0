"""KFP wrappers of validate (TFDV anomalies, drift, skew, PSI -> anomalies + HTML + Metrics; always succeeds) and of
the gate (fails the run with validate's message). Separate steps: a failed task publishes no outputs on a cluster."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def validate(
    statistics: Input[Dataset],
    schema: Input[Dataset],
    anomalies: Output[Dataset],
    report: Output[HTML],
    metrics: Output[Metrics],
    previous_statistics_uri: str = "",
    serving_statistics_uri: str = "",
    categorical_drift_threshold: float = 0.1,
    numeric_drift_threshold: float = 0.1,
    categorical_skew_threshold: float = 0.1,
    numeric_skew_threshold: float = 0.1,
    psi_threshold: float = 0.0,
    numeric_histogram: str = "auto",
    label_key: str = "",
) -> NamedTuple("Outputs", [("passed", bool), ("message", str)]):
    """Validate statistics against the schema with TFDV (+ drift, skew, PSI); publish the evidence, never fail on it.

    Returns ``passed`` and ``message`` (the gate's readable reason, empty when passed) for the ``gate`` step.
    """
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.validate.logic import validate as run_validation

    check_inputs("validate", statistics=statistics, schema=schema)
    result = run_validation(
        statistics.path,
        schema.path,
        anomalies.path,
        report.path,
        previous_statistics_uri=previous_statistics_uri or None,
        serving_statistics_uri=serving_statistics_uri or None,
        categorical_drift_threshold=categorical_drift_threshold,
        numeric_drift_threshold=numeric_drift_threshold,
        categorical_skew_threshold=categorical_skew_threshold,
        numeric_skew_threshold=numeric_skew_threshold,
        psi_threshold=psi_threshold,
        numeric_histogram=numeric_histogram,
        label_key=label_key,
    )
    for name in ("anomaly_count", "max_drift", "max_skew", "max_psi"):
        metrics.log_metric(name, float(getattr(result, name)))
    stamp_outputs("validate", anomalies=anomalies)
    anomalies.metadata.update(
        anomaly_count=result.anomaly_count, passed=result.passed, kinds=sorted({f.kind for f in result.findings})
    )
    return NamedTuple("Outputs", [("passed", bool), ("message", str)])(result.passed, result.message)


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def gate(passed: bool, message: str, fail_on_anomalies: bool = True) -> None:
    """Stop the run (DataValidationError with validate's message) when validation did not pass and
    ``fail_on_anomalies``; steps after the gate run only when it succeeds."""
    from components.validate.gate import check_gate

    check_gate(passed, message, fail_on_anomalies)
