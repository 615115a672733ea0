"""The monitoring decision: retrain or not, with every reason a person needs to agree with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.monitor.quality import Quality


@dataclass(frozen=True)
class Thresholds:
    """When a window calls for retraining. ``tau`` is the lowest acceptable value of ``metric``."""

    metric: str = "auc"
    tau: float = 0.8
    min_labelled_rows: int = 200
    max_drift: float = 0.2
    max_skew: float = 0.2
    max_psi: float = 0.25
    retrain_on_drift: bool = True


@dataclass
class Decision:
    retrain: bool
    reasons: list[str] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"retrain": self.retrain, "reasons": self.reasons, "observations": self.observations}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def decide(
    thresholds: Thresholds,
    realised: Quality | None,
    estimated: Quality | None,
    max_drift: float = 0.0,
    max_skew: float = 0.0,
    max_psi: float = 0.0,
    anomalies: int = 0,
    features: dict[str, str] | None = None,
) -> Decision:
    """Retrain when realised quality (enough labelled rows) or, lacking labels, estimated quality falls below tau,
    or when input drift/skew/PSI passes its threshold (``retrain_on_drift``). Schema anomalies alone never retrain:
    the training data would carry the same defect; they are reported for a person to fix the producer."""
    t, decision = thresholds, Decision(retrain=False)
    where = {k: f" (feature `{v}`)" for k, v in (features or {}).items() if v}
    real = getattr(realised, t.metric, None) if realised is not None else None
    labelled = realised.rows if realised is not None else 0
    est = getattr(estimated, t.metric, None) if estimated is not None else None
    if real is not None and labelled >= t.min_labelled_rows:
        if real < t.tau:
            decision.reasons.append(f"realised {t.metric} {_fmt(real)} < tau {t.tau:.3f} on {labelled} labelled rows")
        else:
            decision.observations.append(f"realised {t.metric} {_fmt(real)} >= tau {t.tau:.3f} ({labelled} rows)")
    elif est is not None:
        if est < t.tau:
            decision.reasons.append(
                f"estimated {t.metric} {_fmt(est)} < tau {t.tau:.3f} (CBPE; {labelled} labelled rows so far)"
            )
        else:
            decision.observations.append(f"estimated {t.metric} {_fmt(est)} >= tau {t.tau:.3f} (CBPE)")
    for name, value, limit in (("drift", max_drift, t.max_drift), ("skew", max_skew, t.max_skew)):
        if value > limit:
            (decision.reasons if t.retrain_on_drift else decision.observations).append(
                f"input {name} {value:.3f} > {limit:.3f}{where.get(name, '')}"
            )
    if max_psi > t.max_psi:
        (decision.reasons if t.retrain_on_drift else decision.observations).append(
            f"PSI {max_psi:.3f} > {t.max_psi:.3f}{where.get('psi', '')}"
        )
    if anomalies:
        decision.observations.append(
            f"{anomalies} schema anomalies: fix the data producer; retraining would learn them"
        )
    decision.retrain = bool(decision.reasons)
    return decision
