"""The campaign report's chart: a few series side by side per day, drawn the dashboard's way.

Like ``crm.dashboard.charts.bar_chart`` (whose palette and conventions this shares): an ``<svg role="img">`` with
``<title>`` and a ``<desc>`` that lists every value, so a screen reader hears the data; the page shows the same
numbers in a table. No JavaScript, no inline styles (SVG presentation attributes only); text is escaped. A legend
inside the SVG names the colours, and every bar also carries its number, so colour is never the only cue.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

from crm.dashboard.charts import PALETTE

_ids = itertools.count(1)


def describe(groups: Sequence[tuple[str, Mapping[str, int]]], series: Mapping[str, str], description: str = "") -> str:
    """Every value in one sentence: "Day 1: Delivered 10, Opened 4, Clicked 1; Day 2: …"."""
    parts = [
        f"{label}: " + ", ".join(f"{series[key]} {values.get(key, 0)}" for key in series) for label, values in groups
    ]
    return f"{description} {'; '.join(parts) or 'no data'}.".strip()


def grouped_columns(
    title: str,
    groups: Sequence[tuple[str, Mapping[str, int]]],
    series: Mapping[str, str],
    *,
    description: str = "",
    width: int = 640,
    height: int = 260,
) -> Markup:
    """Vertical columns: one group per (label, {series key: value}), one column per series, its value above it."""
    uid = next(_ids)
    keys = list(series)
    left, right, top, legend_h, axis_h = 8, 8, 24, 28, 28
    plot_h = height - top - legend_h - axis_h
    group_w = (width - left - right) / max(1, len(groups))
    bar_w = max(4.0, min(28.0, (group_w - 12) / max(1, len(keys))))
    biggest = max([values.get(k, 0) for _, values in groups for k in keys] + [1])
    base_y = top + legend_h + plot_h
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="cchart{uid}-t cchart{uid}-d" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="cchart{uid}-t">{escape(title)}</title>',
        f'<desc id="cchart{uid}-d">{escape(describe(groups, series, description))}</desc>',
    ]
    x = left
    for i, key in enumerate(keys):  # the legend: a swatch and the series' name
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="4" width="14" height="14" class="chart-bar chart-bar-{i % 7}" fill="{colour}"/>'
            f'<text x="{x + 20}" y="16" font-size="14" fill="#222" class="chart-label">{escape(series[key])}</text>'
        )
        x += 28 + 8 * len(series[key])
    parts.append(
        f'<line x1="{left}" y1="{base_y}" x2="{width - right}" y2="{base_y}" stroke="#5a5a5a" stroke-width="1"/>'
    )
    for g, (label, values) in enumerate(groups):
        gx = left + g * group_w + (group_w - bar_w * len(keys)) / 2
        for i, key in enumerate(keys):
            value = values.get(key, 0)
            h = 0 if value <= 0 else max(2, round(plot_h * value / biggest))
            bx = gx + i * bar_w
            colour = PALETTE[i % len(PALETTE)]
            parts.append(
                f'<rect x="{bx:.1f}" y="{base_y - h}" width="{bar_w - 2:.1f}" height="{h}" '
                f'class="chart-bar chart-bar-{i % 7}" fill="{colour}"/>'
                f'<text x="{bx + (bar_w - 2) / 2:.1f}" y="{base_y - h - 4}" text-anchor="middle" font-size="11" '
                f'fill="#222" class="chart-value">{value}</text>'
            )
        parts.append(
            f'<text x="{left + g * group_w + group_w / 2:.1f}" y="{base_y + 18}" text-anchor="middle" font-size="13" '
            f'fill="#222" class="chart-label">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
