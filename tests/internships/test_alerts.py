"""Internship alert matching on hand-made cases, the stored filters, and the digest section templates."""

from __future__ import annotations

import datetime as dt

from crm import models as m
from crm.internships.alerts import (
    describe_filters,
    internship_filters_from_form,
    matching_internships,
    section_items,
    stored_filters,
    subscribe_url,
)
from crm.internships.services import Filters
from crm.web.forms import Form
from tests import factories
from tests.internships.helpers import make_internship, now

S = m.InternshipStatus


def titles(rows) -> list[str]:
    return [r.title for r in rows]


def test_matching_hand_made_cases(db):
    org = factories.organisation(db, "Alert Host")
    t0 = now()
    old = make_internship(db, org, title="Old", published_at=t0 - dt.timedelta(days=10), topics=("Carers",))
    remote_paid = make_internship(
        db,
        org,
        title="Remote paid",
        mode="remote",
        pence=20000,
        hours=10,
        region="UKI",
        topics=("Carers",),
        published_at=t0 - dt.timedelta(days=2),
        stages=("student",),
    )
    onsite_unpaid = make_internship(
        db,
        org,
        title="On-site unpaid",
        mode="on-site",
        hours=35,
        region="UKD",
        topics=("Psychosis",),
        direction=m.InternshipDirection.VCSE_TO_ACADEMIC,
        published_at=t0 - dt.timedelta(days=1),
    )
    uk_wide = make_internship(
        db,
        org,
        title="UK-wide",
        mode="hybrid",
        region="UK",
        topics=("Psychosis",),
        published_at=t0 - dt.timedelta(hours=5),
    )
    make_internship(db, org, title="Draft", status=S.DRAFT, topics=("Carers",))
    make_internship(db, org, title="Filled", status=S.FILLED, topics=("Carers",))
    make_internship(db, org, title="Expired", days=-1, published_at=t0 - dt.timedelta(days=1))
    db.flush()
    week_ago = t0 - dt.timedelta(days=7)
    carers, psychosis = factories.topic(db, "Carers").id, factories.topic(db, "Psychosis").id
    london, north_west = factories.region_id(db, "UKI"), factories.region_id(db, "UKD")

    # Everything new in the period, newest first; old, unpublished, filled and expired never match.
    assert titles(matching_internships(db, {}, [], [], week_ago, t0)) == ["UK-wide", "On-site unpaid", "Remote paid"]
    # No previous send: every open listing.
    assert "Old" in titles(matching_internships(db, {}, [], [], None, t0))
    # Topics: any shared topic.
    assert titles(matching_internships(db, {}, [carers], [], week_ago, t0)) == ["Remote paid"]
    assert titles(matching_internships(db, {}, [carers, psychosis], [], week_ago, t0)) == [
        "UK-wide",
        "On-site unpaid",
        "Remote paid",
    ]
    # Regions: in one of them, or UK-wide.
    assert titles(matching_internships(db, {}, [], [london], week_ago, t0)) == ["UK-wide", "Remote paid"]
    assert titles(matching_internships(db, {}, [psychosis], [north_west], week_ago, t0)) == [
        "UK-wide",
        "On-site unpaid",
    ]
    # Stored per-mailing filters.
    assert titles(matching_internships(db, {"paid": "paid"}, [], [], week_ago, t0)) == ["Remote paid"]
    assert titles(matching_internships(db, {"paid": "unpaid", "modes": ["on-site"]}, [], [], week_ago, t0)) == [
        "On-site unpaid"
    ]
    assert titles(matching_internships(db, {"direction": "vcse-to-academic"}, [], [], week_ago, t0)) == [
        "On-site unpaid"
    ]
    assert titles(matching_internships(db, {"max_hours": 20}, [], [], week_ago, t0)) == ["UK-wide", "Remote paid"]
    assert titles(matching_internships(db, {"stage": "practitioner"}, [], [], week_ago, t0)) == [
        "UK-wide",
        "On-site unpaid",
    ]
    # Nothing matches → empty list (the digest sends nothing).
    assert matching_internships(db, {"modes": ["remote"], "paid": "unpaid"}, [], [], week_ago, t0) == []
    # Junk in stored filters is ignored rather than crashing a digest run.
    assert len(matching_internships(db, {"paid": "???", "modes": "x", "max_hours": "lots"}, [], [], week_ago, t0)) == 3
    assert old and remote_paid and onsite_unpaid and uk_wide


def test_matching_is_one_bounded_statement(db, count_queries):
    org = factories.organisation(db)
    for n in range(60):
        make_internship(db, org, title=f"Many {n}")
    db.commit()
    with count_queries() as q:
        rows = matching_internships(db, {"paid": "unpaid"}, [], [], None, now())
    assert q.count == 1 and len(rows) == 50


def test_filters_from_form_validates_and_returns_the_stored_dict():
    form = Form(
        {
            "direction": "researcher-to-vcse",
            "mode": ["remote", "hybrid"],
            "paid": "paid",
            "hours": "20",
            "stage": "student",
        }
    )
    assert internship_filters_from_form(form) == {
        "direction": "researcher-to-vcse",
        "modes": ["remote", "hybrid"],
        "paid": "paid",
        "max_hours": 20,
        "stage": "student",
    }
    assert form.ok
    bad = Form({"direction": "up", "mode": "moon", "paid": "maybe", "hours": "-4", "stage": "wizard"})
    assert internship_filters_from_form(bad) == {}
    assert set(bad.errors) == {"direction", "mode", "paid", "hours", "stage"}
    assert internship_filters_from_form(Form({})) == {}
    assert describe_filters({"modes": ["remote"], "paid": "unpaid", "max_hours": 10}) == [
        "Remote",
        "Unpaid only",
        "Up to 10 hours a week",
    ]


