"""components/_shared/report.py: self-contained, escaped, bounded HTML/SVG fragments."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from components._shared import report as r

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"


def _svg(fragment: str) -> ET.Element:
    """Each chart is a well-formed SVG document on its own (parsing fails on bad escaping)."""
    root = ET.fromstring(fragment)
    assert root.tag == f"{SVG}svg"
    return root


def test_page_is_self_contained_and_escapes_title():
    html = r.page("a <b> & 'c'", [r.section("S <1>", r.muted("x < y"))], subtitle="sub & title")
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>a &lt;b&gt; &amp; &#x27;c&#x27;</title>" in html
    assert "S &lt;1&gt;" in html and "x &lt; y" in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", html)


def test_bars_threshold_line_and_colours():
    svg = r.bars([("fare", 0.3), ("tips", 0.02), ("<evil>", float("nan"))], threshold=0.1, value_label="L-inf")
    root = _svg(svg)
    assert root.get("data-chart") == "bars"
    rects = root.findall(f"{SVG}rect")
    assert [x.get("fill") for x in rects] == [r.BAD, r.OK, r.OK]
    threshold = [x for x in root.iter(f"{SVG}line") if x.get("class") == "threshold"]
    assert len(threshold) == 1
    # the threshold line sits at 0.1 of the same scale as the bars: between the 0.02 and the 0.3 bar ends
    tx = float(threshold[0].get("x1"))
    ends = [float(x.get("x")) + float(x.get("width")) for x in rects[:2]]
    assert ends[1] < tx < ends[0]
    assert "&lt;evil&gt;" in svg


def test_bars_item_thresholds_and_cap():
    items = [(f"f{i}", i / 100, 0.5) for i in range(100)]
    root = _svg(r.bars(items, max_bars=10))
    assert len(root.findall(f"{SVG}rect")) == 10
    assert "90 more not shown" in ET.tostring(root, encoding="unicode")


def test_histograms_side_by_side_one_bar_per_series_and_category():
    root = _svg(r.histograms_side_by_side(["a", "b", "c"], {"train": [0.5, 0.3, 0.2], "eval": [0.2, 0.3, 0.5]}))
    assert root.get("data-chart") == "histograms"
    data_bars = [x for x in root.findall(f"{SVG}rect") if x.find(f"{SVG}title") is not None]
    assert len(data_bars) == 6
    assert {x.get("fill") for x in data_bars} == {r.PALETTE[0], r.PALETTE[1]}
    # the tallest bars are the 0.5 shares
    heights = sorted(float(x.get("height")) for x in data_bars)
    assert heights[-1] == heights[-2] > heights[0]


def test_histograms_cap_categories():
    cats = [str(i) for i in range(200)]
    svg = r.histograms_side_by_side(cats, {"train": [1.0] * 200})
    root = _svg(svg)
    assert len([x for x in root.findall(f"{SVG}rect") if x.find(f"{SVG}title") is not None]) == r.MAX_CATEGORIES
    assert "+170 more" in svg


def test_line_chart_downsamples_and_draws_diagonal():
    pts = [(i / 999, math.sqrt(i / 999)) for i in range(1000)]
    root = _svg(r.line_chart({"candidate": pts, "baseline": pts[:10]}, "FPR", "TPR", x_range=(0, 1), diagonal=True))
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert len(lines[0].get("points").split()) == r.MAX_POINTS
    assert any(x.get("stroke-dasharray") for x in root.findall(f"{SVG}line"))


def test_heatmap_values_and_intensity():
    root = _svg(r.heatmap([[50, 2], [3, 45]], ["no", "yes"], x_label="predicted", y_label="actual"))
    cells = [x for x in root.findall(f"{SVG}rect") if x.find(f"{SVG}title") is not None]
    assert len(cells) == 4
    assert cells[0].get("fill") != cells[1].get("fill")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "50" in texts and "45" in texts


def test_table_formats_caps_and_escapes():
    rows = [["<a>", 1234, 0.123456, None]] * 5
    html = r.table(rows, ["name", "n", "x", "empty"], row_classes=["bad"], max_rows=3)
    assert html.count("<tr") == 1 + 3 + 1
    assert "&lt;a&gt;" in html and "1,234" in html and "0.1235" in html
    assert "2 more rows" in html and "class='bad'" in html


def test_fmt():
    assert r.fmt(None) == "" and r.fmt(float("nan")) == ""
    assert r.fmt(3) == "3" and r.fmt(1234567.0) == "1,234,567" and r.fmt(0.000123456) == "0.0001235"


def test_a_large_report_stays_small():
    sections = [
        r.section(
            f"feature {i}",
            r.row(r.histograms_side_by_side([str(j) for j in range(100)], {"train": [1.0] * 100, "eval": [0.5] * 100})),
        )
        for i in range(50)
    ]
    html = r.page("big", sections)
    assert len(html.encode()) < 1_000_000
