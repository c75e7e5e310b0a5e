"""The map's legend names, for each shade, a range that holds the figure every region with that shade shows: the
bands are drawn from the rounded figures the page prints, not from unrounded rates (North West printed "0.09" but
shaded "more than 0.1"). And the page says nothing about organisations without a region when there are none."""

from __future__ import annotations

import re
from decimal import Decimal

from crm.map import figures, tally, tilemap
from tests import factories
from tests.dashboard import factories as f

# As in the demo data: seven in each region named here, eight in the North East.
REGIONS = {"North East": 8, "North West": 7, "Yorkshire and The Humber": 7, "Wales": 7, "Northern Ireland": 7}
SHOWN = re.compile(r"more than ([\d.,]+) up to ([\d.,]+) per 100,000")


def seeded(db) -> None:
    for region, n in REGIONS.items():
        for _ in range(n):
            factories.organisation(db, region_name=region)
    db.commit()
    tally.refresh(db, now=f.NOW)
    db.commit()


def legend_ranges(html: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Each legend row's range, keyed by the swatch's fill colour (the colour the tiles of that band carry)."""
    block = html.split('id="map-legend"', 1)[1].split("</ul>", 1)[0]
    out = {}
    for item in re.findall(r"<li>(.*?)</li>", block, re.S):
        fill = re.search(r'<rect x="0.5"[^>]*fill="(#[0-9a-f]{6})"', item).group(1)
        found = SHOWN.search(item)
        if found:
            out[fill] = (Decimal(found.group(1)), Decimal(found.group(2)))
    return out


def test_every_region_shows_a_figure_inside_the_band_its_shade_names(client, db):
    seeded(db)
    html = client.get("/map").text
    ranges = legend_ranges(html)
    tiles = re.findall(
        r'<rect x="[\d.]+" y="[\d.]+" width="120" height="120" rx="6" fill="(#[0-9a-f]{6})".*?'
        r'font-weight="600"[^>]*>([^<]+)</text>.*?<text[^>]*>([\d.,]+) per 100k</text>',
        html,
        re.S,
    )
    assert len(tiles) == 12
    checked = {}
    for fill, name, figure in tiles:
        if fill == "#f4f4f0":  # "None"
            assert Decimal(figure) == 0, name
            continue
        low, high = ranges[fill]
        assert low < Decimal(figure) <= high, (name, figure, low, high)
        checked[name] = figure
    assert checked["North West"] == "0.09" and checked["North East"] == "0.3"
    assert "per 100k" in html and len(checked) == len(REGIONS)


def test_the_view_bands_the_printed_figures(db):
    seeded(db)
    view = figures.map_view(db, {"measure": "organisations"}, admin=False, now=f.NOW)
    labels = {b.band: b.label for b in view.legend}
    for tile in view.tiles:
        if not tile.count:
            assert tile.band == 0
            continue
        low, high = map(Decimal, SHOWN.search(labels[tile.band]).groups())
        assert low < Decimal(tilemap.rate_text(tile.rate)) <= high, (tile.name, labels[tile.band])


def test_no_sentence_about_organisations_without_a_region_when_there_are_none(client, db):
    seeded(db)
    html = client.get("/map").text
    assert "no region" not in html and "<strong>0</strong>" not in html
    factories.organisation(db)  # no region
    db.commit()
    tally.refresh(db, now=f.NOW)
    db.commit()
    assert "<strong>1</strong> organisation in the directory has no region" in client.get("/map").text
