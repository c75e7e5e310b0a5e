"""The map's figures (counted into the tally, then read in one statement per measure, flat as data grows), its
public and admin pages, and the fill-regions command, on both databases. The tally itself: tests/map/test_tally.py."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from crm import models as m
from crm.map import figures, tally
from crm.map.commands import fill_regions as fill_command
from crm.map.regions_fill import fill_regions
from tests import factories
from tests.dashboard import factories as f

NOW = f.NOW  # fixed, like the factories (their internships close 30 days after it)
SOON = NOW + dt.timedelta(days=20)
PAST = NOW - dt.timedelta(days=20)


def tiles(view: figures.MapView) -> dict[str, int]:
    return {t.name: t.count for t in view.tiles if t.count}


def counted(db, now: dt.datetime = NOW) -> None:
    """What the map's job does: count every measure into the tally (as of ``now``) and commit."""
    tally.refresh(db, now=now)
    db.commit()


def view(db, measure: str, admin: bool = False, **query: str) -> figures.MapView:
    """The map as a page shows it, right after a refresh."""
    counted(db)
    return figures.map_view(db, {"measure": measure, **query}, admin=admin, now=NOW)


def link_regions(db, table, owner_key: str, owner_id: int, *codes: str) -> None:
    db.execute(table.insert(), [{owner_key: owner_id, "region_id": factories.region_id(db, c)} for c in codes])


def test_organisations_by_region_kind_and_group(db):
    factories.organisation(db, region_name="London", user_led=True, topics=["Psychosis"])
    factories.organisation(db, region_name="London", vcse_category=m.VcseCategory.OPEN_CONSULTATIVE)
    factories.organisation(db, kind=m.OrgKind.ACADEMIC, region_name="Wales", lived_experience_led=True)
    factories.organisation(db, region_name="UK-wide")
    factories.organisation(db)  # no region
    factories.organisation(db, region_name="Scotland", visibility=m.Visibility.PRIVATE)
    db.commit()

    every = view(db, "organisations")
    assert tiles(every) == {"London": 2, "Wales": 1}  # the private one is not public
    assert (every.national, every.unplaced, every.orgs_without_region) == (1, 1, 1)
    assert tiles(view(db, "organisations", admin=True)) == {"London": 2, "Wales": 1, "Scotland": 1}
    assert tiles(view(db, "kind-academic")) == {"Wales": 1}
    assert tiles(view(db, "user-led")) == {"London": 1}
    assert tiles(view(db, "lived-experience-led")) == {"Wales": 1}
    assert tiles(view(db, "category-open-consultative-group")) == {"London": 1}
    assert tiles(view(db, "organisations", topic="psychosis")) == {"London": 1}
    london = next(t for t in every.tiles if t.name == "London")
    assert london.rate == pytest.approx(2 * 100_000 / 8_866_180)
    assert london.link == "/organisations?region=london"
    assert next(t for t in view(db, "user-led", topic="psychosis").tiles if t.name == "London").link == (
        "/organisations?user_led=1&region=london&topic=psychosis"
    )


def test_a_uk_wide_call_counts_everywhere_and_one_naming_no_region_apart(db):
    funder = factories.funder(db)
    regional = f.call(db, funder, deadlines=[SOON])
    link_regions(db, m.funding_call_regions, "call_id", regional.id, "UKD", "UKL")
    f.call(db, funder, deadlines=[SOON])  # names no region: "no region", as the list's region filter drops it
    tagged_uk = f.call(db, funder, deadlines=[SOON])
    link_regions(db, m.funding_call_regions, "call_id", tagged_uk.id, "UK", "UKI")  # UK-wide wins: counted once
    f.call(db, funder, deadlines=[PAST])  # closed
    f.call(db, funder, deadlines=[SOON], status=m.CallStatus.DRAFT)
    db.commit()

    calls = view(db, "funding-calls")
    assert (calls.national, calls.unplaced) == (1, 1)
    counts = {t.name: t.count for t in calls.tiles}
    assert counts["North West"] == counts["Wales"] == 2
    assert counts["London"] == counts["Scotland"] == 1
    assert next(t for t in calls.tiles if t.name == "Wales").link == "/funding-calls?region=wales"
    # The fellow's map links to the same public list: the admin list also holds drafts and closed calls.
    admin_wales = next(t for t in view(db, "funding-calls", admin=True).tiles if t.name == "Wales")
    assert admin_wales.link == "/funding-calls?region=wales"


