"""One TFDV ``Anomalies`` proto from every check validate ran (splits vs schema, drift, skew, serving, PSI)."""

from __future__ import annotations

from collections.abc import Callable

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

from components.validate.findings import SOURCE_LABELS, Finding, kind_name, reasons


def merge_anomalies(
    baseline: schema_pb2.Schema,
    parts: list[tuple[str, anomalies_pb2.Anomalies, Callable[[str], bool]]],
    psi_findings: list[Finding],
) -> anomalies_pb2.Anomalies:
    """One TFDV Anomalies proto from every validation run; reason descriptions start with their source."""
    merged = anomalies_pb2.Anomalies()
    merged.baseline.CopyFrom(baseline)
    merged.anomaly_name_format = anomalies_pb2.Anomalies.SERIALIZED_PATH

    def add(target: anomalies_pb2.AnomalyInfo, info: anomalies_pb2.AnomalyInfo, source: str, keep) -> bool:
        added = False
        for reason in reasons(info):
            if not keep(kind_name(reason.type)):
                continue
            r = target.reason.add()
            r.CopyFrom(reason)
            r.description = f"[{SOURCE_LABELS.get(source, source)}] {reason.description}"
            added = True
        if added:
            target.path.CopyFrom(info.path)
            target.severity = max(target.severity, info.severity)
        return added

    drift_skew: dict[tuple, anomalies_pb2.DriftSkewInfo] = {}
    for source, anomalies, keep in parts:
        for key, info in anomalies.anomaly_info.items():
            if any(keep(kind_name(r.type)) for r in reasons(info)):
                add(merged.anomaly_info[key], info, source, keep)
        if anomalies.HasField("dataset_anomaly_info"):
            if any(keep(kind_name(r.type)) for r in reasons(anomalies.dataset_anomaly_info)):
                add(merged.dataset_anomaly_info, anomalies.dataset_anomaly_info, source, keep)
        if anomalies.data_missing:
            merged.data_missing = True
        for info in anomalies.drift_skew_info:
            key = tuple(info.path.step)
            target = drift_skew.setdefault(key, anomalies_pb2.DriftSkewInfo(path=info.path))
            if source == "drift":
                target.drift_measurements.extend(info.drift_measurements)
            else:
                target.skew_measurements.extend(info.skew_measurements)
    for f in psi_findings:
        info = merged.anomaly_info[f.feature]
        info.path.step[:] = f.feature.split(".")
        info.severity = anomalies_pb2.AnomalyInfo.ERROR
        info.reason.add(
            type=anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION,
            short_description="High population stability index",
            description=f"[{SOURCE_LABELS['psi']}] {f.description}",
        )
    for info in list(merged.anomaly_info.values()) + (
        [merged.dataset_anomaly_info] if merged.HasField("dataset_anomaly_info") else []
    ):
        if len(info.reason) == 1:
            info.short_description = info.reason[0].short_description
            info.description = info.reason[0].description
        else:
            info.short_description = "Multiple errors"
            info.description = " ".join(r.description for r in info.reason)
    merged.drift_skew_info.extend(drift_skew[k] for k in sorted(drift_skew))
    return merged
