"""The map's shipped reference data: ONS populations and the tile layout match the app's ITL1 regions."""

from __future__ import annotations

import re

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


def test_districts_of_cross_border_areas_go_to_their_own_side():
    from crm.directory import postcode_regions as pr

    assert {code for code in pr.DISTRICT_REGIONS.values()} <= ITL1
    assert all(re.fullmatch(r"[A-Z]{1,2}[0-9]{1,2}", d) for d in pr.DISTRICT_REGIONS)
    assert all(re.match(r"[A-Z]+", d)[0] in pr.AREA_REGIONS for d in pr.DISTRICT_REGIONS)
    expected = {
        "CH7 1AB": "UKL",  # Flintshire, though CH is mostly Chester and the Wirral
        "CH1 2AB": "UKD",
        "SY23 1AA": "UKL",  # Aberystwyth
        "SY1 1AA": "UKG",  # Shrewsbury
        "EN1 1AA": "UKI",
        "EN8 1AA": "UKH",  # Cheshunt
        "KT1 1AA": "UKI",
        "KT22 7AA": "UKJ",
        "S1 2AA": "UKE",
        "S41 7AA": "UKF",  # Chesterfield
        "TD15 1AA": "UKC",  # Berwick-upon-Tweed
        "M1 1AE": "UKD",
        "JE2 3AB": None,
    }
    assert {pc: pr.region_for_postcode(pc) for pc in expected} == expected
