"""The fellow's review queue (/admin/review) shows involvement opportunities sent through /involvement/offer beside
the groups waiting, in one statement more; approving or turning one down there goes through the involvement
pages' own handlers (crm.involvement.posting) and comes back to the queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from crm import models as m
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.involvement.test_posting import latest, offer, outbox, posted

S = m.OpportunityStatus


def _sent(client: Any, db: Any, title: str, email: str = "Sam.Poster@Uni.example.ac.uk") -> m.InvolvementOpportunity:
    return posted(client, db, title=title, contact_email=email)


def _fellow(client: Any, db: Any, settings: Any) -> None:
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)


def _queue_statements(client: Any, count_queries: Any) -> list[str]:
    with count_queries() as q:
        response = client.get("/admin/review")
    assert response.status_code == 200
    return q.statements


def test_a_public_offer_waits_in_the_review_queue_beside_groups(client: Any, db: Any, settings: Any) -> None:
    opp = _sent(client, db, "Advisory group on crisis care, from the public form")
    factories.organisation_via_form(
        db, "Waiting Walkers", review_status=m.ReviewStatus.SUBMITTED, submitter_email="walkers@example.org"
    )
    db.commit()
    _fellow(client, db, settings)
    page = client.get("/admin/review").text
    assert "Waiting Walkers" in page  # the groups stay
    assert "Involvement opportunities waiting for approval" in page
    assert 'Also waiting: <a href="#opportunities-waiting-h">1 involvement opportunity</a>' in page
    assert f'<a href="/admin/involvement/{opp.id}">Advisory group on crisis care, from the public form</a>' in page
    assert f"sent by Dr Sam Poster &lt;{opp.contact_email}&gt;" in page
    assert "£25 per meeting" in page and "Help shape a three-year study" in page
    new_organisation = "The organisation, Northern Mental Health Research Unit, is new: it waits for your review"
    assert new_organisation in page
    organisation = db.get(m.Organisation, opp.organisation_id)
    organisation.review_status = m.ReviewStatus.APPROVED
    db.commit()
    assert new_organisation not in client.get("/admin/review").text
    assert f'action="/admin/involvement/{opp.id}/approve"' in page
    assert f'action="/admin/involvement/{opp.id}/reject"' in page


def test_only_opportunities_waiting_are_in_the_queue(client: Any, db: Any, settings: Any) -> None:
    waiting = _sent(client, db, "Still waiting for a decision")
    published = _sent(client, db, "Already published one")
    published.status = S.PUBLISHED
    db.commit()
    turned_down = _sent(client, db, "Turned down one")
    turned_down.status = S.REJECTED
    db.commit()
    _fellow(client, db, settings)
    page = client.get("/admin/review").text
    assert waiting.title in page
    assert published.title not in page and turned_down.title not in page


def test_an_empty_queue_says_so_for_each_kind(client: Any, db: Any, settings: Any) -> None:
    _fellow(client, db, settings)
    page = client.get("/admin/review").text
    assert "No groups are waiting for review." in page
    assert "No involvement opportunities are waiting for approval." in page and "Also waiting" not in page


def test_approving_from_the_queue_publishes_emails_the_link_and_comes_back(client: Any, db: Any, settings: Any) -> None:
    opp = _sent(client, db, "Approve me from the queue")
    _fellow(client, db, settings)
    r = post_form(client, f"/admin/involvement/{opp.id}/approve", {"back": "review"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/review?notice=approved-link"
    assert latest(db).status == S.PUBLISHED
    assert len(outbox(db, "involvement_posting_manage_link")) == 1
    page = client.get(r.headers["location"]).text
    assert "The poster has been emailed their private link." in page
    assert "Approve me from the queue" not in page
    assert client.get(f"/involvement/{opp.slug}").status_code == 200


def test_turning_down_from_the_queue_tells_the_poster_the_reason(client: Any, db: Any, settings: Any) -> None:
    opp = _sent(client, db, "Turn me down from the queue")
    _fellow(client, db, settings)
    r = post_form(
        client,
        f"/admin/involvement/{opp.id}/reject",
        {"back": "review", "note": "Please add how people are paid."},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/review?notice=rejected"
    assert latest(db).status == S.REJECTED
    db.expire_all()
    bodies = " ".join(
        msg.text_body or ""
        for msg in db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.recipient == opp.contact_email))
    )
    assert "Please add how people are paid." in bodies
    assert "Turned down. The poster has been told." in client.get(r.headers["location"]).text


def test_without_back_the_decision_still_goes_to_the_opportunity_page(client: Any, db: Any, settings: Any) -> None:
    opp = _sent(client, db, "Decided on its own page")
    _fellow(client, db, settings)
    r = post_form(
        client, f"/admin/involvement/{opp.id}/approve", {"back": "https://elsewhere.example"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/admin/involvement/{opp.id}?notice=approved-link"


def test_a_decision_taken_twice_is_refused_with_a_message(client: Any, db: Any, settings: Any) -> None:
    opp = _sent(client, db, "Decided twice")
    _fellow(client, db, settings)
    post_form(client, f"/admin/involvement/{opp.id}/reject", {"back": "review"})
    r = post_form(client, f"/admin/involvement/{opp.id}/reject", {"back": "review"})
    assert r.status_code == 409 and "Only an opportunity waiting for approval can be turned down." in r.text


def test_a_closing_date_that_passed_while_waiting_is_said_and_approving_is_refused(
    client: Any, db: Any, settings: Any
) -> None:
    opp = _sent(client, db, "Waited too long")
    opp.closes_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    db.commit()
    _fellow(client, db, settings)
    page = client.get("/admin/review").text
    assert "Its closing date has passed, so it cannot be published as it is." in page
    assert f'<a href="/admin/involvement/{opp.id}/edit">Change the closing date</a>' in page
    r = post_form(client, f"/admin/involvement/{opp.id}/approve", {"back": "review"})
    assert r.status_code == 409 and "The closing date has passed." in r.text
    assert latest(db).status == S.SUBMITTED


def test_the_queue_is_for_the_fellow_only(client: Any, db: Any, settings: Any) -> None:
    _sent(client, db, "Not for editors")
    uni = factories.organisation(db, "University of Review", m.OrgKind.ACADEMIC)
    db.commit()
    user = sign_in_as(client, db, settings, "editor@uni.example.ac.uk", m.Role.EDITOR)
    user.organisation_id = uni.id
    db.commit()
    assert client.get("/admin/review").status_code == 403


def test_the_opportunities_cost_the_queue_one_statement_however_many_wait(
    client: Any, db: Any, settings: Any, count_queries: Any
) -> None:
    _fellow(client, db, settings)
    empty = _queue_statements(client, count_queries)
    assert sum("involvement_opportunities" in s for s in empty) == 1
    for i in range(6):
        post_form(client, "/involvement/offer", offer(title=f"Waiting number {i}", contact_email=f"p{i}@example.org"))
    _fellow(client, db, settings)
    full = _queue_statements(client, count_queries)
    assert len(full) == len(empty) == 3, full  # the signed-in user, the groups, the opportunities
    assert sum("involvement_opportunities" in s for s in full) == 1
