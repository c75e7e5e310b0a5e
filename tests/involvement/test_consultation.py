"""Consultation requests, the services (issue 18): writing one, choosing groups (who is left out and why), sending
through the outbox exactly once, the signed answer link, answers, the one reminder and closing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from crm import models as m
from crm.errors import FieldErrors, NotFound
from crm.involvement import consultation, consultation_groups, consultation_jobs
from crm.involvement.consultation_groups import AnswerClosed, GroupFilter
from crm.listing import ListParams
from crm.mailing.suppression import suppress
from crm.runtime import Runtime
from crm.tokens import TokenError
from jobs.worker import register_jobs
from tests import factories
from tests.involvement.consultation_helpers import (
    answer_path,
    editor,
    fellow,
    group,
    make_request,
    now,
    outbox,
    request_form,
    today,
    token_of,
)

REQUEST_KIND = "involvement_consultation_request"
BASE = "http://testserver.local"


def send(app: Any, db: Any, req: m.ConsultationRequest, when: dt.datetime | None = None) -> Any:
    return consultation_groups.send(
        db, app.state.renderer, app.state.signer, fellow(), req, base_url=BASE, now=when or now()
    )


def chosen(db: Any, req: m.ConsultationRequest, *orgs: m.Organisation) -> None:
    ids = [o.id for o in orgs]
    consultation_groups.choose_groups(db, fellow(), req, ids, ids)


# ---------------------------------------------------------------------------------------------------------------
# Writing the request


def test_a_request_is_validated_with_every_message_at_once(db: Any) -> None:
    past = (today() - dt.timedelta(days=1)).isoformat()
    with pytest.raises(FieldErrors) as refused:
        consultation.validate(
            db, fellow(), request_form(title="", answer_by=past, reply_email="not an address"), now=now()
        )
    errors = refused.value.errors
    assert errors["answer_by"] == "The answer-by date is in the past. Choose today or a later date."
    assert errors["title"] == "Title is required."
    assert "valid email" in errors["reply_email"]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"answer_by": "31/12/2026"}, "answer_by", "must be a date"),
        ({"answer_by": (dt.date.today() + dt.timedelta(days=800)).isoformat()}, "answer_by", "within a year"),
        ({"nudge_after_days": "abc"}, "nudge_after_days", "whole number"),
        ({"nudge_after_days": "-1"}, "nudge_after_days", "at least 0"),
        ({"nudge_after_days": "30"}, "nudge_after_days", "on or after the answer-by date"),
        ({"project_summary": "x" * 5001}, "project_summary", "at most 5000"),
        ({"title": "Two\nlines"}, "title", "single line"),
        ({"organisation_id": "999999"}, "organisation_id", "from the list"),
    ],
)
def test_bad_input_gets_a_plain_message(db: Any, overrides: dict[str, str], field: str, words: str) -> None:
    with pytest.raises(FieldErrors) as refused:
        consultation.validate(db, fellow(), request_form(**overrides), now=now())
    assert words in refused.value.errors[field]


def test_an_editor_sends_only_for_their_own_organisation(db: Any) -> None:
    uni = factories.organisation(db, "Northfield University", m.OrgKind.ACADEMIC)
    other = factories.organisation(db, "Southfield University", m.OrgKind.ACADEMIC)
    with pytest.raises(FieldErrors) as refused:
        consultation.validate(db, editor(5, uni.id), request_form(organisation_id=str(other.id)), now=now())
    assert refused.value.errors["organisation_id"] == "You can send requests only for your own organisation."
    data = consultation.validate(db, editor(5, uni.id), request_form(), now=now())
    assert data.organisation_id == uni.id  # an editor's request is their organisation's


def test_a_draft_changes_until_it_is_sent_and_the_history_says_what_changed(app: Any, db: Any) -> None:
    req = make_request(db)
    data = consultation.validate(db, fellow(), request_form(title="Young carers, sleep and school"), now=now())
    assert consultation.update(db, fellow(), req, data) is True
    assert consultation.update(db, fellow(), req, data) is False
    chosen(db, req, group(db))
    send(app, db, req)
    with pytest.raises(consultation.StateError, match="can no longer change"):
        consultation.update(db, fellow(), req, data)
    with pytest.raises(consultation.StateError, match="never sent"):
        consultation.delete_draft(db, fellow(), req)


def test_an_editor_sees_only_their_own_and_their_organisations_requests(db: Any) -> None:
    uni = factories.organisation(db, "Northfield University", m.OrgKind.ACADEMIC)
    mine = make_request(db, editor(0, uni.id), title="Ours")
    theirs = make_request(db, title="The fellow's")
    colleague = editor(-1, uni.id)  # another editor of the same university (no user id: organisation only)
    assert consultation.get_owned(db, colleague, mine.id) is mine
    with pytest.raises(NotFound):
        consultation.get_owned(db, colleague, theirs.id)
    titles = [r.title for r in consultation.admin_list(db, colleague, ListParams()).items]
    assert titles == ["Ours"]


# ---------------------------------------------------------------------------------------------------------------
# Choosing the groups


def test_the_picker_shows_open_consultative_groups_by_default_and_who_is_left_out_and_why(db: Any) -> None:
    able = group(db, "Able Voices")
    group(db, "Project Panel", category=m.VcseCategory.PROJECT_SPECIFIC)
    silent = group(db, "Silent Circle", email=None)
    bounced = group(db, "Bounced Group", email="bounced@groups.example.org")
    suppress(db, "bounced@groups.example.org", "bounced", "test")
    private = group(db, "Private Group", visibility=m.Visibility.PRIVATE)
    factories.organisation(db, "A University", m.OrgKind.ACADEMIC, vcse_category=None)
    found = consultation_groups.candidates(db, GroupFilter.from_query({}))
    assert [g.name for g in found.groups] == ["Able Voices"]
    assert {g.name: g.left_out for g in found.left_out} == {
        "Bounced Group": "Their address is on the do-not-email list (bounced)",
        "Silent Circle": "No public email address in the directory",
    }
    assert private.id not in {g.id for g in found.groups + found.left_out}
    anything = consultation_groups.candidates(db, GroupFilter.from_query({"category": ""}))
    assert {g.name for g in anything.groups} == {"Able Voices", "Project Panel"}
    assert able.id and silent.id and bounced.id


def test_topic_region_and_name_filters_and_uk_wide_groups_count_for_every_region(db: Any) -> None:
    group(db, "London Carers", region_name="London", topics=["Carers"])
    group(db, "National Voices", region_name="UK-wide", topics=["Psychosis"])
    group(db, "Leeds Listeners", region_name="Yorkshire and The Humber", topics=["Carers"])
    london = factories.region(db, "London").id
    carers = factories.topic(db, "Carers").id

    def names(**query: Any) -> list[str]:
        return [g.name for g in consultation_groups.candidates(db, GroupFilter.from_query(query)).groups]

    assert names(region=str(london)) == ["London Carers", "National Voices"]
    assert names(topic=str(carers)) == ["Leeds Listeners", "London Carers"]
    assert names(q="leeds") == ["Leeds Listeners"]
    assert names(q="100%_") == []  # searched for literally
    assert names(topic="abc", region="x", category="nonsense") == names(category="")  # lenient: ignored


def test_the_picker_costs_two_statements_at_any_number_of_groups(db: Any, count_queries: Any) -> None:
    def statements() -> int:
        db.commit()
        with count_queries() as q:
            consultation_groups.candidates(db, GroupFilter.from_query({}))
        return q.count

    for _ in range(3):
        group(db)
    group(db, email=None)
    few = statements()
    for _ in range(30):
        group(db)
    for _ in range(5):
        group(db, email=None)
    assert statements() == few == 2


def test_choosing_groups_adds_and_drops_only_what_is_shown_and_refuses_a_group_without_an_address(
    app: Any, db: Any
) -> None:
    a, b, c = group(db, "A"), group(db, "B"), group(db, "C")
    silent = group(db, "Silent", email=None)
    req = make_request(db)
    consultation_groups.choose_groups(db, fellow(), req, [a.id, b.id], [a.id, b.id])
    consultation_groups.choose_groups(db, fellow(), req, [c.id], [c.id])  # another filter: a and b stay
    assert {r.organisation_id for r in consultation_groups.recipient_rows(db, req.id)} == {a.id, b.id, c.id}
    consultation_groups.choose_groups(db, fellow(), req, [a.id], [a.id, b.id])
    assert {r.organisation_id for r in consultation_groups.recipient_rows(db, req.id)} == {a.id, c.id}
    with pytest.raises(FieldErrors) as refused:
        consultation_groups.choose_groups(db, fellow(), req, [silent.id], [silent.id])
    assert refused.value.errors["groups"] == (
        "These groups cannot be asked. Silent: no public email address in the directory."
    )
    send(app, db, req)
    consultation_groups.choose_groups(db, fellow(), req, [], [a.id, c.id])  # sent groups stay
    assert {r.organisation_id for r in consultation_groups.recipient_rows(db, req.id)} == {a.id, c.id}


# ---------------------------------------------------------------------------------------------------------------
# Sending


def test_sending_queues_one_email_per_group_once_with_a_signed_answer_link(app: Any, db: Any) -> None:
    a, b = group(db, "Able Voices"), group(db, "Brave Minds")
    req = make_request(db)
    chosen(db, req, a, b)
    result = send(app, db, req)
    assert (result.sent, result.left_out) == (2, [])
    assert req.status == m.ConsultationStatus.SENT and req.sent_at is not None
    emails = outbox(db, REQUEST_KIND)
    assert [e.idempotency_key for e in emails] == [
        f"involvement:consultation:{req.id}:{a.id}",
        f"involvement:consultation:{req.id}:{b.id}",
    ]
    first = emails[0]
    assert first.recipient == a.public_email and first.recipient_name == "Able Voices"
    assert first.headers["Reply-To"] == "Dr Rae Researcher <rae.researcher@uni.example.ac.uk>"
    assert "Young carers and sleep" in first.subject and "Able Voices" in first.subject
    assert "£50 per group session" in first.text_body and "Expenses paid" in first.text_body
    page = consultation_groups.open_answer(db, app.state.signer, token_of(answer_path(first)))
    assert page.recipient.organisation_id == a.id and page.group_name == "Able Voices"
    assert send(app, db, req).sent == 0  # a second click
    assert len(outbox(db, REQUEST_KIND)) == 2


def test_a_send_that_rolls_back_leaves_nothing_and_can_be_done_again(app: Any, db: Any) -> None:
    req = make_request(db)
    chosen(db, req, group(db), group(db))
    db.commit()
    send(app, db, req)
    db.rollback()  # the process died before the commit
    assert db.scalar(select(func.count()).select_from(m.OutboxMessage)) == 0
    db.refresh(req)
    assert req.status == m.ConsultationStatus.DRAFT
    assert all(r.sent_at is None for r in consultation_groups.recipient_rows(db, req.id))
    assert send(app, db, req).sent == 2
    db.commit()
    assert len(outbox(db, REQUEST_KIND)) == 2


def test_groups_added_after_sending_get_it_and_a_group_that_lost_its_address_is_named(app: Any, db: Any) -> None:
    a, b, c = group(db, "A"), group(db, "B"), group(db, "C")
    req = make_request(db)
    chosen(db, req, a)
    send(app, db, req)
    consultation_groups.choose_groups(db, fellow(), req, [b.id, c.id], [b.id, c.id])
    c.public_email = ""  # removed in the directory between choosing and sending
    db.flush()
    result = send(app, db, req)
    assert result.sent == 1
    assert [(g.name, g.left_out) for g in result.left_out] == [("C", "No public email address in the directory")]
    assert {e.recipient for e in outbox(db, REQUEST_KIND)} == {a.public_email, b.public_email}


def test_a_group_archived_after_it_was_chosen_is_left_out_and_named(app: Any, db: Any) -> None:
    kept, archived = group(db, "Kept"), group(db, "Archived Group")
    req = make_request(db)
    chosen(db, req, kept, archived)
    archived.archived_at = now()
    db.flush()
    groups, _ = consultation_groups.pending_groups(db, req.id)
    assert [(g.name, g.left_out) for g in groups] == [("Archived Group", consultation_groups.GONE), ("Kept", "")]
    result = send(app, db, req)
    assert result.sent == 1 and [g.name for g in result.left_out] == ["Archived Group"]


def test_nothing_is_sent_without_groups_after_the_answer_by_date_or_once_closed(app: Any, db: Any) -> None:
    req = make_request(db)
    with pytest.raises(FieldErrors, match="at least one group"):
        send(app, db, req)
    chosen(db, req, group(db))
    later = now() + dt.timedelta(days=40)
    with pytest.raises(FieldErrors) as refused:
        send(app, db, req, when=later)
    assert "has passed. Choose a later date first." in refused.value.errors["answer_by"]
    send(app, db, req)
    consultation.close(db, fellow(), req, now=now())
    with pytest.raises(consultation.StateError, match="closed"):
        send(app, db, req)
    assert outbox(db, REQUEST_KIND)[0].status == m.OutboxStatus.QUEUED


# ---------------------------------------------------------------------------------------------------------------
# The answer link and answers


def sent_request(
    app: Any, db: Any, *groups: m.Organisation, **overrides: Any
) -> tuple[m.ConsultationRequest, list[str]]:
    req = make_request(db, **overrides)
    chosen(db, req, *groups)
    send(app, db, req)
    return req, [token_of(answer_path(e)) for e in outbox(db, REQUEST_KIND)]


def test_a_changed_or_foreign_link_opens_nothing(app: Any, db: Any) -> None:
    req, (token,) = sent_request(app, db, group(db))
    signer = app.state.signer
    with pytest.raises(TokenError, match="not valid"):
        consultation_groups.open_answer(db, signer, token[:-3] + "abc")
    forged = signer.sign("involvement-answer", {"r": 1, "k": "guessed"})
    with pytest.raises(TokenError, match="not valid"):
        consultation_groups.open_answer(db, signer, forged)
    other_purpose = signer.sign("internship-manage", {"r": 1, "k": req.answer_key})
    with pytest.raises(TokenError):
        consultation_groups.open_answer(db, signer, other_purpose)
    with pytest.raises(TokenError):
        consultation_groups.open_answer(db, signer, signer.sign("involvement-answer", ["not", "a", "dict"]))


def test_a_deleted_request_says_it_is_no_longer_here(app: Any, db: Any) -> None:
    req, (token,) = sent_request(app, db, group(db))
    db.delete(req)
    db.flush()
    with pytest.raises(NotFound, match="no longer here"):
        consultation_groups.open_answer(db, app.state.signer, token)


def test_an_answer_is_stored_can_be_changed_and_the_researcher_is_told(app: Any, db: Any) -> None:
    _req, (token,) = sent_request(app, db, group(db, "Able Voices"))
    page = consultation_groups.open_answer(db, app.state.signer, token)
    data = consultation_groups.validate_answer({"answer": "questions", "note": "Is it online?", "name": "Sam"})
    assert consultation_groups.record_answer(db, app.state.renderer, page, data, base_url=BASE, now=now()) is False
    assert (page.recipient.answer, page.recipient.answered_by) == (m.ConsultationAnswer.QUESTIONS, "Sam")
    yes = consultation_groups.validate_answer({"answer": "yes", "note": "", "name": "Sam"})
    later = now() + dt.timedelta(seconds=1)
    assert consultation_groups.record_answer(db, app.state.renderer, page, yes, base_url=BASE, now=later) is True
    told = outbox(db, "involvement_consultation_answered")
    assert len(told) == 2 and told[0].recipient == "rae.researcher@uni.example.ac.uk"
    assert "Able Voices answered: We have questions" in told[0].subject
    assert "Is it online?" in told[0].text_body
    assert "changed its answer" in told[1].subject


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"answer": "", "name": "Sam"}, "answer", "Choose yes, no, or that you have questions."),
        ({"answer": "maybe", "name": "Sam"}, "answer", "Choose yes, no, or that you have questions."),
        ({"answer": "questions", "note": "", "name": "Sam"}, "note", "Write your questions"),
        ({"answer": "yes", "name": ""}, "name", "Your name is required."),
    ],
)
def test_a_bad_answer_gets_a_plain_message(raw: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(FieldErrors) as refused:
        consultation_groups.validate_answer(raw)
    assert refused.value.errors[field].startswith(message)


def test_an_answer_after_closing_is_refused_with_where_to_send_it(app: Any, db: Any) -> None:
    req, (token,) = sent_request(app, db, group(db))
    page = consultation_groups.open_answer(db, app.state.signer, token)
    data = consultation_groups.validate_answer({"answer": "yes", "name": "Sam"})
    after = dt.datetime.combine(req.answer_by + dt.timedelta(days=1), dt.time(12), dt.UTC)
    with pytest.raises(AnswerClosed) as refused:
        consultation_groups.record_answer(db, app.state.renderer, page, data, base_url=BASE, now=after)
    assert "answers are no longer collected here" in str(refused.value)
    assert "rae.researcher@uni.example.ac.uk" in str(refused.value)
    consultation.close(db, fellow(), req, now=now())
    with pytest.raises(AnswerClosed):
        consultation_groups.record_answer(db, app.state.renderer, page, data, base_url=BASE, now=now())
    assert page.recipient.answer == m.ConsultationAnswer.NONE


# ---------------------------------------------------------------------------------------------------------------
# Progress, outcome, the jobs


def test_progress_and_the_outcome(app: Any, db: Any) -> None:
    req, tokens = sent_request(app, db, group(db), group(db), group(db))
    for token, answer in zip(tokens[:2], ("yes", "no"), strict=True):
        page = consultation_groups.open_answer(db, app.state.signer, token)
        data = consultation_groups.validate_answer({"answer": answer, "name": "Sam"})
        consultation_groups.record_answer(db, app.state.renderer, page, data, base_url=BASE, now=now())
    p = consultation.progress(consultation_groups.recipient_rows(db, req.id))
    assert (p.sent, p.answered, p.yes, p.no, p.waiting, p.percent) == (3, 2, 1, 1, 1, 67)
    assert consultation.save_outcome(db, fellow(), req, {"outcome": "Two groups met us.", "what_changed": "Q3 went."})
    assert (req.outcome, req.what_changed) == ("Two groups met us.", "Q3 went.")
    with pytest.raises(FieldErrors):
        consultation.save_outcome(db, fellow(), req, {"outcome": "x" * 5001})


def test_one_reminder_after_the_set_days_to_groups_that_have_not_answered(app: Any, db: Any) -> None:
    a, b = group(db, "Answered"), group(db, "Quiet")
    req, tokens = sent_request(app, db, a, b, nudge_after_days="3")
    page = consultation_groups.open_answer(db, app.state.signer, tokens[0])
    consultation_groups.record_answer(
        db, app.state.renderer, page, consultation_groups.validate_answer({"answer": "no", "name": "A"}),
        base_url=BASE, now=now(),
    )  # fmt: skip

    def nudge(days: float) -> int:
        when = now() + dt.timedelta(days=days)
        return consultation_jobs.send_nudges(db, app.state.renderer, app.state.signer, base_url=BASE, now=when)

    assert nudge(2) == 0
    assert nudge(3.01) == 1
    assert nudge(4) == 0  # once only
    (reminder,) = outbox(db, "involvement_consultation_nudge")
    assert reminder.recipient == b.public_email
    assert reminder.idempotency_key == f"involvement:consultation:{req.id}:{b.id}:nudge"
    assert "only reminder" in reminder.text_body
    assert consultation_groups.open_answer(db, app.state.signer, token_of(answer_path(reminder))).group_name == "Quiet"


def test_no_reminder_when_none_is_asked_for_or_the_request_is_closed(app: Any, db: Any) -> None:
    sent_request(app, db, group(db), nudge_after_days="0")
    closed, _ = sent_request(app, db, group(db))
    consultation.close(db, fellow(), closed, now=now())
    late, _ = sent_request(app, db, group(db), answer_by=(today() + dt.timedelta(days=10)).isoformat())
    when = now() + dt.timedelta(days=12)  # past the answer-by date of the last one
    sent = consultation_jobs.send_nudges(db, app.state.renderer, app.state.signer, base_url=BASE, now=when)
    assert sent == 0 and late.id


def test_the_reminder_job_costs_the_same_statements_plus_one_insert_per_reminder(
    app: Any, db: Any, count_queries: Any
) -> None:
    def run(groups: int) -> int:
        sent_request(app, db, *[group(db) for _ in range(groups)], nudge_after_days="2")
        db.commit()
        with count_queries() as q:
            sent = consultation_jobs.send_nudges(
                db, app.state.renderer, app.state.signer, base_url=BASE, now=now() + dt.timedelta(days=3)
            )
        db.commit()
        assert sent == groups
        return q.count - groups

    assert run(2) == run(12)


def test_requests_close_after_their_answer_by_date(app: Any, db: Any) -> None:
    soon, _ = sent_request(app, db, group(db), answer_by=today().isoformat(), nudge_after_days="0")
    later, _ = sent_request(app, db, group(db))
    draft = make_request(db, answer_by=today().isoformat(), nudge_after_days="0")
    db.commit()
    tomorrow = now() + dt.timedelta(days=1)
    assert consultation_jobs.close_past_answer_by(db, now=now()) == 0
    assert consultation_jobs.close_past_answer_by(db, now=tomorrow) == 1
    db.expire_all()
    assert (soon.status, later.status, draft.status) == (
        m.ConsultationStatus.CLOSED,
        m.ConsultationStatus.SENT,
        m.ConsultationStatus.DRAFT,
    )
    assert soon.closed_at is not None


def test_the_jobs_run_in_their_own_transaction_as_the_worker_runs_them(app: Any, db: Any, settings: Any) -> None:
    req, _ = sent_request(app, db, group(db), nudge_after_days="2")
    db.commit()
    rt = Runtime(settings)
    try:
        assert consultation_jobs.nudge_groups(rt, now=now() + dt.timedelta(days=2, minutes=1)) == 1
        assert consultation_jobs.nudge_groups(rt, now=now() + dt.timedelta(days=3)) == 0
        after = dt.datetime.combine(req.answer_by + dt.timedelta(days=1), dt.time(1), dt.UTC)
        assert consultation_jobs.close_requests(rt, now=after) == 1
        scheduler = BackgroundScheduler(timezone="Europe/London")
        register_jobs(scheduler, rt, consultation_jobs.JOBS)
        assert {j.id for j in scheduler.get_jobs()} == {
            "involvement.consultations.close",
            "involvement.consultations.nudge",
        }
    finally:
        rt.engine.dispose()
    db.expire_all()
    assert db.get(m.ConsultationRequest, req.id).status == m.ConsultationStatus.CLOSED
    assert len(outbox(db, "involvement_consultation_nudge")) == 1


def test_more_time_moves_the_answer_by_date_and_opens_a_closed_request_again(app: Any, db: Any) -> None:
    req, (token,) = sent_request(app, db, group(db))
    with pytest.raises(FieldErrors, match="after the current answer-by date"):
        consultation.extend(db, fellow(), req, {"answer_by": req.answer_by.isoformat()}, now=now())
    with pytest.raises(FieldErrors, match="within a year"):
        consultation.extend(db, fellow(), req, {"answer_by": (today() + dt.timedelta(days=400)).isoformat()}, now=now())
    with pytest.raises(FieldErrors, match="must be a date"):
        consultation.extend(db, fellow(), req, {"answer_by": "next week"}, now=now())
    consultation.close(db, fellow(), req, now=now())
    later = req.answer_by + dt.timedelta(days=7)
    assert consultation.extend(db, fellow(), req, {"answer_by": later.isoformat()}, now=now()) == later
    assert (req.status, req.closed_at) == (m.ConsultationStatus.SENT, None)
    page = consultation_groups.open_answer(db, app.state.signer, token)
    assert page.is_open(now())
    draft = make_request(db)
    with pytest.raises(consultation.StateError, match="not been sent"):
        consultation.extend(db, fellow(), draft, {"answer_by": later.isoformat()}, now=now())
