"""The map's shipped reference data: ONS populations and the tile layout match the app's ITL1 regions."""

from __future__ import annotations

from crm.directory.reference import REGIONS
from crm.map import population, tilemap
from crm.map.figures import band_of, legend

ITL1 = {code for code, _ in REGIONS if code != "UK"}


def test_population_covers_the_twelve_regions_and_adds_up_to_the_published_totals():
    assert set(population.POPULATION) == ITL1
    england = sum(n for code, n in population.POPULATION.items() if code not in {"UKL", "UKM", "UKN"})
    assert england == 57_106_398  # ONS mid-2022, England
    assert population.UK_TOTAL == 67_596_281  # ONS mid-2022, United Kingdom
    assert population.YEAR in population.RELEASE


def test_per_100k():
    assert population.per_100k(268_304, "UKC") == 10_000.0  # North East: 2,683,040 people
    assert population.per_100k(5, "UK") is None


def test_every_region_has_its_own_tile():
    assert set(tilemap.LAYOUT) == ITL1
    cells = [(col, row) for col, row, _ in tilemap.LAYOUT.values()]
    assert len(set(cells)) == 12


def test_bands_and_their_legend():
    assert [band_of(v, 8) for v in (0, 1, 2, 3, 4, 5, 8)] == [0, 1, 1, 2, 2, 3, 4]
    assert band_of(3, 0) == 0
    assert [b.label for b in legend(8, "count")] == ["None", "1 to 2", "3 to 4", "5 to 6", "7 to 8"]
    assert [b.band for b in legend(3, "count")] == [0, 2, 3, 4]  # no whole count falls in band 1
    assert legend(0, "rate")[0].label == "None" and len(legend(0, "rate")) == 1
    assert legend(4, "rate")[1].label == "more than 0.0 up to 1.0 per 100,000"
