"""The kfx monitoring pipeline: is the served model still healthy, and should it be retrained?

    production model (InferenceService, or model_uri locally) ─┐
    prediction log window ──► statistics (window + previous) ──► checks (schema anomalies, skew vs training,
        drift vs previous window, PSI: every feature) ──► decide (realised + CBPE-estimated quality vs tau, data
        checks ──► decision.json + report + Metrics) ──► retrain (submits train_and_deploy when the decision says so)

Every step publishes its evidence and later steps only read it: the checks are published even when the decision
step fails. kfp 2.13's local runner has no ``dsl.If``, so ``retrain`` always runs and reads the decision.

On a cluster: ``kfx upload --host H`` (every pipeline), then
``kfx schedule --host H --pipeline monitoring --cron "0 0 6 * * *" --param log_uri=s3://... --param window_hours=24``
(caching off: the window moves with each run). Locally: :func:`pipelines.monitoring_local.run_monitoring`.
"""

from kfp import dsl

from components._shared.version import __version__
from components.monitor.component import monitor_checks, monitor_decide, monitor_model, monitor_statistics, retrain
from pipelines.cluster import use_object_store

PIPELINE_NAME = "kfx-monitoring"
STEPS = ("monitor-model", "monitor-statistics", "monitor-checks", "monitor-decide", "retrain")


@dsl.pipeline(
    name=PIPELINE_NAME, description=f"kfx {__version__}: drift, skew and quality of the served model; retrain"
)
def monitoring_pipeline(
    log_uri: str,
    window_start: str = "",
    window_end: str = "",
    window_hours: float = 24.0,
    model_uri: str = "",
    model_name: str = "kfx-model",
    namespace: str = "kfx",
    previous_statistics_uri: str = "",
    labels_uri: str = "",
    slice_features: list = [],  # noqa: B006
    metric: str = "auc",
    tau: float = 0.8,
    min_labelled_rows: int = 200,
    max_drift: float = 0.2,
    max_skew: float = 0.2,
    max_psi: float = 0.25,
    retrain_on_drift: bool = True,
    decision_threshold: float = 0.5,
    calibration_hours: float = 168.0,
    labels_lookback_hours: float = 0.0,
    train_arguments: dict = {},  # noqa: B006
    kfp_host: str = "",
    train_pipeline: str = "kfx-train-and-deploy",
    train_pipeline_version: str = "",
    experiment: str = "kfx",
) -> None:
    """Monitor a window of the prediction log against the production model's training evidence.

    Args:
        log_uri: the prediction log root (the model server's --prediction-log, or the payload sink's).
        window_start: window start, ISO-8601 UTC; empty = window_hours before window_end.
        window_end: window end (exclusive), ISO-8601 UTC; empty = now (for schedules).
        window_hours: the window's length when window_start is empty.
        model_uri: the production model directory (local runs); empty = the model InferenceService
            namespace/model_name serves.
        model_name: the InferenceService name (when model_uri is empty).
        namespace: the InferenceService namespace.
        previous_statistics_uri: statistics to measure drift against; empty = the log's window before this one.
        labels_uri: late labels, CSV or JSON lines with request_id,label; joined by request id.
        slice_features: features whose values slice the quality (e.g. channel).
        metric: the quality metric compared with tau (auc, f1, precision, recall, accuracy).
        tau: the lowest acceptable value of metric.
        min_labelled_rows: labelled rows needed for realised quality to decide (else the CBPE estimate decides).
        max_drift: L-infinity / Jensen-Shannon threshold of drift against the previous window.
        max_skew: L-infinity / Jensen-Shannon threshold of skew against the training data.
        max_psi: PSI threshold (numeric features, against the previous window and the training data).
        retrain_on_drift: drift, skew or PSI over threshold is a reason to retrain (else only reported).
        decision_threshold: the score from which the model predicts the positive class.
        calibration_hours: CBPE's calibrator is learnt on this many hours of labelled predictions before the window.
        labels_lookback_hours: realised quality on the labelled rows the served model logged in this many hours up to
            the window end (labels arrive late); 0 or less than the window = the window's labelled rows only.
        train_arguments: arguments of the training pipeline run started when retraining ({window_end_date} etc.
            in strings are filled in).
        kfp_host: the KFP API to submit retraining to; empty = in-cluster.
        train_pipeline: the uploaded training pipeline's name.
        train_pipeline_version: its version name; empty = the newest.
        experiment: the experiment of the retraining run.
    """
    served = monitor_model(model_uri=model_uri, model_name=model_name, namespace=namespace).set_display_name(
        "production model"
    )
    stats = monitor_statistics(
        model=served.outputs["model"],
        log_uri=log_uri,
        window_start=window_start,
        window_end=window_end,
        window_hours=window_hours,
        previous_statistics_uri=previous_statistics_uri,
    ).set_display_name("window statistics")
    limits = {"max_drift": max_drift, "max_skew": max_skew, "max_psi": max_psi}
    checks = monitor_checks(
        statistics=stats.outputs["statistics"], model=served.outputs["model"], **limits
    ).set_display_name("data checks")
    decide = monitor_decide(
        anomalies=checks.outputs["anomalies"],
        model=served.outputs["model"],
        log_uri=log_uri,
        window_start=stats.outputs["window_start"],
        window_end=stats.outputs["window_end"],
        labels_uri=labels_uri,
        slice_features=slice_features,
        metric=metric,
        tau=tau,
        min_labelled_rows=min_labelled_rows,
        retrain_on_drift=retrain_on_drift,
        decision_threshold=decision_threshold,
        calibration_hours=calibration_hours,
        labels_lookback_hours=labels_lookback_hours,
        **limits,
    ).set_display_name("decide")
    trigger = retrain(
        decision=decide.outputs["decision"],
        train_arguments=train_arguments,
        kfp_host=kfp_host,
        pipeline=train_pipeline,
        pipeline_version=train_pipeline_version,
        experiment=experiment,
    ).set_display_name("retrain")
    for task in (served, stats, checks, decide, trigger):
        use_object_store(task)
        task.set_caching_options(False)  # the window and what is served change between runs
