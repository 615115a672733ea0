"""The statistics layout (kind ``statistics``): one TFDV ``FeatureStats.pb`` per split, and its reader/writer.

Layout::

    <dir>/<split>/FeatureStats.pb     DatasetFeatureStatisticsList (binary proto), datasets[0].name == split

:func:`read_statistics` also accepts a directory holding ``FeatureStats.pb`` directly or the file itself (for
statistics made elsewhere, e.g. serving logs or a previous run given by URI).
"""

from __future__ import annotations

import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import statistics_pb2

from components._shared.artifacts import register_filesystem

STATS_FILE = "FeatureStats.pb"


def stats_path(statistics_dir: str, split: str) -> str:
    """Where a statistics artifact keeps ``split``'s statistics."""
    return os.path.join(statistics_dir, split, STATS_FILE)


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
        f"no statistics for split {split!r} at {uri}: expected a statistics artifact with {split}/{STATS_FILE}, "
        f"a directory holding {STATS_FILE}, or the {STATS_FILE} file itself"
    )


def has_statistics(statistics_dir: str, split: str) -> bool:
    """True when the statistics artifact holds ``split``'s statistics."""
    register_filesystem(statistics_dir)
    return _isfile(stats_path(statistics_dir, split))


def read_statistics(uri: str, split: str = "train") -> statistics_pb2.DatasetFeatureStatisticsList:
    """Statistics of ``split`` from a statistics artifact dir, or from a ``FeatureStats.pb`` (or its dir) at ``uri``."""
    path = resolve_statistics_file(uri, split)
    with tf.io.gfile.GFile(path, "rb") as f:
        return statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())


def write_statistics(statistics_dir: str, split: str, stats: statistics_pb2.DatasetFeatureStatisticsList) -> str:
    """Write ``split``'s statistics into the artifact; returns the file written."""
    path = stats_path(statistics_dir, split)
    register_filesystem(path)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(stats.SerializeToString())
    return path


__all__ = [
    "STATS_FILE",
    "has_statistics",
    "read_statistics",
    "resolve_statistics_file",
    "stats_path",
    "write_statistics",
]
