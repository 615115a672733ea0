"""The statistics and validation reports in a real headless Chromium: pictures, expected SVG, no network request.

Also proves the request observation itself works: a page that loads from a local server is caught.
"""

from __future__ import annotations

import http.server
import os
import re
import threading

import pytest

from tests.reports.browser import render
from tests.testdata.validate_fixtures import (
    LABEL,
    stats_of,
    taxi_frames,
    transactions,
    write_schema_artifact,
    write_stats_artifact,
)

pytestmark = pytest.mark.unit

MAX_BYTES = 1_000_000


@pytest.fixture(scope="module")
def reports(tmp_path_factory, taxi_csv, project_root):
    """Both reports for a failing batch (small frames, with drift, skew and a missing column) and for the
    Chicago taxi sample (the size check)."""
    from components.statistics.report_html import write_html
    from components.validate.logic import validate

    d = tmp_path_factory.mktemp("reports")
    train = transactions(seed=0, n=2000)
    write_schema_artifact(str(d / "schema"), train)
    previous = write_stats_artifact(str(d / "previous"), transactions(seed=5, n=2000), None)
    drifted = transactions(seed=6, n=2000, amount_shift=30.0, channel_p=(0.1, 0.3, 0.6))
    eval_ = transactions(seed=7, n=500).drop(columns=["country"])
    stats = write_stats_artifact(str(d / "stats"), drifted, eval_)
    serving = write_stats_artifact(str(d / "serving"), transactions(seed=8, n=1000).drop(columns=[LABEL]), None)
    write_html({"train": stats_of(drifted), "eval": stats_of(eval_)}, str(d / "statistics.html"))
    result = validate(
        stats,
        str(d / "schema"),
        str(d / "anomalies"),
        str(d / "validation.html"),
        previous_statistics_uri=previous,
        serving_statistics_uri=serving,
        label_key=LABEL,
    )
    assert not result.passed

    taxi_train, taxi_eval = taxi_frames(taxi_csv)
    write_html({"train": stats_of(taxi_train), "eval": stats_of(taxi_eval)}, str(d / "taxi_statistics.html"))
    taxi_stats = write_stats_artifact(str(d / "taxi_stats"), taxi_train, taxi_eval)
    taxi_previous = write_stats_artifact(str(d / "taxi_previous"), taxi_frames(taxi_csv, seed=1)[0], None)
    schema = os.path.join(project_root, "pipelines", "schemas", "taxi.pbtxt")
    validate(taxi_stats, schema, str(d / "taxi_anomalies"), str(d / "taxi_validation.html"),
             previous_statistics_uri=taxi_previous, label_key="tips")  # fmt: skip
    return d


@pytest.mark.parametrize("name", ["statistics", "validation", "taxi_statistics", "taxi_validation"])
def test_report_is_self_contained_and_small(reports, name):
    page = (reports / f"{name}.html").read_text()
    assert len(page.encode()) < MAX_BYTES
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)


def test_statistics_report_renders_pictures_without_network(reports, tmp_path):
    shown = render(reports / "statistics.html", tmp_path)
    assert shown.network_requests == []
    assert shown.non_white_fraction() > 0.03 and shown.coloured_fraction() > 0.01
    dom = shown.dom
    assert dom.count('data-chart="histograms"') == 5  # one per feature: amount, hour, channel, country, label
    assert dom.count('data-chart="bars"') == 1
    for feature in ("amount", "channel", "country", "hour", LABEL):
        assert f"{feature} (" in dom
    # most different first: country is missing from eval
    assert dom.index("country (categorical") < dom.index("hour (numeric")


def test_validation_report_renders_anomalies_first_and_bars_with_thresholds(reports, tmp_path):
    shown = render(reports / "validation.html", tmp_path)
    assert shown.network_requests == []
    assert shown.non_white_fraction() > 0.05 and shown.coloured_fraction() > 0.01
    dom = shown.dom
    assert dom.index("Anomalies (") < dom.index("Drift: current train") < dom.index("Skew: train vs serving")
    # drift and skew: one chart per measure (JSD, L-inf) plus PSI, each with its threshold line
    assert dom.count('data-chart="bars"') == 6
    assert dom.count('class="threshold"') == 6
    assert "SCHEMA_MISSING_COLUMN" in dom and "what to do" in dom
    assert 'data-chart="histograms"' in dom  # the flagged features' distributions


@pytest.mark.parametrize("name", ["taxi_statistics", "taxi_validation"])
def test_sample_data_reports_render(reports, tmp_path, name):
    shown = render(reports / f"{name}.html", tmp_path)
    assert shown.network_requests == []
    assert shown.non_white_fraction() > 0.03
    assert "<svg" in shown.dom


class _Quiet(http.server.SimpleHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802  (http.server's name)
        type(self).hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_request_observation_catches_a_page_that_loads_from_the_network(tmp_path):
    """The control: without it, 'no request seen' could mean 'not looking'."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        page = tmp_path / "leaky.html"
        page.write_text(
            f"<!DOCTYPE html><html><head><link rel='stylesheet' href='{base}/s.css'></head>"
            f"<body><p>leaky</p><img src='{base}/x.png'><script src='{base}/x.js'></script></body></html>"
        )
        shown = render(page, tmp_path / "out")
    finally:
        server.shutdown()
        server.server_close()
    assert {"/s.css", "/x.png", "/x.js"} <= set(_Quiet.hits)
    assert {f"{base}/s.css", f"{base}/x.png", f"{base}/x.js"} <= set(shown.network_requests)
