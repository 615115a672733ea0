"""The drift simulator: concept drift changes P(label | x); covariate drift changes P(x) and keeps P(label | x)."""

import numpy as np
import pytest

from components.datagen import stream
from components.monitor.quality import roc_auc

pytestmark = pytest.mark.unit

ROWS = 20_000


def _auc(df, column):
    return roc_auc(df["is_fraud"].to_numpy(), df[column].to_numpy(dtype=float))


def test_no_drift_days_differ_only_by_seed():
    a, b = stream.day_table(3, 2000), stream.day_table(3, 2000)
    assert a.equals(b)
    assert not a.equals(stream.day_table(4, 2000))


def test_concept_drift_breaks_the_classic_signals():
    before = stream.day_table(2, ROWS, "concept", shift_day=5)
    after = stream.day_table(9, ROWS, "concept", shift_day=5)
    for df in (before, after):
        df["online"] = (df["channel"] == "online").astype(float)
    assert _auc(before, "online") > 0.62  # fraud was online ...
    assert _auc(after, "online") < 0.52  # ... and no longer is
    assert _auc(after, "num_tx_last_24h") > _auc(before, "num_tx_last_24h")  # bursts are the new signal
    assert abs(after["is_fraud"].mean() - before["is_fraud"].mean()) < 0.01  # same fraud rate


def test_covariate_drift_moves_the_mix_but_not_the_relation():
    before = stream.day_table(2, ROWS, "covariate", shift_day=5)
    after = stream.day_table(9, ROWS, "covariate", shift_day=5)
    share = lambda df: (df["channel"] == "online").mean()  # noqa: E731
    assert share(after) > share(before) + 0.15

    # the weight is constant within each (online, young account) cell, so P(fraud | cell) must not move
    def rate(df, online, young):
        cell = ((df["channel"] == "online") == online) & ((df["account_age_days"].fillna(10_000) < 180) == young)
        return df.loc[cell, "is_fraud"].mean()

    for online in (True, False):
        for young in (True, False):
            assert rate(after, online, young) == pytest.approx(rate(before, online, young), abs=0.03)


def test_unknown_scenario_is_named():
    with pytest.raises(ValueError, match="scenario must be one of none, concept, covariate"):
        stream.day_table(0, 10, "sudden")


def test_weights_ignore_the_label():
    df = stream.day_table(0, 500)
    flipped = df.assign(is_fraud=1 - df["is_fraud"])
    assert np.array_equal(stream.covariate_weights(df, 1.0), stream.covariate_weights(flipped, 1.0))
