"""Reading validate's inputs: statistics (artifact dir, its split, or a FeatureStats.pb file) and the schema.

The readers themselves are the shared ones (``components/_shared/artifacts/statistics.py`` and ``schema.py``); this
module names what validate reads, so its errors say which input is wrong.
"""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components._shared.artifacts.schema import read_schema
from components._shared.artifacts.statistics import read_split_statistics, read_statistics
from components._shared.stats_view import default_slice, stat_name

__all__ = ["default_slice", "load_schema", "load_split_statistics", "load_statistics", "num_examples", "stat_name"]


def load_statistics(uri: str, split: str = "train") -> statistics_pb2.DatasetFeatureStatisticsList:
    """Statistics from a statistics artifact dir (its ``split``), a dir holding FeatureStats.pb, or the file."""
    return read_statistics(uri, split)


def load_split_statistics(statistics_dir: str) -> dict[str, statistics_pb2.DatasetFeatureStatisticsList]:
    """Every split (``train``, ``eval``) present in a statistics artifact; at least one must be."""
    return read_split_statistics(statistics_dir)


def load_schema(schema_dir: str) -> schema_pb2.Schema:
    """The schema of a schema artifact, or of the schema file itself."""
    return read_schema(schema_dir)


def num_examples(stats: statistics_pb2.DatasetFeatureStatisticsList) -> int:
    """Examples in the unsliced dataset of a statistics list."""
    return int(default_slice(stats).num_examples)
