"""The statistics layout (kind ``statistics``): one TFDV ``FeatureStats.pb`` per split, and its reader/writer.

Layout::

    <dir>/<split>/FeatureStats.pb     DatasetFeatureStatisticsList (binary proto), datasets[0].name == split
    <dir>/_staging/                   a distributed runner's scratch output, removed once the statistics are written

:func:`read_statistics` also accepts a directory holding ``FeatureStats.pb`` directly or the file itself (for
statistics made elsewhere, e.g. serving logs or a previous run given by URI; a ``.pbtxt``/``.txt`` file is read as
text format). Every reader of statistics in kfx (statistics, schema, validate, transform, benchmarks, tests) goes
through this module; errors name the file and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import statistics_pb2

from components._shared.artifacts import SPLITS, register_filesystem

STATS_FILE = "FeatureStats.pb"
STAGING_DIR = "_staging"  # Beam's output when the runner is distributed (removed after the run)


def stats_path(statistics_dir: str, split: str) -> str:
    """Where a statistics artifact keeps ``split``'s statistics."""
    return os.path.join(statistics_dir, split, STATS_FILE)


def staging_dir(statistics_dir: str) -> str:
    """Scratch space for a distributed runner's output inside the artifact (remote workers can't see local disk)."""
    return os.path.join(statistics_dir, STAGING_DIR)


def _isfile(path: str) -> bool:
    return tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path)


def resolve_statistics_file(uri: str, split: str = "train") -> str:
    """The ``FeatureStats.pb`` of ``uri``: a statistics artifact (its ``split``), a dir holding the file, the file."""
    register_filesystem(uri)
    if _isfile(uri):
        return uri
    for candidate in (stats_path(uri, split), os.path.join(uri, STATS_FILE)):
        if _isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"no statistics at {uri} (split {split!r}): expected a statistics artifact with {split}/{STATS_FILE}, "
        f"a directory holding {STATS_FILE}, or the {STATS_FILE} file itself"
    )


def has_statistics(statistics_dir: str, split: str) -> bool:
    """True when the statistics artifact holds ``split``'s statistics."""
    if not statistics_dir:
        return False
    register_filesystem(statistics_dir)
    return _isfile(stats_path(statistics_dir, split))


def parse_statistics_file(path: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    """One statistics file (binary proto; text format for ``.pbtxt``/``.txt``); a ValueError when it is not one."""
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
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


def read_statistics(uri: str, split: str = "train") -> statistics_pb2.DatasetFeatureStatisticsList:
    """Statistics of ``split`` from a statistics artifact dir, or from a ``FeatureStats.pb`` (or its dir) at ``uri``."""
    return parse_statistics_file(resolve_statistics_file(uri, split))


def read_split_statistics(
    statistics_dir: str, splits: Iterable[str] = SPLITS
) -> dict[str, statistics_pb2.DatasetFeatureStatisticsList]:
    """Every one of ``splits`` a statistics artifact holds; a FileNotFoundError naming the files when it holds none."""
    splits = list(splits)
    out = {s: parse_statistics_file(stats_path(statistics_dir, s)) for s in splits if has_statistics(statistics_dir, s)}
    if not out:
        raise FileNotFoundError(
            f"no statistics under {statistics_dir}: expected "
            + " and/or ".join(stats_path(statistics_dir, s) for s in splits)
        )
    return out


def write_statistics(statistics_dir: str, split: str, stats: statistics_pb2.DatasetFeatureStatisticsList) -> str:
    """Write ``split``'s statistics into the artifact; returns the file written."""
    path = stats_path(statistics_dir, split)
    register_filesystem(path)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(stats.SerializeToString())
    return path


__all__ = [
    "STAGING_DIR",
    "STATS_FILE",
    "has_statistics",
    "parse_statistics_file",
    "read_split_statistics",
    "read_statistics",
    "resolve_statistics_file",
    "staging_dir",
    "stats_path",
    "write_statistics",
]
