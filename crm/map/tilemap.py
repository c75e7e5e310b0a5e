"""The tile-grid map of the twelve ITL1 regions, drawn as server-side SVG (no JavaScript, no inline styles).

A square tile per region on a grid that keeps the regions roughly where they are (the style the Office for National
Statistics uses for its regional tile maps). Each tile prints the region's short name, its count and its rate per
100,000 people, so the map reads without colour; a strip at the foot of each tile carries a pattern for its colour
band (none, dots, lines, cross-hatch, dense cross-hatch), repeated in the legend. The SVG is ``role="img"`` with a
``<title>`` and a ``<desc>`` that lists every figure; the page's table says the same with links. Colours are SVG
presentation attributes (the CSP forbids ``style=``); text colours meet 4.5:1 on their band's fill.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from crm.map.figures import MapView, Tile, rate_text

__all__ = ["rate_text", "swatch", "tile_map"]  # rate_text lives in figures: the shading rounds as it prints

# ITL1 code -> (column, row, short label) on a 5 x 5 grid.
LAYOUT: dict[str, tuple[int, int, str]] = {
    "UKM": (2, 0, "Scotland"),
    "UKN": (0, 1, "N. Ireland"),
    "UKC": (3, 1, "North East"),
    "UKD": (2, 2, "North West"),
    "UKE": (3, 2, "Yorkshire"),
    "UKL": (1, 3, "Wales"),
    "UKG": (2, 3, "W. Midlands"),
    "UKF": (3, 3, "E. Midlands"),
    "UKH": (4, 3, "East"),
    "UKK": (2, 4, "South West"),
    "UKJ": (3, 4, "South East"),
    "UKI": (4, 4, "London"),
}
# Band -> (fill, text colour). Sequential greens; dark text on the light bands, white on the dark ones.
COLOURS = {
    0: ("#f4f4f0", "#1b1b1b"),
    1: ("#d6ebe1", "#1b1b1b"),
    2: ("#9fcfb8", "#1b1b1b"),
    3: ("#2f7d5e", "#ffffff"),
    4: ("#174a3b", "#ffffff"),
}
INK = "#1b1b1b"
TILE, GAP = 120, 6
_ids = itertools.count(1)


def _patterns(prefix: str) -> str:
    """Pattern fills for bands 1-4 (band 0 is plain white)."""
    line = f'stroke="{INK}" stroke-width="1.4"'
    shapes = {
        1: f'<circle cx="4" cy="4" r="1.4" fill="{INK}"/>',
        2: f'<path d="M0,8 L8,0" {line}/>',
        3: f'<path d="M0,8 L8,0 M0,0 L8,8" {line}/>',
        4: f'<path d="M0,8 L8,0 M0,0 L8,8 M4,0 L4,8 M0,4 L8,4" {line}/>',
    }
    return "".join(
        f'<pattern id="{prefix}-p{band}" width="8" height="8" patternUnits="userSpaceOnUse">'
        f'<rect width="8" height="8" fill="#ffffff"/>{shape}</pattern>'
        for band, shape in shapes.items()
    )


def _strip(prefix: str, band: int, x: float, y: float, width: float, height: float) -> str:
    fill = f"url(#{prefix}-p{band})" if band else "#ffffff"
    return f'<rect x="{x}" y="{y}" width="{width}" height="{height}" fill="{fill}" stroke="{INK}" stroke-width="1"/>'


def describe(view: MapView, tiles: Sequence[Tile]) -> str:
    """Every figure as one sentence for ``<desc>``."""
    figures = "; ".join(f"{t.name}: {t.count:,}, {rate_text(t.rate)} per 100,000 people" for t in tiles)
    return f"{title(view)}. {figures}."


def title(view: MapView) -> str:
    topic = f", topic {view.topic.name}" if view.topic else ""
    shade = "per 100,000 people" if view.scale == "rate" else "by count"
    return f"{view.measure.label} by UK region{topic}, shaded {shade}"


def tile_map(view: MapView) -> Markup:
    uid = f"map{next(_ids)}"
    size = 5 * TILE + 4 * GAP
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{uid}-t {uid}-d" viewBox="0 0 {size} {size}" '
        f'width="100%" preserveAspectRatio="xMidYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{uid}-t">{escape(title(view))}</title>',
        f'<desc id="{uid}-d">{escape(describe(view, view.tiles))}</desc>',
        f"<defs>{_patterns(uid)}</defs>",
    ]
    for t in view.tiles:
        col, row, short = LAYOUT.get(t.code, (0, 0, t.name))
        x, y = col * (TILE + GAP), row * (TILE + GAP)
        fill, ink = COLOURS[t.band]
        mid = x + TILE / 2
        parts.append(
            f'<g><rect x="{x}" y="{y}" width="{TILE}" height="{TILE}" rx="6" fill="{fill}" stroke="{INK}" '
            f'stroke-width="1"/>'
            f'<text x="{mid}" y="{y + 22}" text-anchor="middle" font-size="15" font-weight="600" '
            f'fill="{ink}">{escape(short)}</text>'
            f'<text x="{mid}" y="{y + 58}" text-anchor="middle" font-size="{28 if t.count < 1_000_000 else 20}" '
            f'font-weight="700" fill="{ink}">{t.count:,}</text>'
            f'<text x="{mid}" y="{y + 82}" text-anchor="middle" font-size="14" fill="{ink}">'
            f"{escape(rate_text(t.rate))} per 100k</text>"
            f"{_strip(uid, t.band, x + 10, y + TILE - 24, TILE - 20, 14)}</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def swatch(band: int) -> Markup:
    """The legend's sample of a band: its colour and its pattern strip (decorative: the label says the range)."""
    uid = f"sw{next(_ids)}"
    fill, _ = COLOURS[band]
    return Markup(
        f'<svg width="48" height="28" viewBox="0 0 48 28" aria-hidden="true" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg"><defs>{_patterns(uid)}</defs>'
        f'<rect x="0.5" y="0.5" width="47" height="27" rx="4" fill="{fill}" stroke="{INK}" stroke-width="1"/>'
        f"{_strip(uid, band, 6, 12, 36, 10)}</svg>"
    )
