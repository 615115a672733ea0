"""KFP wrapper of validate: TFDV anomalies vs schema, drift, skew, PSI -> anomalies + HTML + Metrics; gates the run."""

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
    fail_on_anomalies: bool = True,
) -> None:
    """Validate statistics against the schema with TFDV (+ drift, skew, PSI); fail the run on anomalies."""
    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components.validate.logic import DataValidationError
    from components.validate.logic import validate as run_validation

    def record(result) -> None:
        metrics.log_metric("anomaly_count", float(result.anomaly_count))
        metrics.log_metric("max_drift", float(result.max_drift))
        metrics.log_metric("max_skew", float(result.max_skew))
        metrics.log_metric("max_psi", float(result.max_psi))
        anomalies.metadata["anomaly_count"] = result.anomaly_count
        anomalies.metadata["passed"] = result.passed
        anomalies.metadata["kinds"] = sorted({f.kind for f in result.findings})

    try:
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
            fail_on_anomalies=fail_on_anomalies,
        )
    except DataValidationError as e:
        record(e.result)
        raise
    record(result)
