"""Self-contained HTML reports: inline-SVG charts, tables and the page shell every kfx HTML artifact uses.

A report must render offline, in the KFP UI's sandboxed iframe and in headless Chromium, so everything here is
plain HTML + inline CSS + inline SVG: no scripts, no external styles, fonts or images, no network at all.

Every function is pure and returns a string of HTML (a *fragment*), with all text HTML-escaped. Sizes are bounded
(bars, categories, points, cells and table rows are capped, the rest summarised as "… N more"), so a report of a
wide table stays small. Compose fragments and hand them to :func:`page`::

    from components._shared import report as r

    html = r.page(
        "Data validation",
        [
            r.banner("2 anomalies", ok=False),
            r.section("Drift", r.bars([("fare", 0.31), ("tips", 0.02)], threshold=0.1, value_label="L-inf")),
            r.section("fare", r.row(r.histograms_side_by_side(["0-5", "5-10"], {"train": [0.4, 0.6],
                                                                                 "eval": [0.5, 0.5]}))),
        ],
    )

Charts carry ``class="kfx-chart kfx-<kind>"`` and ``data-chart="<kind>"`` on their ``<svg>`` so tests can find
them in the DOM (kinds: ``bars``, ``histograms``, ``line``, ``heatmap``).
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "MAX_BARS",
    "MAX_CATEGORIES",
    "MAX_HEATMAP",
    "MAX_POINTS",
    "MAX_TABLE_ROWS",
    "PALETTE",
    "banner",
    "bars",
    "esc",
    "fmt",
    "heatmap",
    "histograms_side_by_side",
    "line_chart",
    "muted",
    "page",
    "row",
    "section",
    "table",
]

#: Caps that keep any report small whatever the data.
MAX_BARS = 60
MAX_CATEGORIES = 30
MAX_POINTS = 250
MAX_HEATMAP = 30
MAX_TABLE_ROWS = 400
MAX_LABEL = 28

#: Series colours (colour-blind friendly, Okabe-Ito order): first series blue, second orange, ...
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
BAD = "#C5221F"
OK = "#1A73E8"
THRESHOLD = "#202124"

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:16px;color:#202124;
background:#fff;max-width:1400px}
h1{font-size:20px;margin:0 0 8px 0}h2{font-size:16px;margin:22px 0 6px 0}h3{font-size:14px;margin:12px 0 4px 0}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;margin:8px 0 12px 0;white-space:pre-wrap}
.pass{background:#e6f4ea;color:#137333}.fail{background:#fce8e6;color:#a50e0e}.warn{background:#fef7e0;color:#8a5a00}
table{border-collapse:collapse;margin:6px 0 12px 0;font-size:13px}
th,td{border:1px solid #dadce0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fce8e6}tr.warn td{background:#fef7e0}code{background:#f1f3f4;padding:1px 4px;border-radius:3px}
.muted{color:#5f6368;font-size:12px}.row{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.card{border:1px solid #dadce0;border-radius:6px;padding:8px 10px;margin:8px 0}
svg.kfx-chart{font-size:11px;overflow:visible;vertical-align:top;margin:2px 8px 6px 0}svg.kfx-chart text{fill:#202124}
"""


# --------------------------------------------------------------------------------------------- text


def esc(x: object) -> str:
    """HTML-escape ``str(x)`` (quotes included, so it is safe in attributes too)."""
    return _html.escape(str(x), quote=True)


