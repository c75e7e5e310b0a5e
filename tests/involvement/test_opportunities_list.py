"""Public /involvement: only open opportunities, every filter (a region includes online and UK-wide ones), sorting,
paging, flat statement counts, the opportunity's page (open and closed) and the closing job."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from crm import models as m
from crm.involvement import jobs
from tests import factories
from tests.involvement.opportunities_factory import make_opportunity, now

S = m.OpportunityStatus


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/involvement/[^"]+">([^<]+)</a></h2>', html)


def test_only_open_published_opportunities_are_listed(client, db):
    make_opportunity(db, title="Open one")
    for status in (S.DRAFT, S.SUBMITTED, S.CLOSED, S.REJECTED):
        make_opportunity(db, title=f"{status.value} one", status=status)
    make_opportunity(db, title="Past closing", days=-1)  # the job has not run yet: still hidden
    db.commit()
    page = client.get("/involvement")
    assert page.status_code == 200
    assert titles(page.text) == ["Open one"]
    assert "1 open opportunity" in page.text
    assert '<a href="/involvement">Involvement</a>' in page.text  # in the public navigation


def test_filters_kind_topic_pay_commitment_and_closing(client, db):
    crisis = factories.topic(db, "Crisis care")
    make_opportunity(db, title="Paid advisory", kind="advisory-group", topic_ids=[str(crisis.id)], days=5)
    make_opportunity(db, title="Expenses consultation", kind="consultation", paid="", commitment="one-off", days=40)
    make_opportunity(db, title="Unpaid nothing", kind="training", paid="", expenses_covered="", days=10)
    db.commit()

    def shown(query: str) -> list[str]:
        response = client.get(f"/involvement?{query}")
        assert response.status_code == 200
        return sorted(titles(response.text))

    assert shown("kind=consultation") == ["Expenses consultation"]
    assert shown("topic=crisis-care") == ["Paid advisory"]
    assert shown("pay=paid") == ["Paid advisory"]
    assert shown("pay=expenses") == ["Expenses consultation"]
    assert shown("commitment=one-off") == ["Expenses consultation"]
    closing = (now().date() + dt.timedelta(days=20)).isoformat()
    assert shown(f"closing_before={closing}") == ["Paid advisory", "Unpaid nothing"]
    assert shown("q=consultation") == ["Expenses consultation"]
    assert len(shown("kind=nonsense&pay=lots")) == 3  # a value no menu offers is ignored


def test_a_region_includes_online_and_uk_wide_ones(client, db):
    make_opportunity(db, title="In London", online="", region="UKI")
    make_opportunity(db, title="In Wales", online="", region="UKL")
    make_opportunity(db, title="Online anywhere", online="1")
    make_opportunity(db, title="Across the UK", online="", region="UK")
    db.commit()
    response = client.get("/involvement?region=london")
    assert sorted(titles(response.text)) == ["Across the UK", "In London", "Online anywhere"]
    assert "also ones you can do online" in response.text


def test_a_closing_date_that_is_not_a_date_is_said_plainly(client, db):
    make_opportunity(db, title="Anything")
    db.commit()
    response = client.get("/involvement?closing_before=next+week")
    assert response.status_code == 200
    assert "Closing on or before: enter a date like 2027-03-31. “next week” is not a date." in response.text
    assert titles(response.text) == []
    fragment = client.get("/involvement?closing_before=31/12", headers={"HX-Request": "true"})
    assert "is not a date" in fragment.text and "<html" not in fragment.text


def test_sorting_and_paging(client, db):
    for n in range(5):
        make_opportunity(db, title=f"Role {n}", days=10 - n)
    db.commit()
    first = client.get("/involvement?page_size=2")
    assert titles(first.text) == ["Role 4", "Role 3"]  # closing soonest first
    cursor = re.search(r'href="/involvement\?[^"]*cursor=([^"&]+)', first.text)
    assert cursor is not None
    second = client.get(f"/involvement?page_size=2&cursor={cursor.group(1)}")
    assert titles(second.text) == ["Role 2", "Role 1"]
    newest = client.get("/involvement?sort=newest&page_size=1")
    assert titles(newest.text) == ["Role 4"]


def test_statement_count_is_flat_across_page_sizes(client, db, count_queries):
    crisis = factories.topic(db, "Crisis care")
    for n in range(30):
        make_opportunity(db, title=f"Bulk {n}", topic_ids=[str(crisis.id)], region="UKI", online="")
    db.commit()
    counts = {}
    for size in (1, 10, 100):
        with count_queries() as q:
            response = client.get(f"/involvement?page_size={size}&topic=crisis-care&region=london&pay=paid")
        assert response.status_code == 200
        counts[size] = q.count
        with count_queries() as q:
            client.get(f"/involvement?page_size={size}", headers={"HX-Request": "true"})
        counts[f"htmx{size}"] = q.count
    assert counts[1] == counts[10] == counts[100] == 3  # page, count, the filter menus
    assert counts["htmx1"] == counts["htmx10"] == counts["htmx100"] == 2  # page, count


def test_the_page_says_what_is_sought_done_paid_and_offered(client, db, count_queries):
    org = factories.organisation(db, "Northbridge Mental Health Research")
    opp = make_opportunity(
        db,
        title="Crisis care panel",
        organisation_id=str(org.id),
        payment_amount="12.50",
        payment_basis="hour",
        payment_note="Vouchers available.",
        contact_email="secret-poster@example.org",
    )
    db.commit()
    with count_queries() as q:
        page = client.get(f"/involvement/{opp.slug}")
    assert page.status_code == 200
    assert q.count == 2, q.statements  # the opportunity with its organisation and region; its topics
    text = page.text
    for expected in (
        "The lived experience we are looking for",
        "You have used crisis services",
        "What you will do",
        "£12.50 per hour",
        "Your expenses, such as travel, are covered.",
        "Vouchers available.",
        "Accessibility and support",
        "Papers in easy read on request",
        "Express interest",
        "Northbridge Mental Health Research",
    ):
        assert expected in text, expected
    assert "secret-poster@example.org" not in text


def test_a_closed_opportunity_keeps_its_page_and_says_so(client, db):
    closed = make_opportunity(db, title="Finished", status=S.CLOSED)
    lapsed = make_opportunity(db, title="Lapsed", days=-2)  # past its date, the job not run yet
    draft = make_opportunity(db, title="Not yet", status=S.DRAFT)
    db.commit()
    for opp in (closed, lapsed):
        page = client.get(f"/involvement/{opp.slug}")
        assert page.status_code == 200
        assert "It is no longer taking expressions of interest." in page.text
        assert 'action="/involvement/' not in page.text  # no form
        assert "<dt>Offered by</dt><dd>The Roundtable team</dd>" in page.text  # no organisation: the fellow's own
    assert client.get(f"/involvement/{draft.slug}").status_code == 404
    missing = client.get("/involvement/no-such-thing")
    assert missing.status_code == 404


def test_the_job_closes_what_passed_its_date_in_one_update(db, count_queries):
    due = [make_opportunity(db, title=f"Due {n}", days=-1) for n in range(3)]
    keep = make_opportunity(db, title="Still open", days=1)
    draft = make_opportunity(db, title="Draft", days=-1, status=S.DRAFT)
    db.commit()
    with count_queries() as q:
        closed = jobs.close_expired(db, now=now())
    db.commit()
    assert closed == 3
    assert q.count == 2  # one UPDATE ... RETURNING, one INSERT of the audit entries
    for opp in due:
        db.refresh(opp)
        assert opp.status == S.CLOSED and opp.closed_at is not None
    db.refresh(keep)
    db.refresh(draft)
    assert keep.status == S.PUBLISHED and draft.status == S.DRAFT
    assert jobs.close_expired(db, now=now()) == 0
    summaries = db.scalars(select(m.AuditEntry.summary).where(m.AuditEntry.action == "close")).all()
    assert len(summaries) == 3
    assert [j.id for j in jobs.JOBS] == ["involvement.close_expired"]


def test_text_keeps_its_lines_and_paragraphs_and_is_escaped(client, db):
    opp = make_opportunity(db, what_you_will_do="First paragraph.\n\n- read papers\n- <b>speak</b> up")
    opp.lived_experience_sought = ""  # rows written outside the form (demo data, an old import) may lack it
    db.commit()
    text = client.get(f"/involvement/{opp.slug}").text
    assert "<p>First paragraph.</p><p>- read papers<br>- &lt;b&gt;speak&lt;/b&gt; up</p>" in text
    assert "The lived experience we are looking for" not in text  # an empty section is left out
