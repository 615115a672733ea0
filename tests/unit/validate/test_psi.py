"""components/validate/psi.py: population stability index from statistics histograms."""

from __future__ import annotations

import pytest

from components.validate.psi import population_stability_index, psi_of_histograms
from tests.testdata.validate_fixtures import LABEL, stats_of, transactions

pytestmark = pytest.mark.unit


def test_psi_zero_for_identical_and_large_for_shifted():
    ref = stats_of(transactions(seed=0, n=2000))
    same = population_stability_index(ref, ref)
    assert set(same) == {"amount", "hour", LABEL}
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in same.values())
    resampled = population_stability_index(ref, stats_of(transactions(seed=1, n=2000)))
    assert resampled["amount"] < 0.05 and resampled["hour"] < 0.05
    shifted = population_stability_index(ref, stats_of(transactions(seed=1, n=2000, amount_shift=40.0)))
    assert shifted["amount"] > 1.0
    # hand-checked: half the mass moves from bin (-inf,1] to (1,+inf): 2 * 0.25 * ln(3) ~ 0.549
    assert psi_of_histograms([(0, 1, 50), (1, 2, 50)], [(0, 1, 25), (1, 2, 75)]) == pytest.approx(
        0.5 * 0.5 * 1.0986, rel=1e-3
    )
