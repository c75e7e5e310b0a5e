"""The involvement opportunity admin pages (issue 18): who sees what (the fellow everything, an academic editor
their own and their organisation's, nobody else anything), the list (tabs, search, filters, sorts, pages, CSV, empty
states, flat statement counts), the form on the one validation, moderation actions, interest statuses, delete."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from sqlalchemy import func, select

from crm import models as m
from crm.involvement import editing
from crm.involvement.rules import london_today
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.internships.helpers import sign_in

S = m.OpportunityStatus


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Co-producing a study of peer support",
        "kind": "co-production",
        "summary": "Shape the questions and the analysis with us.",
        "lived_experience_sought": "Experience of giving or receiving peer support.",
        "what_you_will_do": "Monthly meetings for a year.",
        "commitment": "ongoing",
        "time_commitment": "Three hours a month",
        "online": "1",
        "paid": "1",
        "payment_amount": "20",
        "payment_basis": "hour",
        "expenses_covered": "1",
        "closing_date": (london_today(now()) + dt.timedelta(days=40)).isoformat(),
        "contact_name": "Dr Team Lead",
        "contact_email": "lead@uni.example.ac.uk",
        "intent": "publish",
    }
    data.update(overrides)
    return data


def make(
    db: Any,
    title: str,
    *,
    status: S = S.PUBLISHED,
    organisation: m.Organisation | None = None,
    user: m.User | None = None,
    **overrides: Any,
) -> m.InvolvementOpportunity:
    values = form(title=title, **overrides)
    if organisation is not None:
        values["organisation_id"] = str(organisation.id)
    data, errors = editing.validate(db, values, today=london_today(now()))
    assert data is not None, errors
    opp = editing.create(db, data, status=status, user_id=user.id if user else None, now=now())
    db.commit()
    return opp


def interest(db: Any, opp: m.InvolvementOpportunity, name: str, email: str) -> m.InvolvementInterest:
    row = m.InvolvementInterest(opportunity_id=opp.id, name=name, email=email, note="I would like to help.")
    db.add(row)
    db.commit()
    return row


def academic_editor(client: Any, db: Any, settings: Any, email: str = "editor@uni.example.ac.uk") -> m.User:
    uni = factories.organisation(db, "University of Somewhere", m.OrgKind.ACADEMIC)
    db.commit()
    return sign_in(client, db, settings, email, m.Role.EDITOR, uni.id)


# ---------------------------------------------------------------------------------------------------------------
# Who sees what


def test_only_the_fellow_and_academic_editors_get_in(client: Any, db: Any, settings: Any) -> None:
    assert client.get("/admin/involvement", follow_redirects=False).status_code in (302, 303)
    charity = factories.organisation(db, "A Charity", m.OrgKind.VCSE)
    db.commit()
    sign_in(client, db, settings, "charity-editor@example.org", m.Role.EDITOR, charity.id)
    refused = client.get("/admin/involvement")
    assert refused.status_code == 403 and "university or research organisation" in refused.text
    sign_in(client, db, settings, "loose-editor@example.org", m.Role.EDITOR, None)
    assert client.get("/admin/involvement/new").status_code == 403
    sign_in(client, db, settings, "viewer@example.org", m.Role.VIEWER, None)
    assert client.get("/admin/involvement").status_code == 403
    academic_editor(client, db, settings)
    assert client.get("/admin/involvement").status_code == 200


def test_an_editor_sees_and_changes_only_their_own(client: Any, db: Any, settings: Any) -> None:
    editor = academic_editor(client, db, settings)
    other_org = factories.organisation(db, "Another University", m.OrgKind.ACADEMIC)
    mine = make(db, "Mine by account", user=editor)
    ours = make(db, "Ours by organisation", organisation=db.get(m.Organisation, editor.organisation_id))
    theirs = make(db, "Theirs entirely", organisation=other_org)
    interest(db, theirs, "Private Person", "private@example.org")
    page = client.get("/admin/involvement")
    assert "Mine by account" in page.text and "Ours by organisation" in page.text
    assert "Theirs entirely" not in page.text
    assert client.get(f"/admin/involvement/{mine.id}").status_code == 200
    assert client.get(f"/admin/involvement/{ours.id}").status_code == 200
    for url in (f"/admin/involvement/{theirs.id}", f"/admin/involvement/{theirs.id}/edit"):
        response = client.get(url)
        assert response.status_code == 404 and "private@example.org" not in response.text
    assert post_form(client, f"/admin/involvement/{theirs.id}/close").status_code == 404
    assert post_form(client, f"/admin/involvement/{theirs.id}/delete").status_code == 404
    # Moderation is the fellow's.
    assert post_form(client, f"/admin/involvement/{mine.id}/approve").status_code == 403
    csv_text = client.get("/admin/involvement/export.csv").text
    assert "Theirs entirely" not in csv_text and "Mine by account" in csv_text


def test_an_editor_posts_for_their_own_organisation_straight_away(client: Any, db: Any, settings: Any) -> None:
    editor = academic_editor(client, db, settings)
    other = factories.organisation(db, "Elsewhere", m.OrgKind.ACADEMIC)
    db.commit()
    new = client.get("/admin/involvement/new")
    assert new.status_code == 200 and "University of Somewhere" in new.text and "Elsewhere" not in new.text
    response = post_form(
        client, "/admin/involvement/new", form(organisation_id=str(other.id)), follow_redirects=False
    )  # another organisation in the form is ignored: an editor posts for theirs
    assert response.status_code == 303
    opp = db.scalar(select(m.InvolvementOpportunity))
    assert opp.status == S.PUBLISHED and opp.organisation_id == editor.organisation_id
    assert opp.created_by_user_id == editor.id and not opp.public_posted


# ---------------------------------------------------------------------------------------------------------------
# The form


def test_the_form_refuses_bad_input_with_every_message(admin_client: Any, db: Any) -> None:
    past = (london_today(now()) - dt.timedelta(days=3)).isoformat()
    response = post_form(
        admin_client,
        "/admin/involvement/new",
        form(title="", closing_date=past, payment_amount="twelve", online="", region_id="", organisation_id="999999"),
    )
    assert response.status_code == 422
    for message in (
        "Enter a title",
        "The closing date is in the past",
        "Enter an amount in pounds",
        "Choose the region where it happens, or say it can be done online.",
        "Choose an organisation from the list.",
    ):
        assert message in response.text, message
    assert 'value="twelve"' in response.text
    response = post_form(admin_client, "/admin/involvement/new", form(payment_amount="20000"))
    assert response.status_code == 422 and "more than £10,000" in response.text
    assert db.scalar(select(func.count()).select_from(m.InvolvementOpportunity)) == 0


def test_the_fellow_creates_a_draft_edits_and_publishes_it(admin_client: Any, db: Any) -> None:
    uni = factories.organisation(db, "Research Unit", m.OrgKind.ACADEMIC)
    db.commit()
    response = post_form(
        admin_client, "/admin/involvement/new", form(intent="draft", organisation_id=str(uni.id)),
        follow_redirects=False,
    )  # fmt: skip
    opp = db.scalar(select(m.InvolvementOpportunity))
    assert response.headers["location"] == f"/admin/involvement/{opp.id}?notice=created"
    assert opp.status == S.DRAFT and opp.organisation_id == uni.id
    edit = admin_client.get(f"/admin/involvement/{opp.id}/edit")
    assert edit.status_code == 200 and 'value="20.00"' in edit.text
    response = post_form(
        admin_client, f"/admin/involvement/{opp.id}/edit", form(title="A better title", payment_amount="22.50"),
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    bad = post_form(admin_client, f"/admin/involvement/{opp.id}/edit", form(payment_amount="abc"))
    assert bad.status_code == 422 and "Enter an amount in pounds" in bad.text
    post_form(admin_client, f"/admin/involvement/{opp.id}/publish")
    db.expire_all()
    opp = db.get(m.InvolvementOpportunity, opp.id)
    assert opp.title == "A better title" and opp.payment_pence == 2250 and opp.status == S.PUBLISHED
    page = admin_client.get(f"/admin/involvement/{opp.id}")
    assert "£22.50 per hour, plus expenses" in page.text and f"/admin/involvement/{opp.id}/matches" in page.text
    assert "A better title" in page.text and "History" in page.text
    post_form(admin_client, f"/admin/involvement/{opp.id}/close")
    db.expire_all()
    assert db.get(m.InvolvementOpportunity, opp.id).status == S.CLOSED
    post_form(admin_client, f"/admin/involvement/{opp.id}/publish")  # open again: the closing date is ahead
    db.expire_all()
    assert db.get(m.InvolvementOpportunity, opp.id).status == S.PUBLISHED


# ---------------------------------------------------------------------------------------------------------------
# The list


def test_tabs_search_filters_and_the_empty_state(admin_client: Any, db: Any) -> None:
    empty = admin_client.get("/admin/involvement")
    assert "No involvement opportunities yet" in empty.text
    make(db, "Crisis care advisory group", kind="advisory-group")
    make(db, "Speaking at our conference", kind="speaking", paid="", payment_amount="", payment_basis="")
    make(db, "Waiting one", status=S.SUBMITTED)
    make(db, "Draft one", status=S.DRAFT)
    page = admin_client.get("/admin/involvement")
    assert "All (4)" in page.text and "Waiting for approval (1)" in page.text and "Published (2)" in page.text
    waiting = admin_client.get("/admin/involvement?status=submitted")
    assert "Waiting one" in waiting.text and "Crisis care advisory group" not in waiting.text
    assert 'aria-current="page"' in waiting.text
    found = admin_client.get("/admin/involvement?q=crisis")
    assert "Crisis care advisory group" in found.text and "Speaking at our conference" not in found.text
    assert "All (1)" in found.text  # the tabs count under the search
    speaking = admin_client.get("/admin/involvement?kind=speaking")
    assert "Speaking at our conference" in speaking.text and "Crisis care advisory group" not in speaking.text
    expenses = admin_client.get("/admin/involvement?payment=expenses")
    assert "Speaking at our conference" in expenses.text and "Crisis care advisory group" not in expenses.text
    nothing = admin_client.get("/admin/involvement?q=zzzz")
    assert "No opportunities match." in nothing.text and "Clear the search" in nothing.text
    fragment = admin_client.get("/admin/involvement?kind=speaking", headers={"HX-Request": "true"})
    assert "<h1>" not in fragment.text and "Speaking at our conference" in fragment.text
    odd = admin_client.get("/admin/involvement?status=nonsense&kind=%27;drop&cursor=garbage&sort=xx&region=abc")
    assert odd.status_code == 200


def test_sorting_and_paging(admin_client: Any, db: Any) -> None:
    for title in ("Bravo", "Alpha", "Charlie", "Delta", "Echo"):
        make(db, title)
    page = admin_client.get("/admin/involvement?sort=title&page_size=2")
    assert page.text.index("Alpha") < page.text.index("Bravo") and "Charlie" not in page.text
    assert "5 opportunities" in page.text
    next_href = page.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = admin_client.get(next_href)
    assert "Charlie" in second.text and "Delta" in second.text and "Alpha" not in second.text
    backwards = admin_client.get("/admin/involvement?sort=-title&page_size=2")
    assert "Echo" in backwards.text and "Alpha" not in backwards.text


def test_the_list_costs_the_same_statements_at_any_size(admin_client: Any, db: Any, count_queries: Any) -> None:
    make(db, "First")
    admin_client.get("/admin/involvement")
    with count_queries() as small:
        assert admin_client.get("/admin/involvement").status_code == 200
    for n in range(12):
        opp = make(db, f"More {n}", status=S.SUBMITTED if n % 2 else S.PUBLISHED)
        interest(db, opp, f"Person {n}", f"p{n}@example.org")
    with count_queries() as large:
        assert admin_client.get("/admin/involvement?page_size=5").status_code == 200
    assert small.count == large.count <= 5


def test_the_csv_is_what_the_list_shows_without_personal_data(admin_client: Any, db: Any) -> None:
    opp = make(db, "=cmd| a formula title")
    make(db, "Not this one", kind="training")
    interest(db, opp, "Ada Applicant", "ada@example.org")
    response = admin_client.get("/admin/involvement/export.csv?kind=co-production")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:4] == ["id", "title", "kind", "status"]
    assert len(rows) == 2 and rows[1][1] == "'=cmd| a formula title" and rows[1][11] == "1"
    assert "ada@example.org" not in response.text and "lead@uni.example.ac.uk" not in response.text


# ---------------------------------------------------------------------------------------------------------------
# Interest and deleting


def test_the_fellow_sets_a_status_and_emails_the_decision(admin_client: Any, db: Any) -> None:
    opp = make(db, "With people")
    ada = interest(db, opp, "Ada Applicant", "ada@example.org")
    page = admin_client.get(f"/admin/involvement/{opp.id}")
    assert "Ada Applicant" in page.text and "ada@example.org" in page.text and "New: 1" in page.text
    response = post_form(
        admin_client, f"/admin/involvement/{opp.id}/interests/{ada.id}", {"status": "not-selected", "notify": "1"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303 and "notice=told" in response.headers["location"]
    message = db.scalar(select(m.OutboxMessage).where(m.OutboxMessage.kind == "involvement_decision"))
    assert message.recipient == "ada@example.org" and "lead@uni.example.ac.uk" in message.headers["Reply-To"]
    bad = post_form(admin_client, f"/admin/involvement/{opp.id}/interests/{ada.id}", {"status": "maybe"})
    assert bad.status_code == 422 and "Choose new, contacted, selected or not selected." in bad.text
    missing = post_form(admin_client, f"/admin/involvement/{opp.id}/interests/999999", {"status": "new"})
    assert missing.status_code == 404


def test_delete_asks_first_and_takes_the_interest_with_it(admin_client: Any, db: Any) -> None:
    opp = make(db, "To be deleted", status=S.CLOSED)
    interest(db, opp, "Ada Applicant", "ada@example.org")
    interest(db, opp, "Bo Applicant", "bo@example.org")
    opp_id = opp.id
    confirm = admin_client.get(f"/admin/involvement/{opp_id}/delete")
    assert (
        confirm.status_code == 200
        and "expressions of interest will be deleted too" in confirm.text
        and "2 people" in confirm.text
    )
    response = post_form(admin_client, f"/admin/involvement/{opp_id}/delete", follow_redirects=False)
    assert response.headers["location"] == "/admin/involvement?notice=deleted"
    db.expire_all()
    assert db.get(m.InvolvementOpportunity, opp_id) is None
    assert db.scalar(select(func.count()).select_from(m.InvolvementInterest)) == 0
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "delete"))
    assert "2 expressions of interest" in entry.summary and "Ada" not in entry.summary
    assert "deleted" in admin_client.get("/admin/involvement?notice=deleted").text
    assert admin_client.get(f"/admin/involvement/{opp_id}").status_code == 404


def test_the_admin_nav_offers_involvement(client: Any, db: Any, settings: Any) -> None:
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    assert 'href="/admin/involvement"' in client.get("/admin").text


def test_an_opportunitys_page_costs_the_same_statements_at_any_size(
    admin_client: Any, db: Any, count_queries: Any
) -> None:
    opp = make(db, "Popular")
    interest(db, opp, "Person 0", "p0@example.org")
    admin_client.get(f"/admin/involvement/{opp.id}")
    with count_queries() as small:
        assert admin_client.get(f"/admin/involvement/{opp.id}").status_code == 200
    for n in range(1, 10):
        interest(db, opp, f"Person {n}", f"p{n}@example.org")
    with count_queries() as large:
        page = admin_client.get(f"/admin/involvement/{opp.id}")
    assert "Person 9" in page.text and small.count == large.count


def test_the_csv_costs_the_same_statements_at_any_size(admin_client: Any, db: Any, count_queries: Any) -> None:
    make(db, "Only one")
    with count_queries() as small:
        assert admin_client.get("/admin/involvement/export.csv").text.count("\n") == 2
    for n in range(12):
        make(db, f"More {n}")
    with count_queries() as large:
        assert admin_client.get("/admin/involvement/export.csv").text.count("\n") == 14
    assert small.count == large.count
