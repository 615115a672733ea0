"""The evaluation report in a real headless Chromium, for each task: pictures, the expected charts, no network.

The reports are rendered from evaluation summaries of real evaluate runs (``tests/testdata/evaluation_fixtures.py``
regenerates them); ``tests/unit/test_evaluate.py`` checks the report a live run writes.
"""

from __future__ import annotations

import re

import pytest

from components.evaluate.report_html import render as render_report
from tests.reports.browser import render
from tests.testdata.evaluation_fixtures import load

pytestmark = pytest.mark.unit

MAX_BYTES = 1_000_000


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("evaluation_reports")
    out = {}
    for kind in ("binary", "multiclass", "regression"):
        path = d / f"evaluation_{kind}.html"
        path.write_text(render_report(load(kind)))
        out[kind] = path
    return out


def _self_contained(page: str) -> None:
    assert len(page.encode()) < MAX_BYTES
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)


def test_binary_report_shows_curves_and_both_models(pages, tmp_path):
    _self_contained(pages["binary"].read_text())
    shown = render(pages["binary"], tmp_path)
    assert shown.network_requests == []
    assert shown.non_white_fraction() > 0.05 and shown.coloured_fraction() > 0.01
    dom = shown.dom
    for title in ("ROC", "Precision-recall", "Calibration", "Confusion matrix", "Metrics per slice"):
        assert title in dom, title
    assert dom.count('data-chart="line"') == 3
    # candidate vs baseline: two series per curve, two heat maps, a baseline column in the metrics table
    assert dom.count("<polyline") >= 4 and dom.count('data-chart="heatmap"') == 2 and "<th>baseline</th>" in dom
    # per-slice bars of the thresholded metric (AUC, higher is better) carry the threshold line
    assert 'class="threshold"' in dom and "channel=" in dom


def test_multiclass_report_shows_heat_map_and_per_class_metrics(pages, tmp_path):
    _self_contained(pages["multiclass"].read_text())
    shown = render(pages["multiclass"], tmp_path)
    assert shown.network_requests == []
    assert shown.non_white_fraction() > 0.03 and shown.coloured_fraction() > 0.01
    dom = shown.dom
    assert dom.count('data-chart="heatmap"') == 1 and "Per-class metrics" in dom
    assert dom.count('data-chart="bars"') >= 3  # precision, recall, F1 per class (+ per-slice bars)
    assert "majority class" in dom  # the naive baseline is stated


def test_regression_report_shows_predictions_and_residuals(pages, tmp_path):
    _self_contained(pages["regression"].read_text())
    shown = render(pages["regression"], tmp_path)
    assert shown.network_requests == []
    assert shown.non_white_fraction() > 0.03 and shown.coloured_fraction() > 0.005
    dom = shown.dom
    assert "Predicted vs actual" in dom and "Residuals" in dom and dom.count("<circle") >= 100
    assert "predicting the mean label" in dom