def test_subscribe_url_round_trips_the_list_filters():
    filters = Filters.from_mapping(
        {
            "topic": ["carers"],
            "region": ["london"],
            "mode": ["remote"],
            "paid": "paid",
            "hours": "15",
            "stage": "student",
            "direction": "vcse-to-academic",
        }
    )
    url = subscribe_url(filters, {"carers": 7}, {"london": 3, "wales": 9})
    assert url.startswith("/subscribe?mailings=internship_alerts")
    for part in (
        "topics=7",
        "regions=3",
        "mode=remote",
        "paid=paid",
        "hours=15",
        "stage=student",
        "direction=vcse-to-academic",
    ):
        assert part in url


def test_digest_section_templates_render(db, app, settings):
    org = factories.organisation(db, "Section & Host")
    make_internship(db, org, title="Paid <one>", pence=25000, period="week", region="UKI", mode="hybrid")
    make_internship(db, org, title="Unpaid one")
    db.flush()
    items = section_items(matching_internships(db, {}, [], [], None, now()), settings.base_url)
    renderer = app.state.renderer
    html = renderer.html_env.get_template("email/_section_internships.html").render(internships=items)
    text = renderer.text_env.get_template("email/_section_internships.txt").render(internships=items)
    assert "Paid &lt;one&gt;" in html and "Section &amp; Host" in html and "£250 a week" in html and "Unpaid" in html
    assert "Paid <one>" in text and "Section & Host" in text and "Hybrid, London" in text
    assert "http://testserver.local/internships/" in text
    assert renderer.html_env.get_template("email/_section_internships.html").render(internships=[]).strip() == ""


def test_stored_filters_reads_the_mailing_key():
    assert stored_filters({"internship_alerts": {"paid": "paid"}}) == {"paid": "paid"}
    assert stored_filters({"internships": {"stage": "student"}}) == {"stage": "student"}
    assert stored_filters(None) == {} and stored_filters({"internship_alerts": "junk"}) == {}


def test_in_memory_matching_agrees_with_sql_and_costs_two_statements(db, settings, count_queries):
    from crm.internships.alerts import criteria, load_alert_items
    from crm.internships.fit import fits

    org = factories.organisation(db, "Agree Host")
    t0 = now()
    specs = [
        dict(title="A", mode="remote", pence=20000, hours=10, region="UKI", topics=("Carers",), stages=("student",)),
        dict(
            title="B",
            mode="on-site",
            hours=35,
            region="UKD",
            topics=("Psychosis",),
            direction=m.InternshipDirection.VCSE_TO_ACADEMIC,
        ),
        dict(title="C", mode="hybrid", region="UK", topics=("Psychosis", "Carers"), hours=None),
        dict(title="D", mode="hybrid", pence=500, period="hour", stages=("practitioner",), hours=20),
        dict(title="E", mode="remote", published_at=t0 - dt.timedelta(days=30)),
    ]
    for n, spec in enumerate(specs):
        spec.setdefault("published_at", t0 - dt.timedelta(hours=n + 1))
        make_internship(db, org, **spec)
    make_internship(db, org, title="Draft", status=S.DRAFT)
    db.commit()
    carers, psychosis = factories.topic(db, "Carers").id, factories.topic(db, "Psychosis").id
    london, north_west = factories.region_id(db, "UKI"), factories.region_id(db, "UKD")
    with count_queries() as q:
        items = load_alert_items(db, t0, settings.base_url)
    assert q.count == 2 and {i.title for i in items} == {"A", "B", "C", "D", "E"}
    week_ago = t0 - dt.timedelta(days=7)
    cases = [
        ({}, [], [], None),
        ({}, [], [], week_ago),
        ({}, [carers], [], week_ago),
        ({}, [psychosis], [north_west], None),
        ({}, [], [london], None),
        ({"paid": "paid"}, [], [], None),
        ({"paid": "unpaid", "modes": ["hybrid", "on-site"]}, [], [], None),
        ({"direction": "vcse-to-academic"}, [], [], None),
        ({"max_hours": 20}, [], [], None),
        ({"stage": "practitioner"}, [carers, psychosis], [], None),
        ({"stage": "student", "modes": ["remote"]}, [], [london], week_ago),
    ]
    for filters, topics_, regions_, after in cases:
        sql = {r.title for r in matching_internships(db, filters, topics_, regions_, after, t0)}
        memory = {i.title for i in items if fits(i.facts, criteria(filters, topics_, regions_, after))}
        assert sql == memory, (filters, topics_, regions_, after)


def test_item_templates_render_one_item(db, app, settings):
    from crm.internships.alerts import load_alert_items

    make_internship(db, factories.organisation(db, "Item & Co"), title="One <item>", pence=100, period="hour")
    db.flush()
    item = load_alert_items(db, now(), settings.base_url)[0]
    html = app.state.renderer.html_env.get_template("email/_section_internships_item.html").render(it=item)
    text = app.state.renderer.text_env.get_template("email/_section_internships_item.txt").render(it=item)
    assert "One &lt;item&gt;" in html and "Item &amp; Co" in html and "£1 an hour" in html
    assert text.startswith("One <item>\nItem & Co\n£1 an hour · Remote · closes ")
