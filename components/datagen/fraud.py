"""Synthetic card-transaction fraud data: seeded, no downloads, real but imperfect signal.

Each row is one card transaction. The label ``is_fraud`` (int 0/1, ~5% positive) is drawn first; features
are then drawn from class-conditional distributions that mirror common fraud patterns:

* fraud skews to card-not-present (online) channels, risky merchant categories (electronics, jewelry,
  gift cards, online services, travel), foreign countries, night hours, young accounts, bursts of
  transactions in the last 24 h, far from home, and unusual amounts (large, or tiny card-testing charges);
* about 20% of frauds are "stealthy" (account takeover that looks like the owner's normal spending), and
  legitimate travellers spend abroad far from home: the signal is real but imperfect, and a good model
  reaches a ROC AUC of roughly 0.85-0.95;
* missing values: ``device_type`` is empty for in-person transactions, ``account_age_days`` (~3%) and
  ``distance_from_home_km`` (~8%) are missing at random.

``drift=True`` shifts the data the way fraudsters and new merchants do: new merchant categories and
countries never seen before, a heavier amount distribution, a much larger online share, younger accounts,
more transactions per day, and a higher fraud rate.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

LABEL = "is_fraud"

CATEGORIES = [
    "grocery",
    "restaurant",
    "gas_station",
    "retail",
    "pharmacy",
    "entertainment",
    "utilities",
    "travel",
    "electronics",
    "online_services",
    "jewelry",
    "gift_cards",
]
#: median amount (USD) per category
_CATEGORY_MEDIAN = {
    "grocery": 45.0,
    "restaurant": 32.0,
    "gas_station": 40.0,
    "retail": 60.0,
    "pharmacy": 25.0,
    "entertainment": 35.0,
    "utilities": 90.0,
    "travel": 280.0,
    "electronics": 180.0,
    "online_services": 15.0,
    "jewelry": 350.0,
    "gift_cards": 75.0,
    # drift only
    "crypto_exchange": 500.0,
    "mobile_top_up": 20.0,
    "marketplace": 70.0,
}
_CAT_LEGIT = [0.22, 0.17, 0.12, 0.14, 0.06, 0.07, 0.07, 0.04, 0.04, 0.05, 0.01, 0.01]
_CAT_FRAUD = [0.05, 0.04, 0.05, 0.10, 0.02, 0.05, 0.01, 0.12, 0.20, 0.14, 0.10, 0.12]
DRIFT_CATEGORIES = ["crypto_exchange", "mobile_top_up", "marketplace"]

COUNTRIES = ["US", "CA", "MX", "GB", "DE", "FR", "ES", "BR", "IN", "JP"]
_CTRY_LEGIT = [0.82, 0.05, 0.03, 0.025, 0.015, 0.015, 0.01, 0.01, 0.01, 0.015]
_CTRY_FRAUD = [0.50, 0.05, 0.06, 0.08, 0.04, 0.04, 0.04, 0.08, 0.07, 0.02]
DRIFT_COUNTRIES = ["VN", "NG", "ID", "PH"]

CHANNELS = ["pos", "online", "atm"]
_CHAN_LEGIT = [0.62, 0.30, 0.08]
_CHAN_FRAUD = [0.22, 0.70, 0.08]

DEVICES = ["mobile", "desktop", "tablet"]
_DEV_LEGIT = [0.55, 0.35, 0.10]
_DEV_FRAUD = [0.40, 0.52, 0.08]

#: column order of the generated table; ints with missing values use pandas' nullable Int64
COLUMNS = [
    "amount",
    "merchant_category",
    "country",
    "channel",
    "device_type",
    "card_present",
    "hour",
    "day_of_week",
    "account_age_days",
    "customer_age",
    "num_tx_last_24h",
    "distance_from_home_km",
    "avg_amount_30d",
    LABEL,
]
CATEGORICAL = ["merchant_category", "country", "channel", "device_type"]
NUMERIC = [c for c in COLUMNS if c not in CATEGORICAL and c != LABEL]


def _choice(rng: np.random.Generator, values: list[str], p: list[float], n: int) -> np.ndarray:
    p_arr = np.asarray(p, dtype=float)
    return rng.choice(np.asarray(values, dtype=object), size=n, p=p_arr / p_arr.sum())


def _mix(rng: np.random.Generator, take_a: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(take_a, a, b)


PATTERNS = ("classic", "skimming")
#: ``skimming`` is the concept drift of the continuous-training demo: fraud moves to cloned cards used in person
#: (card present, daytime, local, ordinary amounts, established accounts) at fuel stations and retail, in bursts of
#: many transactions by older customers. The classic signals (online, night, far, young account, large amount) stop
#: working and new ones (velocity, category, age) appear: P(label | features) changes.
_CHAN_SKIM = [0.85, 0.10, 0.05]
_CAT_SKIM = [0.15, 0.04, 0.35, 0.20, 0.10, 0.03, 0.01, 0.01, 0.04, 0.03, 0.02, 0.02]


def generate(
    n_rows: int, seed: int = 0, drift: bool = False, fraud_rate: float | None = None, pattern: str = "classic"
) -> pd.DataFrame:
    """``n_rows`` transactions, reproducible for a given ``seed`` (and ``drift``, ``pattern``).

    ``fraud_rate`` defaults to 5% (8% with ``drift``). ``pattern`` is how fraud looks: ``classic`` (the default) or
    ``skimming`` (see :data:`PATTERNS`).
    """
    if n_rows <= 0:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")
    skim = pattern == "skimming"
    rng = np.random.default_rng([seed, int(drift)] + ([1] if skim else []))
    n = n_rows
    rate = fraud_rate if fraud_rate is not None else (0.08 if drift else 0.05)
    fraud = rng.random(n) < rate
    # stealthy frauds look like their owner's normal spending; travellers are legit but look risky
    stealth = fraud & (rng.random(n) < 0.2)
    looks_fraud = fraud & ~stealth
    traveller = ~fraud & (rng.random(n) < 0.04)

    # channel, card presence, device
    chan_legit, chan_fraud = list(_CHAN_LEGIT), list(_CHAN_FRAUD)
    if drift:  # online everywhere
        chan_legit, chan_fraud = [0.38, 0.55, 0.07], [0.10, 0.85, 0.05]
    if skim:
        chan_fraud = list(_CHAN_SKIM)
    channel = _mix(rng, looks_fraud, _choice(rng, CHANNELS, chan_fraud, n), _choice(rng, CHANNELS, chan_legit, n))
    online = channel == "online"
    card_present = np.where(online, 0, (rng.random(n) < 0.97).astype(int))
    device = _mix(rng, looks_fraud, _choice(rng, DEVICES, _DEV_FRAUD, n), _choice(rng, DEVICES, _DEV_LEGIT, n))
    device = np.where(online, device, None)

    # merchant category
    categories, cat_legit, cat_fraud = list(CATEGORIES), list(_CAT_LEGIT), list(_CAT_SKIM if skim else _CAT_FRAUD)
    if drift:
        categories += DRIFT_CATEGORIES
        cat_legit += [0.02, 0.05, 0.12]
        cat_fraud += [0.15, 0.08, 0.10]
    category = _mix(rng, looks_fraud, _choice(rng, categories, cat_fraud, n), _choice(rng, categories, cat_legit, n))

    # country (travellers spend abroad)
    countries, ctry_legit, ctry_fraud = list(COUNTRIES), list(_CTRY_LEGIT), list(_CTRY_LEGIT if skim else _CTRY_FRAUD)
    if drift:
        countries += DRIFT_COUNTRIES
        ctry_legit += [0.01, 0.01, 0.01, 0.01]
        ctry_fraud += [0.06, 0.06, 0.05, 0.05]
    country = _mix(rng, looks_fraud, _choice(rng, countries, ctry_fraud, n), _choice(rng, countries, ctry_legit, n))
    abroad = _choice(rng, countries[1:], ctry_fraud[1:], n)
    country = np.where(traveller, abroad, country)

    # amount: lognormal around the category's median; fraud inflates it, 15% of fraud is card testing
    median = np.array([_CATEGORY_MEDIAN[c] for c in category])
    sigma = 0.95 if drift else 0.8
    amount = median * np.exp(rng.normal(0.0, sigma, n))
    if drift:
        amount *= 1.9
    inflate = np.exp(rng.normal(0.0 if skim else 0.9, 0.7, n))
    testing = looks_fraud & (rng.random(n) < (0.0 if skim else 0.15))
    amount = np.where(looks_fraud, amount * inflate, amount)
    amount = np.where(testing, rng.uniform(0.5, 4.0, n), amount)
    amount = np.round(np.clip(amount, 0.5, 25_000.0), 2)
    # the customer's usual spend: independent of this transaction (so amount / avg_amount_30d is signal)
    avg_30d = np.round(np.clip(55.0 * np.exp(rng.normal(0.0, 0.6, n)) * (1.5 if drift else 1.0), 3.0, 5_000.0), 2)
    avg_30d = np.where(stealth, np.round(amount * np.exp(rng.normal(0.0, 0.3, n)), 2), avg_30d)

    # hour: daytime for the owner, a night bump for fraud
    day_hours = np.clip(np.round(rng.normal(14.0, 4.0, n)), 0, 23)
    night_hours = rng.integers(0, 24, n)
    night_hours = np.where(rng.random(n) < 0.5, rng.integers(0, 6, n), night_hours)
    hour = np.where(looks_fraud & ~skim, night_hours, day_hours).astype(int) % 24
    day_of_week = rng.integers(0, 7, n)

    # account age (days): young accounts are riskier
    age_legit = np.exp(rng.normal(np.log(900.0), 0.9, n))
    age_fraud = np.exp(rng.normal(np.log(90.0), 1.2, n))
    if drift:
        age_legit /= 2.0
    account_age = np.round(np.clip(np.where(looks_fraud & ~skim, age_fraud, age_legit), 0, 365 * 40)).astype(int)
    fraud_age = 64.0 if skim else 38.0
    customer_age = np.clip(np.round(rng.normal(np.where(looks_fraud, fraud_age, 46.0), 14.0)), 18, 95).astype(int)

    # velocity and distance
    tx_24h = np.where(looks_fraud, rng.poisson(8.0 if skim else 5.0, n) + 1, rng.poisson(2.5 if not drift else 4.0, n))
    dist_legit = np.exp(rng.normal(np.log(8.0), 1.1, n))
    dist_far = np.exp(rng.normal(np.log(400.0), 1.2, n))
    distance = np.where((looks_fraud & ~skim) | traveller, dist_far, dist_legit)
    distance = np.where(online & ~looks_fraud, np.exp(rng.normal(np.log(15.0), 1.3, n)), distance)
    distance = np.round(np.clip(distance, 0.0, 20_000.0), 1)

    df = pd.DataFrame(
        {
            "amount": amount,
            "merchant_category": category.astype(str),
            "country": country.astype(str),
            "channel": channel.astype(str),
            "device_type": pd.array(device, dtype="string"),
            "card_present": card_present.astype(np.int64),
            "hour": hour.astype(np.int64),
            "day_of_week": day_of_week.astype(np.int64),
            "account_age_days": pd.array(account_age, dtype="Int64"),
            "customer_age": customer_age.astype(np.int64),
            "num_tx_last_24h": tx_24h.astype(np.int64),
            "distance_from_home_km": distance.astype(np.float64),
            "avg_amount_30d": avg_30d.astype(np.float64),
            LABEL: fraud.astype(np.int64),
        },
        columns=COLUMNS,
    )
    df.loc[rng.random(n) < 0.03, "account_age_days"] = pd.NA
    df.loc[rng.random(n) < 0.08, "distance_from_home_km"] = np.nan
    return df


def write_csv(path: str, n_rows: int, seed: int = 0, drift: bool = False, fraud_rate: float | None = None) -> str:
    """Generate and write a CSV to ``path`` (local path or any ``tf.io.gfile`` URI); returns ``path``."""
    df = generate(n_rows, seed=seed, drift=drift, fraud_rate=fraud_rate)
    text = df.to_csv(index=False, lineterminator="\n")
    if "://" in path:
        import tensorflow as tf

        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(text)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", newline="") as f:
            f.write(text)
    return path
