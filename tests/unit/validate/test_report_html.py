"""components/validate/report_html.py: the validation page."""

from __future__ import annotations

import pytest

from tests.testdata.validate_fixtures import run_on, transactions, write_stats_artifact

pytestmark = pytest.mark.unit


def test_html_lists_drift_table(tmp_path, base):
    previous = str(tmp_path / "previous")
    write_stats_artifact(previous, transactions(seed=5), None)
    run_on(tmp_path, base, train_df=transactions(seed=6, amount_shift=40.0), previous_statistics_uri=previous)
    page = (tmp_path / "report.html").read_text()
    assert "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" in page and "JENSEN_SHANNON_DIVERGENCE" in page
    assert "amount" in page and "PSI" in page and "major shift" in page


def test_anomalies_come_first_with_advice_and_bars_carry_threshold_lines(tmp_path, base):
    previous = str(tmp_path / "previous")
    write_stats_artifact(previous, transactions(seed=5), None)
    bad_eval = transactions(seed=7).drop(columns=["country"])
    run_on(tmp_path, base, train_df=transactions(seed=6, amount_shift=40.0), eval_df=bad_eval,
           previous_statistics_uri=previous)  # fmt: skip
    page = (tmp_path / "report.html").read_text()
    assert page.index("Anomalies (") < page.index("Drift: current train vs previous train")
    assert "what to do" in page and "presence.min_fraction" in page and "the distribution moved" in page
    assert page.count('data-chart="bars"') == 3  # JSD, L-infinity, PSI
    assert page.count('class="threshold"') == 3
    assert "Distributions of the flagged features" in page and 'data-chart="histograms"' in page
    assert "<script" not in page and len(page.encode()) < 200_000
