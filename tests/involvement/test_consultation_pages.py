"""Consultation requests, the pages (issue 18): the researcher's pages under /admin/involvement/consultations and
the group's signed answer page /involvement/answer, including every way an answer link can go wrong (never 500)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from crm import models as m
from crm.accounts.services import create_session, ensure_user
from crm.involvement import consultation, consultation_groups
from crm.mailing.suppression import suppress
from crm.web.auth import SESSION_COOKIE
from tests import factories
from tests.conftest import post_form
from tests.involvement.consultation_helpers import (
    answer_path,
    fellow,
    group,
    make_request,
    now,
    outbox,
    request_form,
    today,
)

BASE = "/admin/involvement/consultations"


def sign_in(client: Any, db: Any, settings: Any, email: str, role: m.Role, org_id: int | None = None) -> m.User:
    user = ensure_user(db, email, role, name=email.split("@")[0].title())
    user.organisation_id = org_id
    cookie = create_session(db, user, settings)
    db.commit()
    client.cookies.set(SESSION_COOKIE, cookie)
    return user


def created_id(response: Any) -> int:
    match = re.search(r"/consultations/(\d+)", response.headers["location"])
    assert match, response.headers
    return int(match.group(1))


def sent_to(admin_client: Any, db: Any, *orgs: m.Organisation, **overrides: Any) -> m.ConsultationRequest:
    """A request written, given groups and sent through the pages, as the fellow does it."""
    db.commit()  # the groups, for the app to see (and SQLite's one writer free)
    response = post_form(admin_client, f"{BASE}/new", request_form(**overrides), follow_redirects=False)
    assert response.status_code == 303, response.text
    req_id = created_id(response)
    ids = [str(o.id) for o in orgs]
    response = post_form(admin_client, f"{BASE}/{req_id}/groups", {"group": ids, "shown": ids}, follow_redirects=False)
    assert response.status_code == 303, response.text
    response = post_form(admin_client, f"{BASE}/{req_id}/send", follow_redirects=False)
    assert response.status_code == 303, response.text
    db.expire_all()
    req = db.get(m.ConsultationRequest, req_id)
    assert req is not None
    return req


# ---------------------------------------------------------------------------------------------------------------
# The researcher's pages


def test_the_fellow_writes_chooses_previews_sends_and_sees_who_answered(admin_client: Any, db: Any) -> None:
    able = group(db, "Able Voices", region_name="London")
    group(db, "Silent Circle", email=None)
    group(db, "Project Panel", category=m.VcseCategory.PROJECT_SPECIFIC)
    db.commit()
    assert "Write a request" in admin_client.get(BASE).text
    page = admin_client.get(f"{BASE}/new")
    assert page.status_code == 200 and 'value="Fran' not in page.text  # the signed-in person's own name
    response = post_form(admin_client, f"{BASE}/new", request_form(), follow_redirects=False)
    req_id = created_id(response)
    assert response.headers["location"].startswith(f"{BASE}/{req_id}/groups")
    picker = admin_client.get(f"{BASE}/{req_id}/groups")
    assert "Able Voices" in picker.text and "Project Panel" not in picker.text  # open consultative by default
    assert "Silent Circle" in picker.text and "No public email address in the directory" in picker.text
    everything = admin_client.get(f"{BASE}/{req_id}/groups", params={"category": ""})
    assert "Project Panel" in everything.text
    response = post_form(
        admin_client, f"{BASE}/{req_id}/groups", {"shown": [str(able.id)], "all": "1"}, follow_redirects=False
    )
    assert response.status_code == 303
    confirm = admin_client.get(f"{BASE}/{req_id}/send")
    assert "Send to 1 group" in confirm.text
    assert "Subject:</strong> Can [the group&#39;s name] give feedback? Young carers and sleep" in confirm.text
    response = post_form(admin_client, f"{BASE}/{req_id}/send")
    assert response.status_code == 200 and "Sent to 1 group." in response.text
    assert "0 of 1 group answered" in response.text and "Not sent yet" not in response.text
    (email,) = outbox(db, "involvement_consultation_request")
    answer = admin_client.get(answer_path(email))
    assert answer.status_code == 200
    done = post_form(
        admin_client,
        "/involvement/answer",
        {"token": answer_path(email).split("token=")[1], "answer": "yes", "note": "Happy to meet.", "name": "Sam"},
    )
    assert done.status_code == 200 and "Your answer is saved" in done.text
    detail = admin_client.get(f"{BASE}/{req_id}")
    assert "1 of 1 group answered" in detail.text and "Happy to meet." in detail.text and "Sam" in detail.text
    assert "Yes, we can help" in detail.text
    listing = admin_client.get(BASE)
    assert "Young carers and sleep" in listing.text


def test_an_answer_by_date_in_the_past_is_refused_on_the_form_with_what_was_typed_kept(admin_client: Any) -> None:
    past = (today() - dt.timedelta(days=2)).isoformat()
    response = post_form(admin_client, f"{BASE}/new", request_form(answer_by=past, title="Kept title"))
    assert response.status_code == 422
    assert "The answer-by date is in the past. Choose today or a later date." in response.text
    assert 'value="Kept title"' in response.text and "There is a problem" in response.text


def test_a_sent_request_cannot_be_edited_or_deleted_and_the_page_says_why(admin_client: Any, db: Any) -> None:
    req = sent_to(admin_client, db, group(db))
    edit = admin_client.get(f"{BASE}/{req.id}/edit")
    assert edit.status_code == 409 and "its text can no longer change" in edit.text
    refused = post_form(admin_client, f"{BASE}/{req.id}/edit", request_form(title="New"))
    assert refused.status_code == 409
    delete = post_form(admin_client, f"{BASE}/{req.id}/delete")
    assert delete.status_code == 409 and "Close it instead" in delete.text
    sent_again = post_form(admin_client, f"{BASE}/{req.id}/send")
    assert sent_again.status_code == 200 and "Sent to 0 groups." in sent_again.text  # nothing twice
    assert len(outbox(db, "involvement_consultation_request")) == 1


def test_the_send_page_names_who_will_be_left_out_and_why(admin_client: Any, db: Any) -> None:
    req = make_request(db)
    ok, bounced = group(db, "Open Door"), group(db, "Bounced Group", email="b@groups.example.org")
    consultation_groups.choose_groups(db, fellow(), req, [ok.id, bounced.id], [])
    suppress(db, "b@groups.example.org", "bounced", "test")
    db.commit()
    page = admin_client.get(f"{BASE}/{req.id}/send")
    assert "Send to 1 group" in page.text and "Left out (1)" in page.text
    assert "Bounced Group: their address is on the do-not-email list (bounced)" in page.text


def test_a_draft_is_deleted_after_confirmation(admin_client: Any, db: Any) -> None:
    req = make_request(db)
    db.commit()
    assert "cannot be undone" in admin_client.get(f"{BASE}/{req.id}/delete").text
    response = post_form(admin_client, f"{BASE}/{req.id}/delete")
    assert response.status_code == 200 and "The draft is deleted." in response.text
    assert db.scalar(select(m.ConsultationRequest.id)) is None


def test_sending_with_a_past_answer_by_date_or_no_groups_is_a_clear_409(admin_client: Any, db: Any) -> None:
    req = make_request(db)
    db.commit()
    response = post_form(admin_client, f"{BASE}/{req.id}/send")
    assert response.status_code == 409 and "Choose at least one group" in response.text
    consultation_groups.choose_groups(db, fellow(), req, [group(db).id], [])
    req.answer_by = today() - dt.timedelta(days=1)  # a draft kept past its date
    db.commit()
    response = post_form(admin_client, f"{BASE}/{req.id}/send")
    assert response.status_code == 409 and "has passed. Choose a later date first." in response.text
    assert outbox(db, "involvement_consultation_request") == []


def test_choosing_a_group_without_an_address_is_refused_on_the_picker(admin_client: Any, db: Any) -> None:
    req = make_request(db)
    silent = group(db, "Silent Circle", email=None)
    db.commit()
    response = post_form(admin_client, f"{BASE}/{req.id}/groups", {"group": [str(silent.id)], "shown": []})
    assert response.status_code == 422
    assert "Silent Circle: no public email address in the directory." in response.text
    bad = post_form(admin_client, f"{BASE}/{req.id}/groups", {"group": ["abc", "99999999999"], "shown": ["x"]})
    assert bad.status_code == 200  # unreadable ids are ignored, nothing chosen


def test_close_and_outcome(admin_client: Any, db: Any) -> None:
    req = sent_to(admin_client, db, group(db))
    response = post_form(admin_client, f"{BASE}/{req.id}/outcome", {"outcome": "x" * 5001})
    assert response.status_code == 422 and "at most 5000 characters" in response.text
    response = post_form(
        admin_client, f"{BASE}/{req.id}/outcome", {"outcome": "Met two groups.", "what_changed": "Dropped Q3."}
    )
    assert "The outcome is saved." in response.text and "Dropped Q3." in response.text
    response = post_form(admin_client, f"{BASE}/{req.id}/close")
    assert "The request is closed." in response.text
    assert post_form(admin_client, f"{BASE}/{req.id}/close").status_code == 200  # twice: nothing changes
    assert admin_client.get(f"{BASE}/{req.id}/groups").status_code == 409


def test_editors_of_a_university_use_the_pages_for_their_own_requests_only(client: Any, db: Any, settings: Any) -> None:
    uni = factories.organisation(db, "Northfield University", m.OrgKind.ACADEMIC)
    charity = factories.organisation(db, "A Charity", m.OrgKind.VCSE)
    theirs = make_request(db, title="The fellow's request")
    db.commit()
    sign_in(client, db, settings, "ed@charity.example.org", m.Role.EDITOR, charity.id)
    refused = client.get(BASE)
    assert refused.status_code == 403 and "university or research" in refused.text
    sign_in(client, db, settings, "ed@uni.example.ac.uk", m.Role.EDITOR, uni.id)
    response = post_form(client, f"{BASE}/new", request_form(organisation_id=str(charity.id)), follow_redirects=False)
    assert response.status_code == 422 and "only for your own organisation" in response.text
    response = post_form(client, f"{BASE}/new", request_form(title="Our request"), follow_redirects=False)
    assert response.status_code == 303
    mine = db.get(m.ConsultationRequest, created_id(response))
    assert mine is not None and mine.organisation_id == uni.id
    listing = client.get(BASE).text
    assert "Our request" in listing and "The fellow&#39;s request" not in listing
    assert client.get(f"{BASE}/{theirs.id}").status_code == 404
    assert post_form(client, f"{BASE}/{theirs.id}/close").status_code == 404
    sign_in(client, db, settings, "viewer@uni.example.ac.uk", m.Role.VIEWER, uni.id)
    assert client.get(BASE, follow_redirects=False).status_code in (401, 403)


def test_the_request_page_and_the_list_cost_the_same_statements_at_any_size(
    admin_client: Any, db: Any, count_queries: Any
) -> None:
    def statements(url: str) -> int:
        with count_queries() as q:
            assert admin_client.get(url).status_code == 200
        return q.count

    req = make_request(db)
    ids = [group(db).id for _ in range(3)]
    consultation_groups.choose_groups(db, fellow(), req, ids, ids)
    db.commit()
    detail, listing = statements(f"{BASE}/{req.id}"), statements(BASE)
    ids = [group(db).id for _ in range(25)]
    consultation_groups.choose_groups(db, fellow(), req, ids, ids)
    for _ in range(12):
        make_request(db)
    db.commit()
    assert statements(f"{BASE}/{req.id}") == detail
    assert statements(BASE) == listing


# ---------------------------------------------------------------------------------------------------------------
# The group's answer page


def test_the_answer_page_in_plain_words_private_and_the_answer_can_be_changed(admin_client: Any, db: Any) -> None:
    sent_to(admin_client, db, group(db, "Able Voices"))
    (email,) = outbox(db, "involvement_consultation_request")
    path = answer_path(email)
    admin_client.cookies.clear()  # the group has no account
    page = admin_client.get(path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store" and "noindex" in page.headers["x-robots-tag"]
    assert "Dr Rae Researcher would like to hear from Able Voices." in page.text
    assert "Please answer by" in page.text and "£50 per group session" in page.text
    token = path.split("token=")[1]
    empty = post_form(admin_client, "/involvement/answer", {"token": token, "name": ""})
    assert empty.status_code == 422
    assert "Choose yes, no, or that you have questions." in empty.text and "Your name is required." in empty.text
    first = post_form(
        admin_client, "/involvement/answer", {"token": token, "answer": "questions", "note": "Online?", "name": "Sam"}
    )
    assert first.status_code == 200 and "We have questions" in first.text
    again = admin_client.get(path)
    assert "Able Voices answered on" in again.text and "Online?" in again.text
    second = post_form(admin_client, "/involvement/answer", {"token": token, "answer": "yes", "name": "Sam"})
    assert "Your new answer is saved" in second.text
    assert len(outbox(db, "involvement_consultation_answered")) == 2


def test_a_closed_request_refuses_an_answer_and_shows_back_what_was_typed(admin_client: Any, db: Any) -> None:
    req = sent_to(admin_client, db, group(db))
    (email,) = outbox(db, "involvement_consultation_request")
    path = answer_path(email)
    token = path.split("token=")[1]
    page = admin_client.get(path)  # opened while open ...
    assert "Send our answer" in page.text
    consultation.close(db, fellow(), db.get(m.ConsultationRequest, req.id), now=now())  # ... closed meanwhile
    db.commit()
    typed = {"token": token, "answer": "yes", "note": "A long message we wrote carefully.", "name": "Sam"}
    refused = post_form(admin_client, "/involvement/answer", typed)
    assert refused.status_code == 409
    assert "Your answer was not sent" in refused.text and "answers are no longer collected here" in refused.text
    assert "A long message we wrote carefully." in refused.text and "rae.researcher@uni.example.ac.uk" in refused.text
    bad_and_closed = post_form(admin_client, "/involvement/answer", {"token": token, "note": "Kept too."})
    assert bad_and_closed.status_code == 409 and "Kept too." in bad_and_closed.text
    later = admin_client.get(path)
    assert later.status_code == 200 and "This request has closed" in later.text and "Send our answer" not in later.text
    assert outbox(db, "involvement_consultation_answered") == []


def test_broken_links_get_calm_pages_never_a_500(admin_client: Any, db: Any) -> None:
    req = sent_to(admin_client, db, group(db))
    (email,) = outbox(db, "involvement_consultation_request")
    token = answer_path(email).split("token=")[1]
    admin_client.cookies.clear()
    for bad in ("", "abc", token[:-4] + "AAAA", "x" * 5000, "é.é.é"):
        response = admin_client.get("/involvement/answer", params={"token": bad})
        assert response.status_code == 400, bad
        assert "This link" in response.text
    posted = post_form(admin_client, "/involvement/answer", {"token": token + "x", "answer": "yes", "name": "Sam"})
    assert posted.status_code == 400 and "This link does not work" in posted.text
    db.delete(db.get(m.ConsultationRequest, req.id))
    db.commit()
    gone = admin_client.get("/involvement/answer", params={"token": token})
    assert gone.status_code == 404 and "This request is no longer here" in gone.text


def test_more_time_from_the_request_page(admin_client: Any, db: Any) -> None:
    req = sent_to(admin_client, db, group(db))
    refused = post_form(admin_client, f"{BASE}/{req.id}/extend", {"answer_by": "2020-01-01"})
    assert refused.status_code == 422 and "Choose a date after the current answer-by date." in refused.text
    later = (req.answer_by + dt.timedelta(days=5)).isoformat()
    done = post_form(admin_client, f"{BASE}/{req.id}/extend", {"answer_by": later})
    assert done.status_code == 200 and "The answer-by date is changed." in done.text
    db.expire_all()
    assert db.get(m.ConsultationRequest, req.id).answer_by.isoformat() == later


def test_the_fellow_can_record_a_group_that_said_yes_in_the_record_of_involvement(admin_client: Any, db: Any) -> None:
    able = group(db, "Able Voices")
    req = sent_to(admin_client, db, able)
    (email,) = outbox(db, "involvement_consultation_request")
    token = answer_path(email).split("token=")[1]
    post_form(admin_client, "/involvement/answer", {"token": token, "answer": "yes", "name": "Sam"})
    page = admin_client.get(f"{BASE}/{req.id}")
    link = f"/admin/involvement/records/new?consultation={req.id}&amp;organisation={able.id}"
    assert link in page.text
    assert admin_client.get(link.replace("&amp;", "&")).status_code == 200


def test_the_list_searches_titles_literally_and_filters_by_status(admin_client: Any, db: Any) -> None:
    make_request(db, title="Sleep and 100% of carers")
    make_request(db, title="Something else")
    db.commit()
    assert "Sleep and 100% of carers" in admin_client.get(BASE, params={"q": "100%"}).text
    assert "No consultation requests" in admin_client.get(BASE, params={"q": "_"}).text
    drafts = admin_client.get(BASE, params={"status": "draft"}).text
    assert "Something else" in drafts and "2 requests" in drafts
    assert "No consultation requests" in admin_client.get(BASE, params={"status": "sent"}).text
    fragment = admin_client.get(BASE, params={"status": "nonsense"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<h1>" not in fragment.text and "2 requests" in fragment.text
