"""Days of card transactions for the continuous-training demo: no drift, concept drift, or covariate drift.

* ``none``: every day is the reference distribution (:func:`components.datagen.fraud.generate`).
* ``concept``: from ``shift_day`` on, a growing share of fraud follows the ``skimming`` pattern (reaching
  ``concept_share`` after ``ramp_days``): the relation between features and label changes, so a model trained before
  the shift loses quality that only labels reveal.
* ``covariate``: from ``shift_day`` on, the input mix moves (more online payments and young accounts, ramping over
  ``ramp_days``) while ``P(label | features)`` stays exactly the same: each day is an importance resample of a
  reference pool, kept with probability proportional to a weight that depends on the features alone.

Seeded per (seed, day): the same call gives the same table.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from components.datagen.fraud import LABEL, generate

SCENARIOS = ("none", "concept", "covariate")


def _ramp(day: int, shift_day: int, ramp_days: int) -> float:
    if day < shift_day:
        return 0.0
    return min(1.0, (day - shift_day + 1) / max(ramp_days, 1))


def covariate_weights(df: pd.DataFrame, strength: float) -> np.ndarray:
    """Sampling weight of each row under covariate shift of ``strength`` (0 = none): features only, never the label."""
    online = (df["channel"] == "online").to_numpy(dtype=float)
    young = (df["account_age_days"].fillna(10_000).to_numpy(dtype=float) < 180).astype(float)
    return np.exp(strength * (1.6 * online + 1.2 * young))


def day_table(
    day: int,
    rows: int,
    scenario: str = "none",
    shift_day: int = 10,
    seed: int = 0,
    ramp_days: int = 3,
    concept_share: float = 0.8,
) -> pd.DataFrame:
    """The transactions of simulated ``day`` (0-based)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}")
    day_seed = seed * 100_003 + day
    share = _ramp(day, shift_day, ramp_days)
    if scenario == "concept" and share > 0:
        rng = np.random.default_rng([day_seed, 7])
        classic = generate(rows, seed=day_seed)
        skimming = generate(rows, seed=day_seed, pattern="skimming")
        # swap frauds: a share of the day's frauds follow the new pattern; legit rows are unchanged
        take = (skimming[LABEL].to_numpy() == 1) & (rng.random(rows) < share * concept_share)
        drop = classic.index[classic[LABEL] == 1][: int(take.sum())]
        out = pd.concat([classic.drop(index=drop), skimming[take]], ignore_index=True)
        return out.sample(frac=1.0, random_state=day_seed).reset_index(drop=True)
    if scenario == "covariate" and share > 0:
        pool = generate(rows * 4, seed=day_seed)
        w = covariate_weights(pool, share)
        rng = np.random.default_rng([day_seed, 11])
        idx = rng.choice(len(pool), size=rows, replace=False, p=w / w.sum())
        return pool.iloc[np.sort(idx)].reset_index(drop=True)
    return generate(rows, seed=day_seed)


def days(n_days: int, rows: int, scenario: str = "none", shift_day: int = 10, seed: int = 0) -> Iterator[pd.DataFrame]:
    for day in range(n_days):
        yield day_table(day, rows, scenario, shift_day, seed)