def test_every_call_tile_counts_what_its_link_lists(db):
    """A tile and the list it links to agree, region by region, with and without a topic."""
    from crm.funding.queries import list_calls
    from crm.listing import ListParams

    funder = factories.funder(db)
    psychosis = factories.topic(db, "Psychosis").id
    for codes, topics in [(("UKD",), [psychosis]), (("UKD", "UKL"), []), (("UK",), [psychosis]), ((), [psychosis])]:
        call = f.call(db, funder, deadlines=[SOON])
        if codes:
            link_regions(db, m.funding_call_regions, "call_id", call.id, *codes)
        if topics:
            db.execute(m.funding_call_topics.insert(), [{"call_id": call.id, "topic_id": t} for t in topics])
    db.commit()
    for topic in ("", "psychosis"):
        for t in view(db, "funding-calls", topic=topic).tiles:
            filters = {"region": t.slug, **({"topic": topic} if topic else {})}
            listed = list_calls(db, ListParams(filters=filters, page_size=100), now=NOW).items
            assert t.count == len(listed), (t.name, topic)
            assert t.link == f"/funding-calls?region={t.slug}" + (f"&topic={topic}" if topic else "")
    assert tiles(view(db, "funding-calls", topic="psychosis"))["North West"] == 2  # its own and the UK-wide one


def test_every_internship_tile_counts_what_its_link_lists(db):
    from crm.internships.queries import public_list
    from crm.listing import ListParams

    host = factories.organisation(db, region_name="London", topics=["Carers"])
    carers = factories.topic(db, "Carers").id
    for code, topics in [("UKI", [carers]), ("UKL", []), ("UK", [carers]), (None, [carers])]:
        internship = f.internship(db, host, region_id=factories.region_id(db, code) if code else None)
        if topics:
            db.execute(m.internship_topics.insert(), [{"internship_id": internship.id, "topic_id": t} for t in topics])
    db.commit()
    for topic in ("", "carers"):
        for t in view(db, "internships", topic=topic).tiles:
            filters = {"region": t.slug, **({"topic": topic} if topic else {})}
            listed = public_list(db, ListParams(filters=filters, page_size=100), now=NOW).items
            assert t.count == len(listed), (t.name, topic)
            assert t.link == f"/internships?region={t.slug}" + (f"&topic={topic}" if topic else "")
    assert tiles(view(db, "internships", topic="carers")) == dict.fromkeys(
        [t.name for t in view(db, "internships").tiles], 1
    ) | {"London": 2}  # UK-wide in every tile, London's own as well; the one with no region in none


def test_internships_events_partnerships_and_subscribers(db):
    london_org = factories.organisation(db, region_name="London", topics=["Carers"])
    national_org = factories.organisation(db, region_name="UK-wide")
    f.internship(db, london_org, region_id=factories.region_id(db, "UKI"))
    f.internship(db, london_org, region_id=factories.region_id(db, "UK"))
    f.internship(db, london_org)  # no region given
    f.internship(db, london_org, region_id=factories.region_id(db, "UKI"), status=m.InternshipStatus.CLOSED)
    hosted = f.event(db, starts=SOON)
    hosted.host_organisation_id = london_org.id
    national = f.event(db, starts=SOON)
    national.host_organisation_id = national_org.id
    f.event(db, starts=PAST)  # over
    p = f.partnership(db, stage=m.PartnershipStage.ACTIVE)
    db.add(m.PartnershipMember(partnership_id=p.id, side=m.Side.VCSE, organisation_id=london_org.id))
    done = f.partnership(db, stage=m.PartnershipStage.COMPLETED)
    db.add(m.PartnershipMember(partnership_id=done.id, side=m.Side.VCSE, organisation_id=london_org.id))
    s = f.subscription(db, "one@example.org")
    link_regions(db, m.subscription_regions, "subscription_id", s.id, "UKI", "UKM")
    f.subscription(db, "two@example.org")  # no region: everywhere
    f.subscription(db, "three@example.org", status=m.SubscriptionStatus.UNSUBSCRIBED)
    db.commit()

    internships = view(db, "internships")
    assert tiles(internships)["London"] == 2 and tiles(internships)["Wales"] == 1
    assert (internships.national, internships.unplaced) == (1, 1)
    events = view(db, "events")
    assert tiles(events)["London"] == 2 and tiles(events)["Wales"] == 1
    assert tiles(view(db, "events", topic="carers")) == {"London": 1}
    assert tiles(view(db, "partnerships", admin=True)) == {"London": 1}
    assert tiles(view(db, "partnerships-completed", admin=True)) == {"London": 1}
    subscribers = tiles(view(db, "subscribers", admin=True))
    assert subscribers["London"] == subscribers["Scotland"] == 2 and subscribers["Wales"] == 1
    # The public map has no admin measures: asking for one shows the default.
    assert view(db, "subscribers").measure.key == "organisations"


