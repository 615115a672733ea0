"""What validate found: TFDV anomalies and drift/skew measurements as flat findings, and what to do about each."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

# Finding.source values and how a person reads them (the split or comparison each finding comes from).
SOURCE_LABELS = {
    "train": "train split vs schema",
    "eval": "eval split vs schema",
    "serving": "serving data vs schema",
    "drift": "train split vs previous statistics (drift)",
    "skew": "train split vs serving statistics (skew)",
    "psi": "PSI",
}

_MEASURE_OF_KIND = {
    "COMPARATOR_L_INFTY_HIGH": "L_INFTY",
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": "JENSEN_SHANNON_DIVERGENCE",
    "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH": "NORMALIZED_ABSOLUTE_DIFFERENCE",
}

_SCHEMA_HINT = "if the change is expected, tighten or relax the curated schema (see components/schema/README.md)"

#: (kind prefix, advice): the first matching prefix wins.
_ADVICE = (
    (
        "SCHEMA_MISSING_COLUMN",
        "the column is absent: check the export/ingest (renamed or dropped?); "
        "if the feature is optional, lower its presence.min_fraction in the curated schema",
    ),
    (
        "SCHEMA_NEW_COLUMN",
        "the data has a column the schema does not declare: add it to the curated schema or drop it before ingest",
    ),
    (
        "ENUM_TYPE",
        "values outside the schema's domain: fix them at the source, or add the new categories to the "
        "domain in the curated schema if they are valid",
    ),
    ("COMPARATOR_CONTROL_DATA_MISSING", "the serving data lacks this feature: check the serving log/export"),
    (
        "COMPARATOR_",
        "the distribution moved: investigate the upstream data; if the shift is real and expected, "
        "retrain on recent data and, if needed, raise the threshold",
    ),
    (
        "PSI_HIGH",
        "the population shifted: compare the histograms in the statistics report; retrain on recent "
        "data if the shift is expected",
    ),
    ("DATA_MISSING", "the statistics hold no examples: check the data path and any filters"),
)
_TYPE_ADVICE = (
    "the column's type changed (e.g. text in a numeric column): fix the values at the source, or " + _SCHEMA_HINT
)
_PRESENCE_ADVICE = (
    "some rows lack this value: fill it at the source, or make the feature optional in the schema "
    "(presence.min_fraction)"
)


def advice(kind: str) -> str:
    """What a person should do about a finding of ``kind`` (one sentence)."""
    for prefix, text in _ADVICE:
        if kind.startswith(prefix):
            return text
    if "TYPE" in kind:
        return _TYPE_ADVICE
    if "PRESENT" in kind or "MISSING" in kind or "VALENCY" in kind:
        return _PRESENCE_ADVICE
    return "check the data at its source; " + _SCHEMA_HINT


@dataclass
class Finding:
    """One anomaly: a TFDV anomaly reason, a drift/skew comparator above threshold, or a high PSI."""

    feature: str
    kind: str  # TFDV AnomalyInfo.Type name, e.g. SCHEMA_MISSING_COLUMN, COMPARATOR_L_INFTY_HIGH; or PSI_HIGH
    source: str  # train | eval | serving (vs schema), drift, skew, psi
    description: str
    value: float | None = None  # measured distance / PSI, when there is one
    threshold: float | None = None
    observed: str = ""  # the offending values or type, when TFDV names them (e.g. "crypto (~4%)", "STRING")

    def value_text(self) -> str:
        if self.value is not None:
            text = f"{self.value:.4g}"
            if self.threshold is not None:
                text += f" > threshold {self.threshold:.4g}"
            return text
        return self.observed

    def line(self) -> str:
        """``feature `x`: KIND — description (value …; where)``: one line of the gate's message."""
        details = []
        value = self.value_text()
        if value and (self.value is not None or value not in self.description):
            details.append(f"value {value}")
        details.append(SOURCE_LABELS.get(self.source, self.source))
        return f"feature `{self.feature}`: {self.kind} — {self.description.strip()} ({'; '.join(details)})"


@dataclass
class Comparison:
    """A drift or skew measurement of one feature (whether or not it exceeded its threshold)."""

    feature: str
    measure: str  # L_INFTY | JENSEN_SHANNON_DIVERGENCE | NORMALIZED_ABSOLUTE_DIFFERENCE
    value: float
    threshold: float
    histogram: str = ""  # for JENSEN_SHANNON_DIVERGENCE: the histogram TFDV read (QUANTILES | STANDARD)

    @property
    def exceeded(self) -> bool:
        return self.value > self.threshold


def kind_name(reason_type: int) -> str:
    return anomalies_pb2.AnomalyInfo.Type.Name(reason_type)


