"""Small statistics/schema artifacts for the validate tests, built with real TFDV from pandas frames."""

from __future__ import annotations

import components  # noqa: F401  (TensorFlow environment first)

# isort: split
import numpy as np
import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components._shared.artifacts.schema import write_schema
from components._shared.artifacts.statistics import write_statistics

LABEL = "is_fraud"


def transactions(n: int = 600, seed: int = 0, amount_shift: float = 0.0, channel_p=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    """Card transactions: numeric amount/hour, categorical channel/country, binary label."""
    r = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": r.lognormal(3.5, 0.6, n) + amount_shift,
            "hour": r.integers(0, 24, n),
            "channel": r.choice(["web", "pos", "atm"], n, p=list(channel_p)),
            "country": r.choice(["US", "GB", "DE", "FR"], n),
            LABEL: (r.random(n) < 0.1).astype(np.int64),
        }
    )


def stats_of(df: pd.DataFrame) -> statistics_pb2.DatasetFeatureStatisticsList:
    return tfdv.generate_statistics_from_dataframe(df)


def write_stats_artifact(root: str, train: pd.DataFrame | None, eval_: pd.DataFrame | None) -> str:
    """``<root>/<split>/FeatureStats.pb`` for the splits given."""
    for split, df in (("train", train), ("eval", eval_)):
        if df is None:
            continue
        write_statistics(root, split, stats_of(df))
    return root


def write_schema_artifact(root: str, df: pd.DataFrame) -> schema_pb2.Schema:
    """``<root>/schema.pbtxt`` inferred by TFDV from ``df``."""
    schema = tfdv.infer_schema(stats_of(df))
    write_schema(schema, root)
    return schema


def taxi_frames(csv_path: str, eval_share: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Chicago taxi sample split at random into train and eval frames (types as pandas reads them)."""
    df = pd.read_csv(csv_path)
    mask = np.random.default_rng(seed).random(len(df)) < eval_share
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def run_on(tmp_path, base: dict, eval_df: pd.DataFrame | None = None, train_df: pd.DataFrame | None = None, **kw):
    """validate on a statistics artifact of ``train_df`` (default: the base frame) and ``eval_df``."""
    from components.validate.logic import validate

    stats_dir = write_stats_artifact(
        str(tmp_path / "stats"),
        base["train"] if train_df is None else train_df,
        transactions(seed=1) if eval_df is None else eval_df,
    )
    return validate(stats_dir, base["schema"], str(tmp_path / "anomalies"), str(tmp_path / "report.html"), **kw)


def kinds(result, feature: str, source: str | None = None) -> set[str]:
    return {f.kind for f in result.findings if f.feature == feature and (source is None or f.source == source)}
