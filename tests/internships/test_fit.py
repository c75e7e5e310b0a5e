"""The fit rule's two forms agree: ``fits`` (in memory) and ``fit_conditions`` (SQL) select the same listings over a
grid of listings × subscriber filters, and the public list's slug filters select what the ids select."""

from __future__ import annotations

import datetime as dt
import itertools
import random

from sqlalchemy import select

from crm import models as m
from crm.internships.alerts import load_alert_items, open_listings
from crm.internships.fit import Criteria, fit_conditions, fits
from crm.internships.queries import Filters, apply_filters
from tests import factories
from tests.internships.helpers import make_internship, now

S = m.InternshipStatus
D = m.InternshipDirection


def make_grid(db, t0: dt.datetime) -> None:
    """Every mode × paid × hours × region, the other facts drawn from a seeded generator; plus listings that are
    never open (draft, filled, past their closing date)."""
    org = factories.organisation(db, "Grid Host")
    pick = random.Random(14)
    grid = itertools.product(("remote", "hybrid", "on-site"), (True, False), (None, 10, 35), (None, "UKI", "UKD", "UK"))
    for n, (mode, paid, hours, region) in enumerate(grid):
        make_internship(
            db,
            org,
            title=f"G{n}",
            mode=mode,
            pence=25000 if paid else None,
            hours=hours,
            region=region,
            direction=pick.choice(list(D)),
            topics=pick.choice(
                [(), ("Carers",), ("Psychosis",), ("Carers", "Psychosis"), ("Housing and homelessness",)]
            ),
            stages=pick.choice([(), ("student",), ("practitioner",), ("student", "practitioner")]),
            published_at=t0 - dt.timedelta(days=pick.choice([1, 3, 20]), minutes=n),
        )
    make_internship(db, org, title="Draft", status=S.DRAFT, topics=("Carers",))
    make_internship(db, org, title="Filled", status=S.FILLED)
    make_internship(db, org, title="Expired", days=-1)
    db.commit()


def grid_criteria(db, t0: dt.datetime) -> list[Criteria]:
    """No filter, every single filter value, every pair of filters from different parts, and 40 seeded
    combinations of all of them."""
    carers, psychosis = factories.topic(db, "Carers").id, factories.topic(db, "Psychosis").id
    london, north_west = factories.region_id(db, "UKI"), factories.region_id(db, "UKD")
    parts = {
        "direction": [D.VCSE_TO_ACADEMIC.value, D.RESEARCHER_TO_VCSE.value],
        "modes": [frozenset({"remote"}), frozenset({"on-site", "hybrid"})],
        "paid": ["paid", "unpaid"],
        "max_hours": [20, 35],
        "stage": ["student", "practitioner"],
        "topic_ids": [frozenset({carers}), frozenset({carers, psychosis})],
        "region_ids": [frozenset({london}), frozenset({london, north_west})],
        "published_after": [t0 - dt.timedelta(days=7)],
    }
    out = [Criteria()]
    out += [Criteria(**{name: value}) for name, values in parts.items() for value in values]
    for (a, a_values), (b, b_values) in itertools.combinations(parts.items(), 2):
        out += [Criteria(**{a: x, b: y}) for x in a_values for y in b_values]
    pick = random.Random(5)
    for _ in range(40):
        out.append(
            Criteria(
                **{
                    name: pick.choice([*values, Criteria.__dataclass_fields__[name].default])
                    for name, values in parts.items()
                }
            )
        )
    return out


def test_sql_and_pure_forms_select_the_same_listings(db, settings):
    t0 = now()
    make_grid(db, t0)
    items = load_alert_items(db, t0, settings.base_url)
    assert len(items) == 72 and not {"Draft", "Filled", "Expired"} & {i.title for i in items}
    ids = select(m.Internship.id).where(m.Internship.status == S.PUBLISHED, m.Internship.closes_at > t0)
    seen = set()
    for criteria in grid_criteria(db, t0):
        sql = set(db.scalars(ids.where(*fit_conditions(criteria))))
        memory = {i.id for i in items if fits(i.facts, criteria)}
        assert sql == memory, criteria
        seen.add(frozenset(sql))
    assert len(seen) > 100  # the grid tells the filters apart (it is not all-or-nothing)


def test_public_list_filters_by_slug_select_what_the_ids_select(db, settings):
    t0 = now()
    make_grid(db, t0)
    items = load_alert_items(db, t0, settings.base_url)
    carers, psychosis = factories.topic(db, "Carers"), factories.topic(db, "Psychosis")
    topic_ids = {carers.slug: carers.id, psychosis.slug: psychosis.id}
    london, north_west = (db.scalar(select(m.Region).where(m.Region.code == code)) for code in ("UKI", "UKD"))
    region_ids = {london.slug: london.id, north_west.slug: north_west.id}
    for topic_slugs, region_slugs, mode, paid in itertools.product(
        [(), (carers.slug,), (carers.slug, psychosis.slug)],
        [(), (london.slug,), (london.slug, north_west.slug)],
        ["", "remote"],
        ["", "unpaid"],
    ):
        filters = Filters.from_mapping({"topic": topic_slugs, "region": region_slugs, "mode": mode, "paid": paid})
        listed = {r.id for r in db.execute(apply_filters(open_listings(t0), filters, now=t0))}
        criteria = Criteria.of(filters, [topic_ids[s] for s in topic_slugs], [region_ids[r] for r in region_slugs])
        assert listed == {i.id for i in items if fits(i.facts, criteria)}, filters
