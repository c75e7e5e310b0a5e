"""Server-rendered SVG charts (no JavaScript, no CDN) with text alternatives.

Each chart is an ``<svg role="img">`` with ``<title>`` and ``<desc>`` (the desc lists every value, so a screen
reader hears the data); pages also show the same numbers as a table. Colours come from CSS classes in
``static/css/app.css`` (``chart-bar-*``) so there are no inline styles; SVG presentation attributes carry a
fallback fill. Text is escaped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

_ids = itertools.count(1)
PALETTE = ("#1d5c4a", "#8a4b08", "#2f4f8f", "#7a2e5a", "#4d6b1f", "#5a5a5a", "#0f6e78")


def bar_chart(
    title: str,
    data: Sequence[tuple[str, int]],
    *,
    description: str = "",
    unit: str = "",
    width: int = 560,
    bar_height: int = 26,
    label_width: int | None = None,
) -> Markup:
    """A horizontal bar chart: one labelled bar per (label, value), the value written at the bar's end."""
    uid = next(_ids)
    if label_width is None:  # wide enough for the longest label at 14px (about 8px a character)
        label_width = max(90, min(260, 8 * max([len(label) for label, _ in data] + [0]) + 16))
    gap = 10
    top = 8
    height = top + len(data) * (bar_height + gap) + 4
    plot = width - label_width - 60
    biggest = max([v for _, v in data] + [1])
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="chart{uid}-t chart{uid}-d" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart{uid}-t">{escape(title)}</title>',
        f'<desc id="chart{uid}-d">{escape(describe(data, description, unit))}</desc>',
    ]
    for i, (label, value) in enumerate(data):
        y = top + i * (bar_height + gap)
        w = 0 if value <= 0 else max(2, round(plot * value / biggest))
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar_height * 0.68:.1f}" text-anchor="end" class="chart-label" '
            f'font-size="14" fill="#222">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{w}" height="{bar_height}" class="chart-bar chart-bar-{i % 7}" '
            f'fill="{colour}"/>'
            f'<text x="{label_width + w + 6}" y="{y + bar_height * 0.68:.1f}" class="chart-value" font-size="14" '
            f'fill="#222">{value}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def describe(data: Sequence[tuple[str, int]], description: str = "", unit: str = "") -> str:
    """The chart's data as one sentence (used in ``<desc>``)."""
    values = "; ".join(f"{label}: {value}{unit}" for label, value in data) or "no data"
    return f"{description} {values}.".strip()
