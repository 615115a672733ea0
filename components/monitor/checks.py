"""The data checks of a monitoring window: schema anomalies, skew against training, drift against the previous window.

All measured with validate's own pieces (no second implementation): the schema copies with comparators
(``components.validate.schema_setup``), the real ``tfdv.validate_statistics``, validate's findings and measurements
(``components.validate.findings``), its PSI (``components.validate.psi``) and its merged Anomalies proto
(``components.validate.merge``). What differs from validate is the direction of the comparisons:

* **anomalies**: the window against the training schema in the SERVING environment (the label is not logged);
* **skew**: training statistics (kept with the model) against the window as serving statistics; PSI with the
  training data as reference;
* **drift**: the window against the previous window; PSI with the previous window as reference.

Every feature gets a row in ``features`` whatever its values (L-infinity for categorical features, Jensen-Shannon
divergence for numeric ones, PSI for numeric ones), not only those over a threshold. The result is written as an
anomalies artifact (``components/_shared/artifacts/anomalies.py``) whose ``report.json`` the decision step reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components._shared.artifacts import anomalies as anomalies_artifact
from components._shared.artifacts.statistics import has_statistics, read_statistics
from components._shared.log import get_logger
from components.monitor.decision import Thresholds
from components.monitor.log_statistics import PREVIOUS, WINDOW
from components.monitor.served import Evidence
from components.validate import findings as F
from components.validate import schema_setup as S
from components.validate.merge import merge_anomalies
from components.validate.psi import population_stability_index

log = get_logger("monitor")


@dataclass
class DataChecks:
    schema_anomalies: list[F.Finding] = field(default_factory=list)
    drift_findings: list[F.Finding] = field(default_factory=list)  # comparators + PSI over their thresholds
    drift: list[F.Comparison] = field(default_factory=list)  # window vs previous window
    skew: list[F.Comparison] = field(default_factory=list)  # window vs training
    psi_previous: dict[str, float] = field(default_factory=dict)
    psi_training: dict[str, float] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def max_drift(self) -> float:
        return max((c.value for c in self.drift), default=0.0)

    @property
    def max_skew(self) -> float:
        return max((c.value for c in self.skew), default=0.0)

    @property
    def max_psi(self) -> float:
        return max([*self.psi_previous.values(), *self.psi_training.values()], default=0.0)

    def worst(self) -> dict[str, str]:
        """The feature of the largest drift, skew and PSI ("" when none was measured)."""
        psi = {**self.psi_previous, **{k: v for k, v in self.psi_training.items() if v > self.psi_previous.get(k, -1)}}
        return {
            "drift": max(self.drift, key=lambda c: c.value).feature if self.drift else "",
            "skew": max(self.skew, key=lambda c: c.value).feature if self.skew else "",
            "psi": max(psi, key=psi.get) if psi else "",
        }

    def per_feature(self) -> list[dict[str, Any]]:
        """One row per feature of the window: drift, skew, PSI vs previous and vs training (None = not measured)."""
        drift = {c.feature: c for c in self.drift}
        skew = {c.feature: c for c in self.skew}
        rows = []
        for name in self.features:
            d, s = drift.get(name), skew.get(name)
            rows.append({
                "feature": name,
                "measure": (d or s).measure if (d or s) else "",
                "drift": d.value if d else None,
                "skew": s.value if s else None,
                "psi_previous": self.psi_previous.get(name),
                "psi_training": self.psi_training.get(name),
            })  # fmt: skip
        return rows

    def to_json(self) -> dict[str, Any]:
        findings = self.schema_anomalies + self.drift_findings
        return {
            "passed": not findings,
            "anomaly_count": len(findings),
            "schema_anomaly_count": len(self.schema_anomalies),
            "max_drift": self.max_drift,
            "max_skew": self.max_skew,
            "max_psi": self.max_psi,
            "worst": self.worst(),
            "num_examples": self.rows,
            "findings": [{**asdict(f), "line": f.line()} for f in findings],
            "drift": [asdict(c) for c in self.drift],
            "skew": [asdict(c) for c in self.skew],
            "psi": self.psi_previous,
            "psi_serving": self.psi_training,
            "features": self.per_feature(),
            "notes": self.notes,
        }


def _features(stats: statistics_pb2.DatasetFeatureStatisticsList) -> list[str]:
    from components._shared.stats_view import default_slice, stat_name

    return sorted(stat_name(fs) for fs in default_slice(stats).features)


def _comparator_schema(schema: schema_pb2.Schema, which: str, limit: float, label_key: str, auto: dict) -> Any:
    return S.with_comparators(schema, which, limit, limit, lambda f: f.name != label_key, "auto", auto)


def check_window(
    statistics_dir: str, evidence: Evidence, anomalies_dir: str, thresholds: Thresholds, html: str | None = None
) -> DataChecks:
    """Check the window statistics (``window``/``previous`` splits of ``statistics_dir``); write the anomalies
    artifact (``html``: the page to also write at the KFP HTML output's path)."""
    from components.monitor.report_html import data_checks_page

    window = read_statistics(statistics_dir, WINDOW)
    previous = read_statistics(statistics_dir, PREVIOUS) if has_statistics(statistics_dir, PREVIOUS) else None
    training, label = evidence.training, evidence.label_key
    out = DataChecks(features=_features(window), notes=list(evidence.notes))
    out.rows = {"window": _rows(window), "previous": _rows(previous), "training": _rows(training)}
    schema = S.with_environments(evidence.schema, label) if evidence.schema is not None else None
    parts = []
    if schema is not None:
        anomalies = tfdv.validate_statistics(window, schema, environment=S.environment(schema, S.SERVING))
        out.schema_anomalies = F.findings(anomalies, "serving")
        parts.append(("serving", anomalies, lambda kind: True))
    base = schema if schema is not None else tfdv.infer_schema(training or window)
    if training is not None:
        skew_schema = _comparator_schema(base, "skew", thresholds.max_skew, label, S.auto_sources(training))
        anomalies = tfdv.validate_statistics(training, skew_schema, serving_statistics=window,
                                             environment=S.environment(base, S.TRAINING))  # fmt: skip
        out.skew = F.measurements(anomalies, "skew", skew_schema)
        out.drift_findings += F.findings(anomalies, "skew", F.is_comparator, out.skew)
        out.psi_training = population_stability_index(training, window)
        parts.append(("skew", anomalies, F.is_comparator))
        base = S.merge_skew(base, skew_schema)
    if previous is not None:
        drift_schema = _comparator_schema(base, "drift", thresholds.max_drift, label, S.auto_sources(window))
        anomalies = tfdv.validate_statistics(window, drift_schema, previous_statistics=previous,
                                             environment=S.environment(base, S.SERVING))  # fmt: skip
        out.drift = F.measurements(anomalies, "drift", drift_schema)
        out.drift_findings += F.findings(anomalies, "drift", F.is_comparator, out.drift)
        out.psi_previous = population_stability_index(previous, window)
        parts.append(("drift", anomalies, F.is_comparator))
        base = drift_schema
    else:
        out.notes.append("no previous window (nothing logged before the window, no URI): drift is not measured")
    psi = F.psi_findings({"previous": out.psi_previous, "training": out.psi_training}, thresholds.max_psi, WINDOW)
    out.drift_findings += psi
    merged = merge_anomalies(base, parts, psi)
    page = data_checks_page(out, thresholds)
    anomalies_artifact.write_anomalies(anomalies_dir, text_format.MessageToString(merged), out.to_json(), page)
    if html:
        anomalies_artifact.write_text(html, page)
    log.info("data checks: %d schema anomalies, max drift %.3f, max skew %.3f, max PSI %.3f",
             len(out.schema_anomalies), out.max_drift, out.max_skew, out.max_psi)  # fmt: skip
    return out


def _rows(stats: statistics_pb2.DatasetFeatureStatisticsList | None) -> int:
    from components._shared.stats_view import num_examples

    return num_examples(stats) if stats is not None else 0


def check_data(
    statistics_dir: str, model_dir: str, anomalies_dir: str, thresholds: Thresholds, html: str | None = None
) -> DataChecks:
    """The monitoring checks step: the window statistics against the evidence kept with ``model_dir``."""
    from components.monitor.served import read_evidence

    return check_window(statistics_dir, read_evidence(model_dir), anomalies_dir, thresholds, html)