def fmt(x: float | int | None, digits: int = 4) -> str:
    """A number for people: ``None``/NaN -> "", integers with thousands separators, else ``digits`` significant."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if not math.isfinite(x):
        return "" if math.isnan(x) else ("∞" if x > 0 else "-∞")
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.{digits}g}"


def _short(label: object, limit: int = MAX_LABEL) -> str:
    text = str(label)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finite(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def _text(x: float, y: float, label: object, anchor: str = "start", extra: str = "", limit: int = MAX_LABEL) -> str:
    """An SVG <text> with the label shortened to ``limit`` characters and the full label as its tooltip."""
    full, short = str(label), _short(label, limit)
    title = f"<title>{esc(full)}</title>" if short != full else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{title}{esc(short)}</text>'


# --------------------------------------------------------------------------------------------- page parts


def page(title: str, sections: Iterable[str], subtitle: str = "") -> str:
    """A complete HTML document: ``title`` as <title> and <h1>, then the fragments in order. Inline CSS only."""
    head = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n<h1>{esc(title)}</h1>\n"
    )
    sub = f"<p class='muted'>{esc(subtitle)}</p>\n" if subtitle else ""
    return head + sub + "\n".join(sections) + "\n</body></html>\n"


def section(heading: str, *parts: str, note: str = "") -> str:
    """An <h2> heading followed by fragments and an optional muted note (plain text, escaped)."""
    return f"<section><h2>{esc(heading)}</h2>\n" + "\n".join(parts) + (muted(note) if note else "") + "</section>"


def banner(text: str, ok: bool | None) -> str:
    """A coloured status line: green when ``ok``, red when not, amber when ``None`` (a warning)."""
    cls = "pass" if ok else ("warn" if ok is None else "fail")
    return f"<div class='banner {cls}'>{esc(text)}</div>"


def muted(text: str) -> str:
    """A small grey paragraph (plain text, escaped)."""
    return f"<p class='muted'>{esc(text)}</p>"


def row(*parts: str) -> str:
    """Fragments side by side (wrapping onto the next line when the window is narrow)."""
    return "<div class='row'>" + "".join(f"<div>{p}</div>" for p in parts) + "</div>"


def table(
    rows: Sequence[Sequence[object]],
    header: Sequence[str],
    row_classes: Sequence[str] | None = None,
    max_rows: int = MAX_TABLE_ROWS,
    html_columns: Sequence[int] = (),
) -> str:
    """A table; numbers are right-aligned and formatted with :func:`fmt`.

    Args:
      rows: the cells, one sequence per row; ``None`` shows as an empty cell.
      header: column names.
      row_classes: optional CSS class per row (``"bad"``, ``"warn"`` or ``""``).
      max_rows: rows beyond this are summarised in a last row.
      html_columns: indexes of columns whose cells are trusted HTML fragments (e.g. a chart), not text.
    """
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for i, cells in enumerate(rows[:max_rows]):
        cls = row_classes[i] if row_classes and i < len(row_classes) and row_classes[i] else ""
        tds = []
        for j, c in enumerate(cells):
            if j in html_columns:
                tds.append(f"<td>{c}</td>")
            elif isinstance(c, int | float) and not isinstance(c, bool):
                tds.append(f"<td class='num'>{esc(fmt(c))}</td>")
            else:
                tds.append(f"<td>{esc('' if c is None else c)}</td>")
        out.append(f"<tr class='{cls}'>" + "".join(tds) + "</tr>" if cls else "<tr>" + "".join(tds) + "</tr>")
    if len(rows) > max_rows:
        out.append(f"<tr><td colspan='{len(header)}' class='muted'>… {len(rows) - max_rows:,} more rows</td></tr>")
    out.append("</table>")
    return "".join(out)


def _svg(kind: str, width: int, height: int, body: list[str], title: str = "") -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kfx-chart kfx-{kind}" data-chart="{kind}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"'
        + (f' aria-label="{esc(title)}"' if title else "")
        + ">"
    )
    caption = _text(width / 2, 13, title, "middle", ' font-weight="600"', limit=max(12, width // 7)) if title else ""
    return head + caption + "".join(body) + "</svg>"


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        cx = x + i * 110
        out.append(f'<rect x="{cx:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(_text(cx + 14, y, _short(name, 14)))
    return out


# --------------------------------------------------------------------------------------------- charts


def bars(
    items: Sequence[tuple[str, float] | tuple[str, float, float | None]],
    threshold: float | None = None,
    title: str = "",
    value_label: str = "",
    width: int = 560,
    max_bars: int = MAX_BARS,
    higher_is_better: bool = False,
) -> str:
    """Horizontal bars, one per ``(label, value[, item threshold])``, with a dashed threshold line.

    A bar on the wrong side of its threshold (the item's own, else ``threshold``) is red, others blue: above it
    for distances (drift, skew, PSI), below it with ``higher_is_better`` (metrics such as AUC or accuracy). An item threshold is drawn
    as a short tick on its bar; ``threshold`` as one dashed line across all bars. Items beyond ``max_bars`` are
    dropped with a note (sort the items first: most important on top).
    """
    shown = list(items[:max_bars])
    lefts, bar_h, gap = 170, 14, 5
    top = (24 if title else 8) + (14 if threshold is not None else 0)
    plot_w = width - lefts - 60
    values = [_finite(it[1]) for it in shown]
    limits = [_finite(it[2]) for it in shown if len(it) > 2 and it[2] is not None]  # type: ignore[misc]
    vmax = max([*values, *limits, _finite(threshold) if threshold is not None else 0.0, 1e-12])
    vmax *= 1.08
    height = top + len(shown) * (bar_h + gap) + 34 + (14 if len(items) > max_bars else 0)

    def x(v: float) -> float:
        return lefts + max(0.0, v) / vmax * plot_w

    body = []
    for i, it in enumerate(shown):
        y = top + i * (bar_h + gap)
        v = values[i]
        limit = it[2] if len(it) > 2 else None  # type: ignore[misc]
        limit = threshold if limit is None else limit
        over = limit is not None and (v < _finite(limit) if higher_is_better else v > _finite(limit))
        body.append(_text(lefts - 6, y + bar_h - 3, it[0], "end"))
        body.append(
            f'<rect x="{lefts}" y="{y}" width="{max(1.0, x(v) - lefts):.1f}" height="{bar_h}" '
            f'fill="{BAD if over else OK}"><title>{esc(it[0])}: {esc(fmt(v))}</title></rect>'
        )
        body.append(_text(x(v) + 4, y + bar_h - 3, fmt(v)))
        if len(it) > 2 and it[2] is not None and it[2] != threshold:  # type: ignore[misc]
            tx = x(_finite(it[2]))  # type: ignore[misc]
            body.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 2}" y2="{y + bar_h + 2}" stroke="{THRESHOLD}" stroke-width="2"/>'
            )
    axis_y = top + len(shown) * (bar_h + gap)
    body.append(f'<line x1="{lefts}" x2="{lefts + plot_w}" y1="{axis_y}" y2="{axis_y}" stroke="#9aa0a6"/>')
    body.append(_text(lefts, axis_y + 13, "0", "middle"))
    body.append(_text(lefts + plot_w, axis_y + 13, fmt(vmax), "middle"))
    if value_label:
        body.append(_text(lefts + plot_w / 2, axis_y + 26, value_label, "middle", limit=80))
    if threshold is not None:
        tx = x(_finite(threshold))
        body.append(
            f'<line class="threshold" x1="{tx:.1f}" x2="{tx:.1f}" y1="{top - 4}" y2="{axis_y}" stroke="{THRESHOLD}" '
            f'stroke-width="1.5" stroke-dasharray="5,3"><title>threshold {esc(fmt(threshold))}</title></line>'
        )
        body.append(_text(tx + 3, top - 6, f"threshold {fmt(threshold)}"))
    if len(items) > max_bars:
        body.append(_text(lefts, height - 4, f"… {len(items) - max_bars:,} more not shown"))
    return _svg("bars", width, height, body, title)


def histograms_side_by_side(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str = "",
    y_label: str = "share of rows",
    width: int = 360,
    height: int = 190,
    max_categories: int = MAX_CATEGORIES,
) -> str:
    """Grouped vertical bars: per category (bucket or value), one bar per series (e.g. train, eval) side by side.

    ``series`` maps a name to one value per category (normalise to shares first when the sizes differ).
    Categories beyond ``max_categories`` are dropped with a note; pass them most frequent first.
    """
    cats = list(categories[:max_categories])
    names = list(series)
    top, left, bottom = 22 if title else 8, 46, 46
    plot_w, plot_h = width - left - 8, height - top - bottom - 14
    vmax = max([_finite(v) for vs in series.values() for v in list(vs)[: len(cats)]] + [1e-12]) * 1.05
    group_w = plot_w / max(1, len(cats))
    bar_w = max(1.0, (group_w * 0.8) / max(1, len(names)))
    body = [
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#9aa0a6"/>',
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#9aa0a6"/>',
        _text(left - 3, top + 8, fmt(vmax, 2), "end"),
        _text(left - 3, top + plot_h, "0", "end"),
        _text(8, top + plot_h / 2, y_label, "middle", f' transform="rotate(-90 8 {top + plot_h / 2:.1f})"'),
    ]
    for s, name in enumerate(names):
        values = list(series[name])
        color = PALETTE[s % len(PALETTE)]
        for c, cat in enumerate(cats):
            v = _finite(values[c]) if c < len(values) else 0.0
            h = v / vmax * plot_h
            bx = left + c * group_w + group_w * 0.1 + s * bar_w
            body.append(
                f'<rect x="{bx:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{esc(name)} · {esc(cat)}: {esc(fmt(v))}</title></rect>"
            )
    step = max(1, math.ceil(len(cats) / 8))
    for c in range(0, len(cats), step):
        cx = left + c * group_w + group_w / 2
        body.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 10:.1f}" text-anchor="end" '
            f'transform="rotate(-30 {cx:.1f} {top + plot_h + 10:.1f})"><title>{esc(cats[c])}</title>'
            f"{esc(_short(cats[c], 12))}</text>"
        )
    body += _legend(names, left, height - 4)
    if len(categories) > max_categories:
        body.append(_text(width - 4, height - 4, f"+{len(categories) - max_categories:,} more", "end"))
    return _svg("histograms", width, height, body, title)


def _downsample(points: Sequence[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    pts = [(_finite(x), _finite(y)) for x, y in points]
    if len(pts) <= limit:
        return pts
    step = (len(pts) - 1) / (limit - 1)
    return [pts[round(i * step)] for i in range(limit)]


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    x_label: str,
    y_label: str,
    title: str = "",
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    diagonal: bool = False,
    markers: bool = False,
    width: int = 360,
    height: int = 300,
    max_points: int = MAX_POINTS,
    h_lines: Sequence[tuple[float, str]] = (),
    v_lines: Sequence[tuple[float, str, str]] = (),
    dashed: Sequence[str] = (),
) -> str:
    """Lines (e.g. ROC or precision-recall curves, calibration): ``series`` maps a name to ``(x, y)`` points.

    Ranges default to the data's; ``diagonal`` draws the dashed y = x reference (ROC chance line, perfect
    calibration); ``markers`` draws the points too (useful for few points, e.g. a residual plot).
    Each series is evenly downsampled to ``max_points``. Guides: ``h_lines`` ``(y, label)`` (e.g. a threshold),
    ``v_lines`` ``(x, label, colour)`` (e.g. events); ``dashed`` names series drawn dashed (e.g. estimates).
    """
    data = {name: _downsample(pts, max_points) for name, pts in series.items()}
    xs = [p[0] for pts in data.values() for p in pts] or [0.0, 1.0]
    ys = [p[1] for pts in data.values() for p in pts] or [0.0, 1.0]
    x0, x1 = x_range or (min(xs), max(xs))
    y0, y1 = y_range or (min(ys), max(ys))
    x1, y1 = (x1 if x1 > x0 else x0 + 1.0), (y1 if y1 > y0 else y0 + 1.0)
    top, left, bottom, right = 22 if title else 8, 46, 44, 10
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    body = [
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#9aa0a6"/>',
        _text(left, top + ph + 13, fmt(x0, 3), "middle"),
        _text(left + pw, top + ph + 13, fmt(x1, 3), "middle"),
        _text(left - 3, top + ph, fmt(y0, 3), "end"),
        _text(left - 3, top + 9, fmt(y1, 3), "end"),
        _text(left + pw / 2, top + ph + 26, x_label, "middle", limit=60),
        _text(10, top + ph / 2, y_label, "middle", f' transform="rotate(-90 10 {top + ph / 2:.1f})"', limit=40),
    ]
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        body.append(
            f'<line x1="{px(lo):.1f}" y1="{py(lo):.1f}" x2="{px(hi):.1f}" y2="{py(hi):.1f}" '
            'stroke="#9aa0a6" stroke-dasharray="4,3"/>'
        )
    for y, label in h_lines:
        if y0 <= y <= y1:
            body.append(
                f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + pw}" y2="{py(y):.1f}" stroke="{THRESHOLD}" '
                f'stroke-dasharray="6,3"><title>{esc(label)}</title></line>'
            )
            body.append(_text(left + pw - 2, py(y) - 3, label, "end"))
    for x, label, colour in v_lines:
        if x0 <= x <= x1:
            body.append(
                f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{top + ph}" stroke="{esc(colour)}" '
                f'stroke-dasharray="2,2"><title>{esc(label)}</title></line>'
            )
    for s, (name, pts) in enumerate(data.items()):
        color = PALETTE[s % len(PALETTE)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="5,3"' if name in dashed else ""
        if len(pts) > 1 and not markers:
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}>'
                f"<title>{esc(name)}</title></polyline>"
            )
        if markers or len(pts) == 1:
            body += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color}"/>' for x, y in pts]
    body += _legend(list(data), left, height - 4)
    return _svg("line", width, height, body, title)


def heatmap(
    matrix: Sequence[Sequence[float]],
    labels: Sequence[str],
    col_labels: Sequence[str] | None = None,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    cell: int = 0,
    max_size: int = MAX_HEATMAP,
) -> str:
    """A matrix as coloured cells with their values (e.g. a confusion matrix: rows actual, columns predicted).

    Colour intensity is the value over the matrix maximum. Rows/columns beyond ``max_size`` are dropped with a note.
    """
    cols = list(col_labels if col_labels is not None else labels)[:max_size]
    rows = list(labels)[:max_size]
    m = [[_finite(v) for v in list(r)[: len(cols)]] for r in list(matrix)[: len(rows)]]
    vmax = max([v for r in m for v in r] + [1e-12])
    size = cell or max(18, min(56, 420 // max(1, len(cols))))
    top, left = (22 if title else 8) + 16, 110
    width = left + size * len(cols) + 10
    height = top + size * len(rows) + 50
    body = []
    for j, c in enumerate(cols):
        cx = left + j * size + size / 2
        body.append(
            f'<text x="{cx:.1f}" y="{top - 4}" text-anchor="middle"><title>{esc(c)}</title>{esc(_short(c, 8))}</text>'
        )
    for i, r in enumerate(m):
        body.append(_text(left - 4, top + i * size + size / 2 + 4, rows[i], "end"))
        for j in range(len(cols)):
            v = r[j] if j < len(r) else 0.0
            share = v / vmax
            fill = f"rgb({int(255 - 255 * share)},{int(255 - 141 * share)},{int(255 - 77 * share)})"
            ink = "#fff" if share > 0.55 else "#202124"
            x, y = left + j * size, top + i * size
            body.append(
                f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="{fill}" stroke="#e8eaed">'
                f"<title>{esc(rows[i])} → {esc(cols[j])}: {esc(fmt(v))}</title></rect>"
            )
            if size >= 22:
                body.append(
                    f'<text x="{x + size / 2:.1f}" y="{y + size / 2 + 4:.1f}" text-anchor="middle" '
                    f'style="fill:{ink}">{esc(fmt(v, 3))}</text>'
                )
    if x_label:
        body.append(_text(left + size * len(cols) / 2, top + size * len(rows) + 16, x_label, "middle"))
    if y_label:
        body.append(_text(left - 4, top - 4, f"{y_label} ↓", "end"))
    if len(labels) > max_size or (col_labels is not None and len(col_labels) > max_size):
        body.append(_text(left, height - 6, f"only the first {max_size} rows/columns are shown"))
    return _svg("heatmap", width, height, body, title)
