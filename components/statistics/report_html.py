"""The statistics report: a self-contained HTML page (inline SVG, no scripts) comparing splits feature by feature.

Replaces TFDV's facets view, which loads scripts from public CDNs and relies on HTML Imports (gone from Chromium
since 2019), so it showed only a heading offline, in the KFP UI's iframe and in headless Chromium. Per feature:
train vs eval (vs serving/previous when given) side by side (histogram or top values), missing %, mean/std/min/max
(numeric) or unique values (categorical); features sorted by how much the datasets differ.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from tensorflow_metadata.proto.v0 import statistics_pb2

from components._shared import report as r
from components._shared.stats_view import FeatureView, default_slice, feature_views

#: Features drawn one by one (the overview table lists them all).
MAX_FEATURE_CARDS = 80

DIFFERENCE_NOTE = (
    "difference = the largest gap between the first dataset and another one in the share of rows in any bucket "
    "or category, or in the share of missing values (0 = identical, 1 = disjoint)."
)


def _pct(x: float) -> str:
    if 0 < x < 0.001:
        return "<0.1%"
    if 0.999 < x < 1:
        return ">99.9%"
    return f"{100 * x:.1f}%"


def summary_table(view: FeatureView) -> str:
    """Per dataset: missing %, and mean/std/min/max (numeric) or unique values (categorical)."""
    names = list(view.missing)
    if view.kind == "numeric":
        header = ["dataset", "missing", "mean", "std", "min", "max"]
        keys = ("mean", "std", "min", "max")
    else:
        header = ["dataset", "missing", "unique"]
        keys = ("unique",)
    rows = []
    for name in names:
        s = view.summary.get(name, {})
        rows.append([name, _pct(view.missing[name]), *[s.get(k) for k in keys]])
    return r.table(rows, header)


def feature_card(view: FeatureView, note: str = "") -> str:
    """One feature: its distributions side by side, and the summary table."""
    chart = (
        r.histograms_side_by_side(
            view.categories,
            view.shares,
            title=f"{view.name}: {view.binning or 'histogram'}"
            if view.kind == "numeric"
            else f"{view.name}: top values",
        )
        if view.categories
        else r.muted("no distribution to draw")
    )
    heading = f"{view.name} ({view.kind}, difference {r.fmt(view.difference, 3)})"
    return (
        f"<div class='card'><h3>{r.esc(heading)}</h3>"
        + (r.muted(note) if note else "")
        + r.row(chart, summary_table(view))
        + "</div>"
    )


def _overview(views: list[FeatureView], names: list[str]) -> str:
    header = ["feature", "type", *[f"missing ({n})" for n in names], "difference"]
    rows = [[v.name, v.kind, *[_pct(v.missing.get(n, 1.0)) for n in names], v.difference] for v in views]
    classes = ["warn" if v.difference > 0.1 else "" for v in views]
    return r.table(rows, header, row_classes=classes)


def render(datasets: Mapping[str, statistics_pb2.DatasetFeatureStatisticsList], title: str = "Statistics") -> str:
    """The page for ``datasets`` (name -> statistics; the first is the reference, e.g. train)."""
    names = list(datasets)
    views = feature_views(datasets)
    sizes = [[n, int(default_slice(s).num_examples), len(default_slice(s).features)] for n, s in datasets.items()]
    sections = [
        r.section("Datasets", r.table(sizes, ["dataset", "examples", "features"])),
        r.section(
            "Features by difference",
            r.bars(
                [(v.name, v.difference) for v in views],
                title="difference between datasets",
                value_label="max share gap",
            ),
            _overview(views, names),
            note=DIFFERENCE_NOTE,
        ),
        r.section(
            "Each feature",
            *[feature_card(v) for v in views[:MAX_FEATURE_CARDS]],
            note=f"{len(views) - MAX_FEATURE_CARDS} more features are listed above only"
            if len(views) > MAX_FEATURE_CARDS
            else "",
        ),
        r.muted(f"Generated {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M:%S} UTC by kfx statistics."),
    ]
    return r.page(f"{title}: {' vs '.join(names)}", sections, subtitle="features sorted by how much they differ")


def write_html(results: Mapping[str, statistics_pb2.DatasetFeatureStatisticsList], html_path: str) -> None:
    """Write :func:`render` of ``results`` (split -> statistics; train first when present) to ``html_path``."""
    from components._shared.artifacts import write_text

    ordered = dict(sorted(results.items(), key=lambda kv: {"train": 0, "eval": 1}.get(kv[0], 2)))
    page = render(ordered)
    write_text(html_path, page)
