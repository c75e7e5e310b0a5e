"""Public /internships: filters, sorting, paging, statement counts, pages, JSON-LD, feed, registering interest."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET

from sqlalchemy import func, select

from crm import models as m
from tests import factories
from tests.conftest import post_form
from tests.internships.helpers import make_internship, now

S = m.InternshipStatus


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/internships/[^"]+">([^<]+)</a></h2>', html)


def test_only_open_published_listings_are_listed(client, db):
    org = factories.organisation(db, "Hillside Collective")
    make_internship(db, org, title="Open one")
    make_internship(db, org, title="Draft one", status=S.DRAFT)
    make_internship(db, org, title="Waiting one", status=S.SUBMITTED)
    make_internship(db, org, title="Closed one", status=S.CLOSED)
    make_internship(db, org, title="Filled one", status=S.FILLED)
    make_internship(db, org, title="Past closing", days=-1)  # job not run yet: still hidden
    db.commit()
    page = client.get("/internships")
    assert page.status_code == 200
    assert titles(page.text) == ["Open one"]
    assert "Hillside Collective" in page.text


def test_filters(client, db):
    org = factories.organisation(db)
    a = make_internship(
        db,
        org,
        title="Alpha",
        mode="remote",
        pence=25000,
        hours=10,
        region="UKI",
        topics=("Psychosis",),
        stages=("student",),
        days=5,
    )
    b = make_internship(
        db,
        org,
        title="Beta",
        mode="on-site",
        hours=30,
        region="UKD",
        topics=("Carers",),
        direction=m.InternshipDirection.VCSE_TO_ACADEMIC,
        days=60,
    )
    c = make_internship(
        db,
        org,
        title="Gamma",
        mode="hybrid",
        pence=1000,
        period="hour",
        hours=20,
        region="UK",
        stages=("practitioner",),
        days=20,
    )
    db.commit()
    assert a and b and c

    def listed(query: str) -> set[str]:
        return set(titles(client.get(f"/internships?{query}").text))

    assert listed("direction=vcse-to-academic") == {"Beta"}
    assert listed("direction=researcher-to-vcse") == {"Alpha", "Gamma"}
    assert listed("mode=remote&mode=hybrid") == {"Alpha", "Gamma"}
    assert listed("paid=paid") == {"Alpha", "Gamma"}
    assert listed("paid=unpaid") == {"Beta"}
    assert listed("hours=15") == {"Alpha"}
    assert listed("hours=20") == {"Alpha", "Gamma"}
    assert listed("closing_within=1") == {"Alpha"}
    assert listed("closing_within=4") == {"Alpha", "Gamma"}
    assert listed("topic=psychosis") == {"Alpha"}
    assert listed("topic=psychosis&topic=carers") == {"Alpha", "Beta"}
    # UK-wide listings fit every region.
    assert listed("region=london") == {"Alpha", "Gamma"}
    assert listed("region=north-west") == {"Beta", "Gamma"}
    # No career stages listed = open to every stage.
    assert listed("stage=student") == {"Alpha", "Beta"}
    assert listed("stage=practitioner") == {"Beta", "Gamma"}
    assert listed("q=gamma") == {"Gamma"}
    assert listed("q=" + org.name.split()[0].lower()) == {"Alpha", "Beta", "Gamma"}
    # Bad filter values are ignored, never an error page.
    assert listed("hours=abc&paid=maybe&direction=x&closing_within=-3") == {"Alpha", "Beta", "Gamma"}


def test_sorting_and_keyset_paging(client, db):
    org = factories.organisation(db)
    for n in range(7):
        make_internship(db, org, title=f"Listing {n}", days=10 + n, published_at=now() - dt.timedelta(days=n))
    db.commit()
    first = client.get("/internships?sort=closing&page_size=3")
    assert titles(first.text) == ["Listing 0", "Listing 1", "Listing 2"]
    nxt = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(nxt)
    assert titles(second.text) == ["Listing 3", "Listing 4", "Listing 5"]
    newest = client.get("/internships?sort=newest&page_size=10")
    assert titles(newest.text) == [f"Listing {n}" for n in range(7)]
    seen, url = [], "/internships?sort=newest&page_size=2"
    while url:
        page = client.get(url)
        seen += titles(page.text)
        found = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [f"Listing {n}" for n in range(7)]


def test_htmx_returns_the_results_fragment(client, db):
    make_internship(db, factories.organisation(db), title="Fragment one")
    db.commit()
    fragment = client.get("/internships", headers={"HX-Request": "true"})
    assert "Fragment one" in fragment.text and "<html" not in fragment.text
    assert "<html" in client.get("/internships").text


def test_statement_count_is_constant_across_page_sizes(client, db, count_queries):
    org = factories.organisation(db)
    for n in range(30):
        make_internship(db, org, title=f"Bulk {n}", topics=("Carers",), stages=("student",), region="UKI")
    db.commit()
    counts = {}
    for size in (1, 10, 100):
        with count_queries() as q:
            response = client.get(f"/internships?page_size={size}&topic=carers&stage=student&region=london&paid=unpaid")
        assert response.status_code == 200
        counts[size] = q.count
        with count_queries() as q:
            client.get(f"/internships?page_size={size}", headers={"HX-Request": "true"})
        counts[f"htmx{size}"] = q.count
    # with the result count, read by the first page size and kept for the others (crm.httpcache.kept)
    assert counts[10] == counts[100] == counts[1] - 1 <= 3
    assert counts["htmx10"] == counts["htmx100"] == counts["htmx1"] - 1 <= 3


def test_page_has_valid_escaped_json_ld(client, db):
    org = factories.organisation(db, "Hosts & Partners")
    evil = 'Data </script><script>alert(1)</script> & "quotes"'
    i = make_internship(
        db, org, title="Peer research", description=evil, pence=25050, period="week", region="UKI", mode="hybrid"
    )
    db.commit()
    page = client.get(f"/internships/{i.slug}")
    assert page.status_code == 200
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page.text, re.S)
    assert len(blocks) == 1
    raw = blocks[0]
    assert "</" not in raw and "<" not in raw
    data = json.loads(raw)
    assert data["@type"] == "JobPosting" and data["@context"].startswith("https://schema.org")
    assert data["title"] == "Peer research" and data["description"] == evil
    assert data["hiringOrganization"]["name"] == "Hosts & Partners"
    assert data["baseSalary"]["currency"] == "GBP" and data["baseSalary"]["value"]["value"] == 250.5
    assert data["baseSalary"]["value"]["unitText"] == "WEEK"
    assert data["validThrough"].endswith("Z") and data["datePosted"]
    assert data["jobLocation"]["address"]["addressRegion"] == "London"
    assert "£250.50 a week" in page.text
    # Personal data never on the public page.
    assert "host@example.org" not in page.text and "Host Person" not in page.text


def test_unpaid_says_so_and_remote_is_telecommute(client, db):
    i = make_internship(db, factories.organisation(db), title="Unpaid remote", mode="remote")
    db.commit()
    page = client.get(f"/internships/{i.slug}")
    assert "Unpaid" in page.text
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page.text, re.S).group(1))
    assert data["jobLocationType"] == "TELECOMMUTE" and "baseSalary" not in data


def test_closed_and_filled_pages_say_so_and_drafts_are_hidden(client, db):
    org = factories.organisation(db)
    closed = make_internship(db, org, status=S.CLOSED, days=-3)
    filled = make_internship(db, org, status=S.FILLED)
    draft = make_internship(db, org, status=S.DRAFT)
    waiting = make_internship(db, org, status=S.SUBMITTED)
    db.commit()
    page = client.get(f"/internships/{closed.slug}")
    assert page.status_code == 200 and "no longer takes applications" in page.text and "closed on" in page.text
    assert "application/ld+json" not in page.text and "Register interest" not in page.text
    page = client.get(f"/internships/{filled.slug}")
    assert "has been filled" in page.text
    assert client.get(f"/internships/{draft.slug}").status_code == 404
    assert client.get(f"/internships/{waiting.slug}").status_code == 404
    assert client.get("/internships/no-such-thing").status_code == 404


def test_feed_is_valid_atom_with_escaped_values(client, db):
    org = factories.organisation(db, "Mind & Body <Group>")
    make_internship(db, org, title="Tricky <b>title</b> & more", description="a < b & c")
    make_internship(db, org, title="Not in feed", status=S.CLOSED)
    db.commit()
    response = client.get("/internships/feed.xml")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1
    assert entries[0].find("a:title", ns).text == "Tricky <b>title</b> & more — Mind & Body <Group>"
    assert "a < b & c" in entries[0].find("a:summary", ns).text
    assert entries[0].find("a:link", ns).get("href").startswith("http://testserver.local/internships/")


def test_register_interest_once_emails_host_and_stays_private(client, db):
    i = make_internship(
        db, factories.organisation(db, "Host Org"), title="Interest test", contact_email="host.contact@example.org"
    )
    db.commit()
    data = {"name": "Ada Example", "email": "Ada@Example.org", "note": "Keen!", "consent": "1"}
    first = post_form(client, f"/internships/{i.slug}/interest", data)
    assert first.status_code == 200 and "your interest is registered" in first.text
    second = post_form(client, f"/internships/{i.slug}/interest", {**data, "email": "ada@example.org"})
    assert second.status_code == 200 and "already registered" in second.text
    assert db.scalar(select(func.count(m.InternshipInterest.id))) == 1
    mails = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "internship_interest")).all()
    assert len(mails) == 1 and mails[0].recipient == "host.contact@example.org"
    assert "Ada Example" in mails[0].text_body and "ada@example.org" in mails[0].text_body and not mails[0].bulk
    assert mails[0].headers == {"Reply-To": "Ada Example <ada@example.org>"}  # the host's reply reaches the applicant
    public = client.get(f"/internships/{i.slug}").text + client.get("/internships").text
    assert "Ada" not in public and "ada@example.org" not in public
    # The applicant gets a receipt (once), saying who has their details now.
    receipts = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "internship_interest_receipt")).all()
    assert [r.recipient for r in receipts] == ["ada@example.org"]
    assert "Interest test" in receipts[0].subject and "We have sent your name and email address and your note" in (
        receipts[0].text_body
    )


def test_register_interest_needs_consent_and_rerenders_values(client, db):
    i = make_internship(db, factories.organisation(db))
    db.commit()
    response = post_form(
        client, f"/internships/{i.slug}/interest", {"name": "Bo Sample", "email": "not-an-email", "note": "Hello"}
    )
    assert response.status_code == 422
    assert "Tick the box" in response.text and "valid email" in response.text
    assert 'value="Bo Sample"' in response.text and "Hello</textarea>" in response.text
    assert db.scalar(select(func.count(m.InternshipInterest.id))) == 0


def test_register_interest_refused_when_closed(client, db):
    i = make_internship(db, factories.organisation(db), status=S.FILLED)
    db.commit()
    data = {"name": "Ada", "email": "ada@example.org", "consent": "1"}
    response = post_form(client, f"/internships/{i.slug}/interest", data)
    assert response.status_code == 409
    assert db.scalar(select(func.count(m.InternshipInterest.id))) == 0


def test_register_interest_is_rate_limited(client, db):
    i = make_internship(db, factories.organisation(db))
    db.commit()
    codes = [
        post_form(
            client, f"/internships/{i.slug}/interest", {"name": "Ada", "email": "ada@example.org", "consent": "1"}
        ).status_code
        for _ in range(12)
    ]
    assert codes[0] == 200 and codes[-1] == 429


def test_alert_link_carries_the_current_filters(client, db):
    page = client.get("/internships?direction=researcher-to-vcse&topic=carers&region=london&mode=remote&paid=paid")
    link = re.search(r'href="(/subscribe\?[^"]+)">Get alerts for this search', page.text).group(1)
    link = link.replace("&amp;", "&")
    carers = db.scalar(select(m.Topic.id).where(m.Topic.slug == "carers"))
    london = db.scalar(select(m.Region.id).where(m.Region.slug == "london"))
    assert "mailings=internship_alerts" in link
    for part in (f"topics={carers}", f"regions={london}", "direction=researcher-to-vcse", "mode=remote", "paid=paid"):
        assert part in link
    fragment = client.get("/internships?paid=unpaid", headers={"HX-Request": "true"}).text
    assert "paid=unpaid" in fragment.replace("&amp;", "&")


def test_offer_page_explains_how_to_post(client, db, settings):
    page = client.get("/internships/offer")
    assert page.status_code == 200 and "Offer an internship" in page.text and "/sign-in?next=" in page.text
    from crm.internships.services import _unique_slug

    assert _unique_slug(db, "Offer") == "offer-internship"
