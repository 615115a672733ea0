"""Synthetic fraud generator: seeded, realistic mix, learnable but imperfect signal, drift that shows."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from components.datagen.fraud import (
    CATEGORICAL,
    COLUMNS,
    COUNTRIES,
    DRIFT_CATEGORIES,
    DRIFT_COUNTRIES,
    LABEL,
    generate,
    write_csv,
)
from tests.testdata.engineer_a_fraud_auc import auc, holdout_auc

pytestmark = pytest.mark.unit


def test_seeded_and_shaped():
    a, b = generate(2000, seed=3), generate(2000, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate(2000, seed=4))
    assert list(a.columns) == COLUMNS and len(a) == 2000
    assert set(a[LABEL].unique()) == {0, 1} and a[LABEL].dtype == np.int64
    assert 0.03 <= a[LABEL].mean() <= 0.08
    # missing values where they belong
    assert a["device_type"].isna().sum() > 0 and a.loc[a["channel"] == "online", "device_type"].notna().all()
    assert 0.01 < a["account_age_days"].isna().mean() < 0.06
    assert 0.04 < a["distance_from_home_km"].isna().mean() < 0.14
    assert a["amount"].min() > 0 and a["hour"].between(0, 23).all() and set(a["card_present"]) <= {0, 1}
    assert set(a["country"]) <= set(COUNTRIES)


def test_signal_real_but_imperfect():
    """A numpy logistic regression trained on 5k rows reaches a ROC AUC in 0.85-0.95 on fresh data."""
    train, test = generate(5000, seed=11), generate(10000, seed=12)
    score = holdout_auc(train, test)
    assert 0.85 <= score <= 0.95, score
    # no single raw feature gives it away
    for col in ("amount", "num_tx_last_24h", "account_age_days", "distance_from_home_km"):
        single = auc(test[LABEL], test[col].astype("float64").fillna(test[col].astype("float64").median()))
        assert max(single, 1 - single) < 0.88, (col, single)


def test_drift_shifts_distributions():
    base, drifted = generate(5000, seed=1), generate(5000, seed=1, drift=True)
    assert set(drifted["merchant_category"]) & set(DRIFT_CATEGORIES)
    assert set(drifted["country"]) & set(DRIFT_COUNTRIES)
    assert (drifted["channel"] == "online").mean() > (base["channel"] == "online").mean() + 0.15
    assert drifted["amount"].median() > 1.5 * base["amount"].median()
    assert drifted[LABEL].mean() > base[LABEL].mean()
    for col in CATEGORICAL:
        assert drifted[col].dtype == base[col].dtype


def test_write_csv_and_cli(tmp_path):
    path = write_csv(str(tmp_path / "a" / "f.csv"), 300, seed=5)
    df = pd.read_csv(path)
    assert list(df.columns) == COLUMNS and len(df) == 300
    assert df["account_age_days"].isna().any()  # empty cells in an integral column
    assert "," not in open(path).readline().strip().split(",")[0]
    out = tmp_path / "cli.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "components.datagen", "--rows", "300", "--seed", "5", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(out) in proc.stdout
    assert out.read_text() == open(path).read()
    drifted = pd.read_csv(write_csv(str(tmp_path / "d.csv"), 200, drift=True))
    assert len(drifted) == 200 and list(drifted.columns) == COLUMNS
