"""Reference data for the map: the population of each of the UK's twelve ITL1 regions, so figures can be shown
per 100,000 people as well as counted.

Source: Office for National Statistics, "Population estimates for the UK, England, Wales, Scotland and Northern
Ireland: mid-2022" (released 26 March 2024), usual resident population at 30 June 2022, by ITL1 region (the nine
English regions; Wales, Scotland and Northern Ireland as one region each). Scotland's figure is National Records of
Scotland's and Northern Ireland's NISRA's, as published in that UK release. The English regions add up to England's
57,106,398 and the twelve to the UK's 67,596,281 (a test checks both sums).

To update: replace ``YEAR``, ``RELEASE`` and the twelve figures with a later release's ITL1 table (same codes), and
the two totals in tests/map/test_reference.py; docs/map.md says where to find it.
"""

from __future__ import annotations

YEAR = "mid-2022"
RELEASE = (
    "Office for National Statistics, Population estimates for the UK, England, Wales, Scotland and Northern "
    "Ireland: mid-2022 (26 March 2024)"
)

# ITL1 code (as in crm.directory.reference.REGIONS) -> usual residents at 30 June 2022.
POPULATION: dict[str, int] = {
    "UKC": 2_683_040,  # North East
    "UKD": 7_516_113,  # North West
    "UKE": 5_541_262,  # Yorkshire and The Humber
    "UKF": 4_934_939,  # East Midlands
    "UKG": 6_021_653,  # West Midlands
    "UKH": 6_398_497,  # East of England
    "UKI": 8_866_180,  # London
    "UKJ": 9_379_833,  # South East
    "UKK": 5_764_881,  # South West
    "UKL": 3_131_640,  # Wales
    "UKM": 5_447_700,  # Scotland
    "UKN": 1_910_543,  # Northern Ireland
}

UK_TOTAL = sum(POPULATION.values())


def per_100k(count: int, code: str) -> float | None:
    """``count`` per 100,000 residents of region ``code``; None for a code without a population (UK-wide)."""
    people = POPULATION.get(code)
    if not people:
        return None
    return count * 100_000 / people
