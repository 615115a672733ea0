"""A small numpy logistic regression + rank AUC used to check the fraud generator's signal (no sklearn)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def design_matrix(df: pd.DataFrame, categories: dict[str, list[str]] | None = None):
    """Numeric features (log-scaled, missing indicators) + one-hot categoricals; returns (X, categories)."""
    cols = []
    amount = np.log1p(df["amount"].to_numpy(float))
    avg = np.log1p(df["avg_amount_30d"].to_numpy(float))
    age = df["account_age_days"].astype("float64").to_numpy()
    dist = df["distance_from_home_km"].to_numpy(float)
    hour = df["hour"].to_numpy(int)
    cols += [amount, amount**2, amount - avg, np.abs(amount - avg)]
    cols += [np.log1p(np.nan_to_num(age, nan=0.0)), np.isnan(age).astype(float)]
    cols += [np.log1p(np.nan_to_num(dist, nan=0.0)), np.isnan(dist).astype(float)]
    cols += [df["num_tx_last_24h"].to_numpy(float), df["card_present"].to_numpy(float)]
    cols += [(hour < 6).astype(float), df["customer_age"].to_numpy(float) / 50.0]
    categories = categories or {
        c: sorted(df[c].dropna().unique()) for c in ("merchant_category", "country", "channel", "device_type")
    }
    for c, values in categories.items():
        col = df[c].astype(object).where(df[c].notna(), "").to_numpy()
        cols += [(col == v).astype(float) for v in values]
    x = np.column_stack(cols)
    return x, categories


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 25):
    """Newton's method with L2; returns (weights, mean, std) for standardization."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.column_stack([np.ones(len(x)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        grad = z.T @ (p - y) + l2 * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w, mu, sd


def predict(model, x: np.ndarray) -> np.ndarray:
    w, mu, sd = model
    z = np.column_stack([np.ones(len(x)), (x - mu) / sd])
    return 1.0 / (1.0 + np.exp(-z @ w))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by ranks (Mann-Whitney U), ties get average ranks."""
    y = np.asarray(y).astype(bool)
    ranks = pd.Series(score).rank(method="average").to_numpy()
    n_pos, n_neg = y.sum(), (~y).sum()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def holdout_auc(train: pd.DataFrame, test: pd.DataFrame, label: str = "is_fraud") -> float:
    x_train, cats = design_matrix(train)
    x_test, _ = design_matrix(test, cats)
    model = fit_logistic(x_train, train[label].to_numpy(float))
    return auc(test[label].to_numpy(), predict(model, x_test))
