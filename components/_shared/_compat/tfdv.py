"""TFDV internals kfx relies on: the in-memory statistics generators behind ``tfdv.generate_statistics_*``.

Checked with tensorflow-data-validation 1.16.1. TFDV's public API computes in-memory statistics only from one
whole DataFrame or RecordBatch (``generate_statistics_from_dataframe`` -> ``stats_impl.generate_statistics_in_memory``);
kfx streams a split through the same combiner generators one RecordBatch at a time, so memory stays bounded. That
needs ``stats_impl.get_generators(options, in_memory=True)`` and ``stats_impl.extract_statistics_output``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import statistics_pb2

CHECKED_VERSION = "1.16.1"
#: Which path the last :func:`streaming_statistics` call took (``tests/unit/compat`` asserts the streaming one).
PATH_STREAMING = "stats_impl.generators"
last_path = ""


class TfdvInternalsError(RuntimeError):
    """TFDV's internal statistics API changed: kfx's streaming statistics must be re-checked against it."""


def _stats_impl():
    try:
        from tensorflow_data_validation.statistics import stats_impl
    except ImportError as e:  # pragma: no cover - only on an incompatible TFDV
        raise TfdvInternalsError(
            f"tensorflow_data_validation.statistics.stats_impl is gone (TFDV {tfdv.__version__}; kfx checked "
            f"{CHECKED_VERSION}): re-check components/_shared/_compat/tfdv.py"
        ) from e
    missing = [n for n in ("get_generators", "extract_statistics_output") if not hasattr(stats_impl, n)]
    if missing:
        raise TfdvInternalsError(
            f"TFDV {tfdv.__version__} has no stats_impl.{', stats_impl.'.join(missing)} (kfx checked "
            f"{CHECKED_VERSION}): re-check components/_shared/_compat/tfdv.py"
        )
    return stats_impl


def streaming_statistics(
    batches: Iterable[pa.RecordBatch], options: tfdv.StatsOptions
) -> tuple[statistics_pb2.DatasetFeatureStatisticsList, int]:
    """TFDV statistics over a stream of RecordBatches (list-typed columns), one batch in memory at a time.

    The same generators and options as ``tfdv.generate_statistics_from_dataframe``; returns the statistics and
    the number of rows fed.
    """
    global last_path
    stats_impl = _stats_impl()
    generators = stats_impl.get_generators(options, in_memory=True)
    accumulators = [g.create_accumulator() for g in generators]
    rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        rows += batch.num_rows
        accumulators = [g.add_input(acc, batch) for g, acc in zip(generators, accumulators, strict=True)]
    stats = stats_impl.extract_statistics_output(accumulators, generators)
    last_path = PATH_STREAMING
    return stats, rows


__all__ = ["CHECKED_VERSION", "PATH_STREAMING", "TfdvInternalsError", "streaming_statistics"]
