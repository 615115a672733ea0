"""Reading validate's inputs: statistics (artifact dir, its split, or a FeatureStats.pb file) and the schema.

The only module of validate that reads files. (To be replaced by the shared readers
``components/_shared/artifacts/statistics.py`` / ``schema.py`` once they exist on main.)
"""

from __future__ import annotations

import os

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components._shared import artifacts
from components._shared.stats_view import default_slice, stat_name

__all__ = ["default_slice", "load_schema", "load_split_statistics", "load_statistics", "num_examples", "stat_name"]


def _read_bytes(path: str) -> bytes:
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def _parse_statistics(path: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    data = _read_bytes(path)
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    if path.endswith((".pbtxt", ".txt")):
        text_format.Parse(data.decode("utf-8"), stats)
        return stats
    try:
        stats.ParseFromString(data)
    except Exception as e:  # DecodeError
        raise ValueError(f"{path} is not a binary DatasetFeatureStatisticsList ({e})") from e
    if not stats.datasets:
        raise ValueError(f"{path} holds no statistics (an empty DatasetFeatureStatisticsList)")
    return stats


def _isfile(path: str) -> bool:
    return tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path)


def resolve_statistics_file(uri: str, split: str = "train") -> str:
    """Path of a FeatureStats.pb given a statistics artifact dir (``<uri>/<split>/``), a dir holding
    ``FeatureStats.pb`` directly, or the file itself (local path or any gfile URI)."""
    if _isfile(uri):
        return uri
    for candidate in (
        os.path.join(uri, split, artifacts.STATS_FILE),
        os.path.join(uri, artifacts.STATS_FILE),
    ):
        if _isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"no statistics at {uri}: expected a statistics artifact with {split}/{artifacts.STATS_FILE}, "
        f"a directory holding {artifacts.STATS_FILE}, or the {artifacts.STATS_FILE} file itself"
    )


def load_statistics(uri: str, split: str = "train") -> statistics_pb2.DatasetFeatureStatisticsList:
    """Load statistics from a statistics artifact dir (its ``split``) or a FeatureStats.pb path."""
    return _parse_statistics(resolve_statistics_file(uri, split))


def load_split_statistics(statistics_dir: str) -> dict[str, statistics_pb2.DatasetFeatureStatisticsList]:
    """Every split (``train``, ``eval``) present in a statistics artifact; at least one must be."""
    stats = {}
    for split in artifacts.SPLITS:
        path = os.path.join(statistics_dir, split, artifacts.STATS_FILE)
        if _isfile(path):
            stats[split] = _parse_statistics(path)
    if not stats:
        raise FileNotFoundError(
            f"no statistics under {statistics_dir}: expected "
            + " and/or ".join(os.path.join(statistics_dir, s, artifacts.STATS_FILE) for s in artifacts.SPLITS)
        )
    return stats


def load_schema(schema_dir: str) -> schema_pb2.Schema:
    """Load ``<schema_dir>/schema.pbtxt`` (or ``schema_dir`` itself when it is the file)."""
    path = schema_dir if _isfile(schema_dir) else os.path.join(schema_dir, artifacts.SCHEMA_FILE)
    if not _isfile(path):
        raise FileNotFoundError(f"no schema at {schema_dir}: expected {path} (a text Schema proto)")
    schema = schema_pb2.Schema()
    try:
        text_format.Parse(_read_bytes(path).decode("utf-8"), schema)
    except text_format.ParseError as e:
        raise ValueError(f"schema {path} is not a valid text Schema proto: {e}") from e
    if not schema.feature:
        raise ValueError(f"schema {path} declares no features")
    return schema


def num_examples(stats: statistics_pb2.DatasetFeatureStatisticsList) -> int:
    """Examples in the unsliced dataset of a statistics list."""
    return int(default_slice(stats).num_examples)
