"""TFDV statistics of a window of the prediction log, and of the window before it (for drift).

The window is ``[start, end)`` in UTC. Given as ISO-8601 times, or (``end`` empty) the ``hours`` ending now, which is
what a recurring run on a cron wants. The previous window is the same length, ending where this one starts: its
statistics come from the same log, so a scheduled run needs no state from the run before (a ``previous`` statistics
URI, e.g. an earlier run's output or a reference set, replaces it).

Rows are decoded by tfx-bsl's C++ decoder with the types of the model's training schema (the raw features, without
the label, which the log never holds), filtered to the window by ``kfx_timestamp_us``, the ``kfx_*`` meta features
dropped, and fed to the same in-memory TFDV core as the statistics step
(``components.statistics.logic.statistics_from_batches``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components._shared.artifacts import prediction_log as plog
from components._shared.artifacts.examples import decode_batches
from components._shared.artifacts.statistics import write_statistics
from components._shared.log import get_logger
from components._shared.stats_view import num_examples

log = get_logger("monitor")

WINDOW = "window"  # the split names of the monitoring statistics artifact
PREVIOUS = "previous"
CHUNK_ROWS = 50_000


class WindowError(ValueError):
    """The window is malformed, or holds no logged prediction."""


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def before(self) -> Span:
        """The window of the same length ending where this one starts."""
        return Span(self.start - (self.end - self.start), self.start)

    def as_dict(self) -> dict[str, str]:
        return {"start": iso(self.start), "end": iso(self.end)}


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, what: str) -> datetime:
    """An ISO-8601 time (``Z`` or an offset; naive = UTC); a WindowError naming ``what`` when it isn't one."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise WindowError(f"{what} {text!r} is not an ISO-8601 time (e.g. 2026-11-27T00:00:00Z)") from e
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def window_span(start: str = "", end: str = "", hours: float = 24.0, now: datetime | None = None) -> Span:
    """``[start, end)``; ``end`` empty = now; ``start`` empty = ``hours`` before ``end``."""
    t_end = parse_time(end, "window_end") if end else (now or datetime.now(UTC))
    if start:
        t_start = parse_time(start, "window_start")
    else:
        if not hours > 0:
            raise WindowError(f"window_hours must be > 0 when window_start is not given (got {hours})")
        t_start = t_end - timedelta(hours=hours)
    if t_start >= t_end:
        raise WindowError(f"the window is empty: window_start {iso(t_start)} is not before window_end {iso(t_end)}")
    return Span(t_start, t_end)


def decoding_schema(schema: schema_pb2.Schema | None, label_key: str) -> schema_pb2.Schema | None:
    """The features to decode: the training schema's, without the label, plus the timestamp (for the filter)."""
    if schema is None:
        return None
    out = schema_pb2.Schema()
    for f in schema.feature:
        if f.name != label_key:
            out.feature.add().CopyFrom(copy.deepcopy(f))
    out.feature.add(name=plog.TIMESTAMP, type=schema_pb2.INT)
    return out


def window_batches(log_uri: str, span: Span, schema: schema_pb2.Schema | None) -> Iterator[pa.RecordBatch]:
    """The window's rows as list-typed RecordBatches without the meta features."""
    lo, hi = int(span.start.timestamp() * 1e6), int(span.end.timestamp() * 1e6)
    files = plog.window_files(log_uri, span.start, span.end)
    for batch in decode_batches(files, schema, CHUNK_ROWS):
        ts = pc.list_element(batch.column(batch.schema.get_field_index(plog.TIMESTAMP)), 0)
        keep = pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi))
        batch = batch.filter(pc.fill_null(keep, False))
        names = [n for n in batch.schema.names if n not in plog.META]
        if batch.num_rows:
            yield pa.RecordBatch.from_arrays([batch.column(n) for n in names], names=names)


def span_statistics(
    log_uri: str, span: Span, schema: schema_pb2.Schema | None, name: str
) -> statistics_pb2.DatasetFeatureStatisticsList | None:
    """TFDV statistics of the rows logged in ``span`` (None when there are none)."""
    from components.statistics.logic import statistics_from_batches, stats_options

    stats, rows = statistics_from_batches(window_batches(log_uri, span, schema), stats_options())
    if rows == 0:
        return None
    stats.datasets[0].name = name
    return stats


def read_previous(uri: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Statistics given as the previous window: a monitoring statistics artifact (its ``window``), a statistics
    artifact (its ``train`` split), a folder holding ``FeatureStats.pb``, or the file."""
    from components._shared.artifacts.statistics import has_statistics, read_statistics

    return read_statistics(uri, WINDOW if has_statistics(uri, WINDOW) else "train")


@dataclass
class WindowStatistics:
    span: Span
    rows: int
    previous_rows: int  # 0: no previous statistics (nothing logged then, and no URI given)
    previous_source: str


def compute_window_statistics(
    log_uri: str,
    output_dir: str,
    span: Span,
    schema: schema_pb2.Schema | None = None,
    label_key: str = "",
    previous_statistics_uri: str = "",
) -> WindowStatistics:
    """Write ``<output_dir>/window/`` and (when there is one) ``<output_dir>/previous/`` statistics."""
    from components._shared.artifacts import register_filesystem

    register_filesystem(log_uri)
    decode = decoding_schema(schema, label_key)
    current = span_statistics(log_uri, span, decode, WINDOW)
    if current is None:
        raise WindowError(
            f"no prediction was logged under {log_uri} between {iso(span.start)} and {iso(span.end)}: check "
            "log_uri (the model server's --prediction-log) and the window"
        )
    write_statistics(output_dir, WINDOW, current)
    if previous_statistics_uri:
        previous, source = read_previous(previous_statistics_uri), previous_statistics_uri
    else:
        before = span.before()
        previous, source = (
            span_statistics(log_uri, before, decode, PREVIOUS),
            f"log {iso(before.start)}..{iso(before.end)}",
        )
    if previous is not None:
        write_statistics(output_dir, PREVIOUS, previous)
    result = WindowStatistics(span, num_examples(current), num_examples(previous) if previous else 0, source)
    log.info("window %s..%s: %d rows; previous (%s): %d rows", *span.as_dict().values(), result.rows, source,
             result.previous_rows)  # fmt: skip
    return result


def window_statistics(
    log_uri: str,
    model_dir: str,
    output_dir: str,
    window_start: str = "",
    window_end: str = "",
    window_hours: float = 24.0,
    previous_statistics_uri: str = "",
    html_path: str | None = None,
) -> WindowStatistics:
    """The monitoring statistics step: resolve the window, decode it with the model's training schema, write the
    ``window`` and ``previous`` statistics (and the statistics report comparing them at ``html_path``)."""
    from components._shared.artifacts.statistics import read_split_statistics
    from components.monitor.served import read_evidence

    evidence = read_evidence(model_dir)
    span = window_span(window_start, window_end, window_hours)
    result = compute_window_statistics(log_uri, output_dir, span, evidence.schema, evidence.label_key,
                                       previous_statistics_uri)  # fmt: skip
    if html_path:
        from components.statistics.report_html import write_html

        write_html(read_split_statistics(output_dir, (WINDOW, PREVIOUS)), html_path)
    return result