MEASURES = [
    "organisations",
    "kind-vcse",
    "user-led",
    "category-free-standing-organisation",
    "funding-calls",
    "events",
    "internships",
    "partnerships",
    "partnerships-active",
    "subscribers",
]


def _grow(db, n: int) -> None:
    funder = factories.funder(db, region_name="London")
    for i in range(n):
        org = factories.organisation(
            db, region_name="North West" if i % 2 else "Wales", topics=["Carers"], user_led=True
        )
        call = f.call(db, funder, deadlines=[SOON])
        link_regions(db, m.funding_call_regions, "call_id", call.id, "UKD")
        f.internship(db, org, region_id=org.region_id)
        e = f.event(db, starts=SOON)
        e.host_organisation_id = org.id
        p = f.partnership(db, stage=m.PartnershipStage.ACTIVE)
        db.add(m.PartnershipMember(partnership_id=p.id, side=m.Side.VCSE, organisation_id=org.id))
        s = f.subscription(db, f"grow{n}-{i}@example.org")
        link_regions(db, m.subscription_regions, "subscription_id", s.id, "UKL")
    db.commit()


def test_every_measure_is_one_statement_and_flat_as_data_grows(db, admin_client, count_queries):
    counts: dict[str, list[int]] = {key: [] for key in MEASURES}
    for n in (2, 12):
        _grow(db, n)
        counted(db)
        for key in MEASURES:
            for topic in ("", "carers"):
                with count_queries() as q:
                    response = admin_client.get(f"/admin/map?measure={key}&topic={topic}")
                assert response.status_code == 200
                counts[key].append(q.count)
    # The session (1), the reference rows (1) and the measure's stored figures (1), at both sizes.
    assert all(c == [3, 3, 3, 3] for c in counts.values()), counts
    assert tiles(view(db, "user-led")) == {"North West": 7, "Wales": 7}


def test_public_page_reads_without_colour_and_says_the_same_in_a_table(client, db):
    factories.organisation(db, region_name="London")
    factories.organisation(db)
    db.commit()
    counted(db)
    html = client.get("/map").text
    assert '<svg class="chart" role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "London: 1, 0.01 per 100,000 people" in html  # the desc lists every figure
    assert '<a href="/organisations?region=london">London</a>' in html
    assert "What the shades mean" in html and "pattern" in html
    assert "<strong>1</strong> organisation in the directory has no region" in html
    assert "style=" not in html.split("<main", 1)[1]
    assert "Subscribers" not in html  # admin measures are not offered
    assert client.get("/map?measure=nonsense&topic=%3Cx%3E&scale=zzz").status_code == 200


def test_admin_map_needs_an_admin_and_offers_the_fellows_measures(client, admin_client):
    html = admin_client.get("/admin/map?measure=subscribers").text
    assert "Subscribers (active)" in html and "Partnerships at funded" in html


def test_admin_map_refuses_the_public(client):
    response = client.get("/admin/map", follow_redirects=False)
    assert response.status_code in {303, 401}


def test_fill_regions_from_postcodes(db):
    empty = factories.organisation(db, postcode="M1 1AE")
    kept = factories.organisation(db, region_name="Wales", postcode="M1 1AE")
    jersey = factories.organisation(db, postcode="JE2 3AB")
    flintshire = factories.organisation(db, postcode="CH7 1AB")
    db.commit()
    dry = fill_regions(db, apply=False)
    assert (dry.checked, dry.filled, dry.no_region) == (3, 2, 1)
    db.rollback()
    seen = []
    result = fill_regions(db, progress=seen.append)
    db.commit()
    assert result.filled == 2 and seen
    assert db.get(m.Organisation, flintshire.id).region_id == factories.region_id(db, "UKL")
    assert db.get(m.Organisation, empty.id).region_id == factories.region_id(db, "UKD")
    assert db.get(m.Organisation, kept.id).region_id == factories.region_id(db, "UKL")
    assert db.get(m.Organisation, jersey.id).region_id is None
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity_id == empty.id))
    assert entry.changes == {"region": [None, "North West"]}


def test_fill_regions_command_help():
    result = CliRunner().invoke(fill_command, ["--help"])
    assert result.exit_code == 0 and "--dry-run" in result.output and "postcode" in result.output
