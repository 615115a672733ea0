"""Statistics of a window of the prediction log: the window's bounds, exact row filtering, the previous window."""

from datetime import UTC, datetime, timedelta

import pytest

from components._shared.artifacts.statistics import has_statistics, read_statistics
from components._shared.stats_view import num_examples
from components.monitor.log_statistics import (
    PREVIOUS,
    WINDOW,
    Span,
    WindowError,
    window_span,
    window_statistics,
)
from tests.unit.monitor.conftest import ROWS, day

pytestmark = pytest.mark.unit


def test_window_span_from_times_or_hours_ending_now():
    s = window_span("2026-11-02T00:00:00Z", "2026-11-03T00:00:00+00:00")
    assert (s.start, s.end, s.hours) == (day(1), day(2), 24.0)
    now = datetime(2026, 11, 27, 6, tzinfo=UTC)
    last = window_span(hours=6, now=now)
    assert (last.start, last.end) == (now - timedelta(hours=6), now)
    assert last.before() == Span(now - timedelta(hours=12), now - timedelta(hours=6))
    assert window_span("2026-11-02T00:00:00", "2026-11-02T01:00:00").start.tzinfo is not None  # naive = UTC
    with pytest.raises(WindowError, match="window_start 'yesterday' is not an ISO-8601 time"):
        window_span("yesterday", "2026-11-03T00:00:00Z")
    with pytest.raises(WindowError, match="the window is empty"):
        window_span("2026-11-03T00:00:00Z", "2026-11-02T00:00:00Z")


def test_window_rows_are_filtered_exactly_and_the_previous_window_comes_from_the_log(monitor_env, out):
    # 06:30 .. 18:45 of day 2 cuts through hour partitions: rows are filtered by their own timestamps
    start, end = day(2) + timedelta(hours=6, minutes=30), day(2) + timedelta(hours=18, minutes=45)
    step = 86_400 / ROWS
    expected = sum(1 for i in range(ROWS) if start <= day(2) + timedelta(seconds=i * step) < end)
    result = window_statistics(monitor_env["log_uri"], monitor_env["model_dir"], out("stats"), start.isoformat(),
                               end.isoformat(), html_path=out("stats.html"))  # fmt: skip
    window = read_statistics(out("stats"), WINDOW)
    assert result.rows == num_examples(window) == expected
    assert result.previous_rows == num_examples(read_statistics(out("stats"), PREVIOUS)) > 0
    names = {f.path.step[0] for f in window.datasets[0].features}
    assert names == set(monitor_env["features"])  # raw features only: no kfx_* meta feature, no label
    with open(out("stats.html")) as f:
        assert "<script" not in f.read()


def test_an_empty_window_says_where_it_looked(monitor_env, out):
    with pytest.raises(WindowError, match="no prediction was logged under .*log between 2026-12-01"):
        window_statistics(monitor_env["log_uri"], monitor_env["model_dir"], out("s"), "2026-12-01", "2026-12-02")


def test_previous_statistics_from_a_uri(monitor_env, out):
    window_statistics(monitor_env["log_uri"], monitor_env["model_dir"], out("day1"), "2026-11-02", "2026-11-03")
    result = window_statistics(monitor_env["log_uri"], monitor_env["model_dir"], out("day3"), "2026-11-04",
                               "2026-11-05", previous_statistics_uri=out("day1"))  # fmt: skip
    assert result.previous_source == out("day1") and result.previous_rows == ROWS
    # nothing logged before day 1 and no URI: no previous split
    first = window_statistics(monitor_env["log_uri"], monitor_env["model_dir"], out("d1"), "2026-11-02", "2026-11-03")
    assert first.previous_rows == 0 and not has_statistics(out("d1"), PREVIOUS)
