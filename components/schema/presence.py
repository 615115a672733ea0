"""Presence from the data: a column that the statistics show can be missing stays optional.

TFDV infers ``presence { min_fraction: 1 }`` and a fixed ``shape { dim { size: 1 } }`` for a column present in every
*train* row; TF Transform then parses it as a ``FixedLenFeature`` and a single eval (or serving) row without it
crashes the parse with a raw TensorFlow error. :func:`optional_in_data` finds such columns in any split's statistics,
and :func:`relax_presence` makes them optional (no fixed shape, ``min_count: 1``): they reach ``preprocessing_fn`` as
``SparseTensor`` s, like every column with missing values.
"""

from __future__ import annotations

from collections.abc import Iterable

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2


def _common_stats(fs: statistics_pb2.FeatureNameStatistics):
    kind = fs.WhichOneof("stats")
    return getattr(fs, kind).common_stats if kind in ("num_stats", "string_stats", "bytes_stats") else None


def _name(fs: statistics_pb2.FeatureNameStatistics) -> str:
    return ".".join(fs.path.step) if fs.path.step else fs.name


def optional_in_data(statistics: Iterable[statistics_pb2.DatasetFeatureStatisticsList]) -> set[str]:
    """Columns that some row of some split lacks (or has with no value), by the statistics of those splits."""
    optional: set[str] = set()
    for stats in statistics:
        for dataset in stats.datasets[:1]:  # the default slice
            for fs in dataset.features:
                common = _common_stats(fs)
                if common is not None and (common.num_missing > 0 or common.min_num_values == 0):
                    optional.add(_name(fs))
    return optional


def requires_presence(feature: schema_pb2.Feature) -> bool:
    """The schema says every row has the feature (a fixed shape, or presence min_fraction 1)."""
    return feature.HasField("shape") or (
        feature.presence.HasField("min_fraction") and feature.presence.min_fraction >= 1.0
    )


def relax_presence(schema: schema_pb2.Schema, optional: set[str]) -> list[str]:
    """Make the features in ``optional`` that the schema requires optional (in place); returns their names."""
    relaxed = []
    for feature in schema.feature:
        if feature.name in optional and requires_presence(feature):
            feature.ClearField("shape")
            feature.presence.ClearField("min_fraction")
            feature.presence.min_count = min(feature.presence.min_count or 1, 1)
            relaxed.append(feature.name)
    return sorted(relaxed)