def is_comparator(kind: str) -> bool:
    return kind.startswith("COMPARATOR_")


def _observed(kind: str, description: str) -> str:
    if kind == "ENUM_TYPE_UNEXPECTED_STRING_VALUES":
        m = re.search(r"missing from the schema:\s*(.+?)\.?\s*$", description)
        return m.group(1).strip() if m else ""
    m = re.search(r"but got (\w+)", description)
    if m:
        return m.group(1)
    return ""


def measurements(
    anomalies: anomalies_pb2.Anomalies, which: str, schema: schema_pb2.Schema | None = None
) -> list[Comparison]:
    """Every drift (``which="drift"``) or skew measurement TFDV reported, by feature."""
    sources = {}
    for f in schema.feature if schema is not None else ():
        comparator = f.drift_comparator if which == "drift" else f.skew_comparator
        if comparator.HasField("jensen_shannon_divergence"):
            source = comparator.jensen_shannon_divergence.source.type
            sources[f.name] = schema_pb2.HistogramSelection.Type.Name(source)
    out = []
    for info in anomalies.drift_skew_info:
        feature = ".".join(info.path.step)
        ms = info.drift_measurements if which == "drift" else info.skew_measurements
        for m in ms:
            is_jsd = m.type == anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE
            out.append(
                Comparison(
                    feature=feature,
                    measure=anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(m.type),
                    value=float(m.value),
                    threshold=float(m.threshold),
                    histogram=sources.get(feature, "") if is_jsd else "",
                )
            )
    return sorted(out, key=lambda c: c.feature)


def reasons(info: anomalies_pb2.AnomalyInfo) -> list[anomalies_pb2.AnomalyInfo.Reason]:
    if info.reason:
        return list(info.reason)
    reason = anomalies_pb2.AnomalyInfo.Reason(
        type=anomalies_pb2.AnomalyInfo.UNKNOWN_TYPE,
        short_description=info.short_description,
        description=info.description,
    )
    return [reason]


def findings(
    anomalies: anomalies_pb2.Anomalies,
    source: str,
    keep: Callable[[str], bool] = lambda kind: True,
    comparisons: Iterable[Comparison] = (),
) -> list[Finding]:
    """One :class:`Finding` per TFDV anomaly reason ``keep`` accepts, with its measured value when there is one."""
    by_feature: dict[str, list[Comparison]] = {}
    for c in comparisons:
        by_feature.setdefault(c.feature, []).append(c)
    out = []
    infos = [(".".join(info.path.step) or key, info) for key, info in anomalies.anomaly_info.items()]
    if anomalies.HasField("dataset_anomaly_info"):
        infos.append(("(dataset)", anomalies.dataset_anomaly_info))
    for feature, info in sorted(infos, key=lambda x: x[0]):
        for reason in reasons(info):
            kind = kind_name(reason.type)
            if not keep(kind):
                continue
            description = reason.description or reason.short_description or info.description
            finding = Finding(feature, kind, source, description, observed=_observed(kind, description))
            measure = _MEASURE_OF_KIND.get(kind)
            for c in by_feature.get(feature, []):
                if measure is None or c.measure == measure:
                    finding.value, finding.threshold = c.value, c.threshold
                    break
            out.append(finding)
    if anomalies.data_missing:
        out.append(Finding("(dataset)", "DATA_MISSING", source, "the statistics hold no examples"))
    return out


def psi_findings(psi: dict[str, dict[str, float]], psi_threshold: float, current_split: str) -> list[Finding]:
    """A PSI_HIGH finding per feature whose PSI (against ``previous`` or ``serving``) is above the threshold."""
    out = []
    if psi_threshold <= 0:
        return out
    for which, values in psi.items():
        for name, value in values.items():
            if value > psi_threshold:
                description = (
                    f"population stability index of {current_split} vs {which} is {value:.4g}, "
                    f"above the threshold {psi_threshold:g}"
                )
                out.append(Finding(name, "PSI_HIGH", "psi", description, value=value, threshold=psi_threshold))
    return out


def without(anomalies: anomalies_pb2.Anomalies, dropped: set[tuple[str, str]]) -> anomalies_pb2.Anomalies:
    """Copy of ``anomalies`` without the reasons whose (feature, kind) is in ``dropped``."""
    out = copy.deepcopy(anomalies)
    for key in list(out.anomaly_info):
        info = out.anomaly_info[key]
        feature = ".".join(info.path.step) or key
        kept = [r for r in info.reason if (feature, kind_name(r.type)) not in dropped]
        if len(kept) == len(info.reason):
            continue
        if not kept:
            del out.anomaly_info[key]
            continue
        del info.reason[:]
        info.reason.extend(kept)
    return out
