"""Monitoring core: realised quality, CBPE estimation and the retraining decision, on seeded synthetic windows."""

import itertools

import numpy as np
import pytest

from components.monitor.cbpe import Calibrator, estimate_quality, fit_calibrator
from components.monitor.decision import Thresholds, decide
from components.monitor.quality import Quality, realised_quality, roc_auc

pytestmark = pytest.mark.unit


def _pairwise_auc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_matches_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) * 0.5 + 0.3 * y, 1)  # coarse scores: many ties
    assert roc_auc(y, s) == pytest.approx(_pairwise_auc(y, s), abs=1e-12)
    assert roc_auc(np.ones(5), np.arange(5)) is None


def test_realised_quality_counts():
    q = realised_quality(np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.2, 0.6, 0.1, 0.7]))
    assert (q.rows, q.positives) == (5, 3)
    assert q.precision == pytest.approx(2 / 3) and q.recall == pytest.approx(2 / 3)
    assert q.f1 == pytest.approx(2 / 3) and q.accuracy == pytest.approx(3 / 5)
    assert q.auc == pytest.approx(5 / 6)
    assert "auc" in q.as_dict() and all(isinstance(v, float) for v in q.as_dict().values())
    with pytest.raises(ValueError, match="0 or 1"):
        realised_quality(np.array([2]), np.array([0.5]))


def _window(rng, n, a, b):
    p = rng.beta(a, b, n)  # true probability of a positive
    return rng.random(n) < p, p


@pytest.mark.parametrize(("a", "b"), [(1, 6), (2, 2), (0.5, 3)])  # reference mix, then two covariate shifts
def test_cbpe_tracks_realised_quality_under_covariate_shift(a, b):
    rng = np.random.default_rng(1)
    y, p = _window(rng, 40_000, a, b)
    real = realised_quality(y.astype(int), p)
    est = estimate_quality(p)
    for metric in ("auc", "precision", "recall", "f1", "accuracy"):
        assert getattr(est, metric) == pytest.approx(getattr(real, metric), abs=0.02), metric


def test_calibration_fixes_an_overconfident_model():
    rng = np.random.default_rng(2)
    y_ref, p_ref = _window(rng, 40_000, 1, 4)
    scores_ref = np.sqrt(p_ref)  # monotone but miscalibrated: too high
    calibrator = fit_calibrator(y_ref.astype(int), scores_ref)
    assert np.all(np.diff(calibrator.y) >= -1e-12)
    y, p = _window(rng, 40_000, 1, 2)  # a shifted window, same relation between score and label
    scores = np.sqrt(p)
    real = realised_quality(y.astype(int), scores)
    raw = estimate_quality(scores)
    calibrated = estimate_quality(scores, calibrator)
    assert abs(calibrated.precision - real.precision) < 0.02
    assert abs(raw.precision - real.precision) > 0.05  # uncalibrated CBPE would be visibly wrong
    assert calibrated.auc == pytest.approx(real.auc, abs=0.02)
    assert Calibrator.from_json(calibrator.to_json()) == calibrator


def _q(auc, rows=1000):
    return Quality(rows=rows, positives=rows // 10, auc=auc, precision=None, recall=None, f1=None, accuracy=None)


def test_decision_rules():
    t = Thresholds(metric="auc", tau=0.8, min_labelled_rows=200, max_drift=0.2)
    assert not decide(t, _q(0.9), _q(0.88)).retrain
    low = decide(t, _q(0.7), _q(0.9))
    assert low.retrain and "realised auc 0.700 < tau 0.800" in low.reasons[0]
    # too few labels: the estimate decides
    few = decide(t, _q(0.5, rows=50), _q(0.75))
    assert few.retrain and "estimated auc 0.750" in few.reasons[0]
    drift = decide(t, _q(0.9), None, max_drift=0.35)
    assert drift.retrain and "input drift 0.350 > 0.200" in drift.reasons
    quiet = decide(Thresholds(retrain_on_drift=False), _q(0.9), None, max_drift=0.35, anomalies=2)
    assert not quiet.retrain and any("anomalies" in o for o in quiet.observations)


def test_window_assessment_overall_and_per_slice():
    from components._shared.artifacts import prediction_log as plog
    from components.monitor.assess import assess
    from components.monitor.window import from_records

    rng = np.random.default_rng(3)
    n = 4000
    p = rng.beta(1, 5, n)
    y = (rng.random(n) < p).astype(int)
    channel = np.where(rng.random(n) < 0.3, "online", "pos")
    records = [{plog.REQUEST_ID: f"r{i}", plog.PREDICTION: [p[i]], "channel": channel[i]} for i in range(n)]
    labels = {f"r{i}": int(y[i]) for i in range(0, n, 2)}  # half the labels have arrived
    window = from_records(records, labels, ["channel"])
    assert window.labelled.sum() == n // 2
    result = assess(window, slice_features=["channel"])
    assert result.overall.rows == n and result.overall.labelled == n // 2
    assert result.overall.estimated.auc == pytest.approx(result.overall.realised.auc, abs=0.04)
    assert [s.slice for s in result.slices] == ["channel=online", "channel=pos"]
    assert sum(s.rows for s in result.slices) == n
    assert result.slices[0].as_dict()["realised"]["auc"] > 0.5
    with pytest.raises(ValueError, match="not 0 or 1"):
        from_records(records[:1], {"r0": 3})
