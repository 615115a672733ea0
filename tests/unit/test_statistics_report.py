"""The statistics report's data (components/_shared/stats_view.py) and page (components/statistics/report_html.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components._shared.stats_view import feature_views, rebin
from components.statistics.report_html import render
from tests.testdata.validate_fixtures import LABEL, stats_of, transactions

pytestmark = pytest.mark.unit


def test_identical_datasets_do_not_differ():
    s = stats_of(transactions(seed=0))
    views = feature_views({"train": s, "eval": s})
    assert {v.name for v in views} == {"amount", "hour", "channel", "country", LABEL}
    assert all(v.difference == pytest.approx(0.0, abs=1e-12) for v in views)
    amount = next(v for v in views if v.name == "amount")
    assert amount.kind == "numeric" and sum(amount.shares["train"]) == pytest.approx(1.0)
    assert set(amount.summary["train"]) == {"mean", "std", "min", "max"}


def test_most_different_first_missing_column_and_shifted_category():
    train = transactions(seed=0, n=2000)
    eval_ = transactions(seed=1, n=2000, channel_p=(0.1, 0.2, 0.7)).drop(columns=["country"])
    views = feature_views({"train": stats_of(train), "eval": stats_of(eval_)})
    assert [v.name for v in views][:2] == ["country", "channel"]
    country, channel = views[0], views[1]
    assert country.missing == {"train": 0.0, "eval": 1.0} and country.difference == 1.0
    assert channel.kind == "categorical" and set(channel.categories) == {"web", "pos", "atm"}
    web = channel.categories.index("web")
    assert channel.shares["train"][web] == pytest.approx(0.5, abs=0.05)
    assert channel.shares["eval"][web] == pytest.approx(0.1, abs=0.03)
    assert channel.difference == pytest.approx(0.5, abs=0.05)  # atm: 0.2 -> 0.7


def test_a_dataset_without_values_is_a_missing_gap_not_a_distribution_gap():
    train = pd.DataFrame({"x": np.r_[np.full(999, np.nan), 5.0], "y": np.arange(1000.0)})
    eval_ = pd.DataFrame({"x": np.full(300, np.nan), "y": np.arange(300.0)})
    (x,) = [v for v in feature_views({"train": stats_of(train), "eval": stats_of(eval_)}) if v.name == "x"]
    assert "eval" not in x.shares
    assert x.difference == pytest.approx(0.001)


def test_rebin_keeps_mass_uniform_within_buckets():
    assert rebin([(0, 2, 10)], [1.0]) == pytest.approx([0.5, 0.5])
    assert rebin([(3, 3, 4), (0, 1, 4)], [2.0]) == pytest.approx([0.5, 0.5])


def test_page_has_a_card_per_feature_and_no_script():
    s = stats_of(transactions(seed=0))
    page = render({"train": s, "eval": stats_of(transactions(seed=1))})
    assert page.count('data-chart="histograms"') == 5 and page.count("class='card'") == 5
    assert "Statistics: train vs eval" in page and "<script" not in page
