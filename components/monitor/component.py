"""KFP wrappers of the monitoring steps: served model -> window statistics -> data checks -> decision -> retrain."""

from typing import Dict, List, NamedTuple  # noqa: UP035  (kfp reads typing.List/Dict)

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Model, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def monitor_model(model: Output[Model], model_uri: str = "", model_name: str = "", namespace: str = "") -> None:
    """The production model: ``model_uri`` when given (local runs), else what InferenceService namespace/name
    serves (as deploy's baseline resolver finds it). The artifact points at it; nothing is copied."""
    import components  # noqa: F401
    from components._shared.artifacts.model import point_at_model
    from components._shared.kinds import stamp_outputs
    from components.monitor.served import find_model

    stamp_outputs("monitor_model", model=model)
    served = find_model(model_uri, model_name, namespace)
    point_at_model(model, served.uri, check=False)
    model.metadata.update({"found_from": served.source, "revision": served.revision})


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def monitor_statistics(
    model: Input[Model], statistics: Output[Dataset], report: Output[HTML], log_uri: str, window_start: str = "",
    window_end: str = "", window_hours: float = 24.0, previous_statistics_uri: str = "",
) -> NamedTuple("Outputs", [("window_start", str), ("window_end", str)]):  # fmt: skip
    """TFDV statistics of the log window (end empty = now; start empty = window_hours before end) and of the
    window before it (or ``previous_statistics_uri``); returns the window, resolved once for every later step."""
    import components  # noqa: F401
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.evaluate.inputs import baseline_location
    from components.monitor.log_statistics import window_statistics

    check_inputs("monitor_statistics", model=model)
    stamp_outputs("monitor_statistics", statistics=statistics)
    where = baseline_location(model.uri, model.path, model.metadata)
    result = window_statistics(log_uri, where, statistics.path, window_start, window_end, window_hours,
                               previous_statistics_uri, html_path=report.path)  # fmt: skip
    statistics.metadata.update({"rows": result.rows, "previous_rows": result.previous_rows, **result.span.as_dict()})
    return NamedTuple("Outputs", [("window_start", str), ("window_end", str)])(*result.span.as_dict().values())


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def monitor_checks(
    statistics: Input[Dataset], model: Input[Model], anomalies: Output[Dataset], report: Output[HTML],
    metrics: Output[Metrics], max_drift: float = 0.2, max_skew: float = 0.2, max_psi: float = 0.25,
) -> None:  # fmt: skip
    """Schema anomalies of the window, skew against the training statistics, drift against the previous window
    (L-infinity / Jensen-Shannon, PSI), for every feature; always published, never fails on what it finds."""
    import components  # noqa: F401
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.evaluate.inputs import baseline_location
    from components.monitor.checks import check_data
    from components.monitor.decision import Thresholds

    check_inputs("monitor_checks", statistics=statistics, model=model)
    stamp_outputs("monitor_checks", anomalies=anomalies)
    limits = Thresholds(max_drift=max_drift, max_skew=max_skew, max_psi=max_psi)
    where = baseline_location(model.uri, model.path, model.metadata)
    result = check_data(statistics.path, where, anomalies.path, limits, html=report.path)
    for name in ("max_drift", "max_skew", "max_psi"):
        metrics.log_metric(name, float(getattr(result, name)))
    metrics.log_metric("schema_anomalies", float(len(result.schema_anomalies)))
    anomalies.metadata.update(schema_anomaly_count=len(result.schema_anomalies), features=len(result.features))


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def monitor_decide(
    anomalies: Input[Dataset], model: Input[Model], decision: Output[Dataset], report: Output[HTML],
    metrics: Output[Metrics], log_uri: str, window_start: str, window_end: str, labels_uri: str = "",
    slice_features: List[str] = [], metric: str = "auc", tau: float = 0.8, min_labelled_rows: int = 200,  # noqa: B006
    max_drift: float = 0.2, max_skew: float = 0.2, max_psi: float = 0.25, retrain_on_drift: bool = True,
    decision_threshold: float = 0.5, calibration_hours: float = 168.0, labels_lookback_hours: float = 0.0,
) -> bool:  # fmt: skip
    """Realised quality on labelled rows, CBPE-estimated quality on all rows (overall and per slice), the data
    checks: retrain or not, with the reasons (decision.json), the monitoring report and Metrics. Returns retrain."""
    import components  # noqa: F401
    from components._shared.kinds import check_inputs, stamp_outputs
    from components.monitor.decision import Thresholds
    from components.monitor.logic import decide_window

    check_inputs("monitor_decide", anomalies=anomalies, model=model)
    stamp_outputs("monitor_decide", decision=decision)
    limits = Thresholds(metric, tau, min_labelled_rows, max_drift, max_skew, max_psi, retrain_on_drift)
    served = {"uri": model.uri, "source": str(model.metadata.get("found_from", "")),
              "revision": str(model.metadata.get("revision", ""))}  # fmt: skip
    result = decide_window(log_uri, window_start, window_end, anomalies.path, decision.path, limits, labels_uri,
                           list(slice_features or []), decision_threshold, calibration_hours,
                           labels_lookback_hours, served, html_path=report.path)  # fmt: skip
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    decision.metadata.update(retrain=result.decision.retrain, reasons=result.decision.reasons)
    return result.decision.retrain


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def retrain(
    decision: Input[Dataset], report: Output[Markdown], train_arguments: Dict = {},  # noqa: B006
    kfp_host: str = "", pipeline: str = "kfx-train-and-deploy", pipeline_version: str = "", experiment: str = "kfx",
) -> str:  # fmt: skip
    """When the decision says retrain, submit the uploaded training-and-deploy pipeline through the KFP API with
    ``train_arguments`` (fresh data); otherwise do nothing and say so. Returns the submitted run id ("" = none)."""
    import components  # noqa: F401
    from components._shared.kinds import check_inputs
    from components.monitor.retrain import trigger_retraining

    check_inputs("retrain", decision=decision)
    result = trigger_retraining(decision.path, dict(train_arguments or {}), kfp_host, pipeline, pipeline_version,
                                experiment)  # fmt: skip
    with open(report.path, "w") as f:
        f.write(f"# Retraining\n\n{result.message}\n")
    report.metadata.update(submitted=result.submitted, run_id=result.run_id)
    return result.run_id
