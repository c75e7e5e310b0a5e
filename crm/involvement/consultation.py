"""Consultation requests (issue 18): a researcher asks involvement groups from the directory for feedback.

The researcher (the fellow, or an editor of a university: ``crm.involvement.access``) writes one request in plain
language, picks groups (open consultative groups by default; only groups with a public email address can be asked,
and the page says who is left out and why), and sends it. Each group gets one email through the outbox (key
``involvement:consultation:<request>:<organisation>``, so a double click or a retry after a crash never sends twice,
and nothing is queued for a change that rolled back) with a signed link to a page where it answers yes, no or that
it has questions. Groups that have not answered get one reminder after the request's ``nudge_after_days`` (the
daily job); the request closes after its answer-by date, and an answer sent after that is refused with the text the
person typed shown back, so nothing is lost. The researcher records the outcome and what changed in the research.

This module holds the request itself (writing it, the researcher's list, progress, closing, the outcome);
``consultation_groups`` the groups (choosing them, sending, the answer link and answers); ``consultation_jobs`` the
reminders and closing at the answer-by date. Groups' answers are seen by the request's researcher and the fellow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import FieldErrors, NotFound
from crm.involvement import access
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page
from crm.timefmt import to_local
from crm.validation import Form

CR = m.ConsultationRequest
RC = m.ConsultationRecipient
Status = m.ConsultationStatus
Answer = m.ConsultationAnswer
LONGEST_AHEAD = dt.timedelta(days=366)
MOST_NUDGE_DAYS = 60
TEXT_LIMIT = 5000
SENT_MESSAGE = (
    "This request has been sent, so its text can no longer change: the groups have it in their email. "
    "You can still add groups, record the outcome or close it."
)
CLOSED_MESSAGE = "This request is closed, so nothing more can be sent for it."


class StateError(ValueError):
    """The request is not in a state that allows this (sent, closed); the message says why in plain words."""


def today(now: dt.datetime) -> dt.date:
    """The date in London: answer-by dates are London dates."""
    local = to_local(now)
    assert local is not None
    return local.date()


# ---------------------------------------------------------------------------------------------------------------
# Writing the request


@dataclasses.dataclass(slots=True)
class RequestInput:
    title: str
    researcher_name: str
    organisation_id: int | None
    project_summary: str
    feedback_wanted: str
    answer_by: dt.date
    offer_payment: str
    offer_expenses: bool
    offer_acknowledgement: bool
    reply_email: str
    nudge_after_days: int


FIELDS = tuple(f.name for f in dataclasses.fields(RequestInput))


def validate(session: Session, actor: Principal, raw: Mapping[str, Any], *, now: dt.datetime) -> RequestInput:
    """The request as typed, or ``FieldErrors`` with every message at once (an answer-by date in the past, a
    reminder that would come after it, an organisation the editor does not belong to)."""
    form = Form(dict(raw))
    title = form.line("title", required=True, max_length=200, label="Title")
    researcher = form.line("researcher_name", required=True, max_length=200, label="Your name")
    summary = form.str("project_summary", required=True, max_length=TEXT_LIMIT, label="The project")
    wanted = form.str("feedback_wanted", required=True, max_length=TEXT_LIMIT, label="What feedback you want")
    payment = form.line("offer_payment", max_length=300, label="Payment")
    reply = form.email("reply_email")
    answer_by = form.date("answer_by", required=True, label="Answer by")
    nudge = form.int("nudge_after_days", minimum=0, label="Reminder after")
    organisation_id = form.int("organisation_id", label="Organisation")
    day = today(now)
    if answer_by is not None and "answer_by" not in form.errors:
        if answer_by < day:
            form.add_error("answer_by", "The answer-by date is in the past. Choose today or a later date.")
        elif answer_by > day + LONGEST_AHEAD:
            form.add_error("answer_by", "Choose an answer-by date within a year from today.")
    nudge = 7 if nudge is None and "nudge_after_days" not in form.errors else nudge
    if nudge is not None and "nudge_after_days" not in form.errors:
        if nudge > MOST_NUDGE_DAYS:
            form.add_error("nudge_after_days", f"Choose a reminder within {MOST_NUDGE_DAYS} days, or 0 for none.")
        elif (
            nudge
            and answer_by is not None
            and "answer_by" not in form.errors
            and day + dt.timedelta(nudge) >= answer_by
        ):
            form.add_error(
                "nudge_after_days",
                f"The reminder would come on or after the answer-by date. Choose fewer days (at most "
                f"{max((answer_by - day).days - 1, 0)}), a later answer-by date, or 0 for no reminder.",
            )
    if organisation_id is not None and "organisation_id" not in form.errors:
        if session.get(m.Organisation, organisation_id) is None:
            form.add_error("organisation_id", "Choose an organisation from the list.")
        elif not actor.is_admin and organisation_id != actor.organisation_id:
            form.add_error("organisation_id", "You can send requests only for your own organisation.")
    if form.errors:
        raise FieldErrors(form.errors)
    assert answer_by is not None and nudge is not None
    return RequestInput(
        title=title,
        researcher_name=researcher,
        organisation_id=organisation_id if actor.is_admin else actor.organisation_id,
        project_summary=summary,
        feedback_wanted=wanted,
        answer_by=answer_by,
        offer_payment=payment,
        offer_expenses=form.bool("offer_expenses"),
        offer_acknowledgement=form.bool("offer_acknowledgement"),
        reply_email=reply,
        nudge_after_days=nudge,
    )


def form_values(req: m.ConsultationRequest | None, actor: Principal) -> dict[str, Any]:
    """What the form shows: the request's values, or a new request's defaults (the actor's name and address)."""
    if req is None:
        return {
            "researcher_name": actor.name,
            "reply_email": actor.email if "@" in actor.email else "",
            "organisation_id": str(actor.organisation_id or ""),
            "nudge_after_days": "7",
            "offer_acknowledgement": "1",
        }
    values = {name: getattr(req, name) for name in FIELDS}
    values["answer_by"] = req.answer_by.isoformat()
    values["organisation_id"] = str(req.organisation_id or "")
    values["nudge_after_days"] = str(req.nudge_after_days)
    for flag in ("offer_expenses", "offer_acknowledgement"):
        values[flag] = "1" if getattr(req, flag) else ""
    return values


def _snapshot(req: m.ConsultationRequest) -> dict[str, Any]:
    return {name: getattr(req, name) for name in FIELDS}


def create(session: Session, actor: Principal, data: RequestInput) -> m.ConsultationRequest:
    req = CR(status=Status.DRAFT, created_by_user_id=actor.id or None, answer_key=secrets.token_urlsafe(24))
    for name in FIELDS:
        setattr(req, name, getattr(data, name))
    session.add(req)
    session.flush()
    audit.record(
        session, actor, "create", "consultation", req.id, summary=req.title, changes=audit.diff({}, _snapshot(req))
    )
    return req


def update(session: Session, actor: Principal, req: m.ConsultationRequest, data: RequestInput) -> bool:
    """Change a draft; False when nothing changed. Refused once sent (``StateError``)."""
    if req.status != Status.DRAFT:
        raise StateError(SENT_MESSAGE)
    before = _snapshot(req)
    for name in FIELDS:
        setattr(req, name, getattr(data, name))
    changes = audit.diff(before, _snapshot(req))
    if changes:
        audit.record(session, actor, "update", "consultation", req.id, summary=req.title, changes=changes)
    session.flush()
    return bool(changes)


def delete_draft(session: Session, actor: Principal, req: m.ConsultationRequest) -> None:
    """Delete a request that was never sent (a sent one stays: groups hold its links)."""
    if req.status != Status.DRAFT or req.sent_at is not None:
        raise StateError("Only a request that was never sent can be deleted. Close it instead.")
    audit.record(session, actor, "delete", "consultation", req.id, summary=req.title)
    session.delete(req)
    session.flush()


def get_owned(session: Session, actor: Principal, request_id: int) -> m.ConsultationRequest:
    """The request when the actor may see it (the fellow: any; an editor: theirs or their organisation's)."""
    req = session.get(CR, request_id)
    if req is None or not access.owns(
        actor, created_by_user_id=req.created_by_user_id, organisation_id=req.organisation_id
    ):
        raise NotFound("No such consultation request.")
    return req


def organisation_choices(session: Session, actor: Principal) -> list[Any]:
    """Who the request is from: for the fellow, the universities and research teams; for an editor, theirs."""
    o = m.Organisation
    query = select(o.id, o.name).order_by(o.name_normalised, o.id)
    if actor.is_admin:
        query = query.where(o.kind == m.OrgKind.ACADEMIC, o.archived_at.is_(None)).limit(2000)
    else:
        query = query.where(o.id == (actor.organisation_id or -1))
    return list(session.execute(query))


# ---------------------------------------------------------------------------------------------------------------
# The researcher's lists and pages


SORTS = Sorts(
    SortOption("-created", "Newest first", CR.created_at, descending=True),
    SortOption("answer_by", "Answer by (soonest first)", CR.answer_by),
    SortOption("title", "Title (A to Z)", CR.title),
)
STATUS_CHOICES = {s.value: s.value.capitalize() for s in Status}


def admin_list(session: Session, actor: Principal, params: ListParams) -> Page:
    """The requests the actor may see, with how many groups each went to and how many answered: one statement for
    the page and one for the count, at any number of requests or groups."""

    def count(*conditions: Any) -> Any:  # per row of the page, through the (request, organisation) unique index
        return select(func.count()).select_from(RC).where(RC.request_id == CR.id, *conditions).scalar_subquery()

    query = select(
        CR.id,
        CR.title,
        CR.status,
        CR.answer_by,
        CR.created_at,
        CR.sent_at,
        CR.researcher_name,
        count().label("groups"),
        count(RC.answered_at.is_not(None)).label("answered"),
        count(RC.answer == Answer.YES).label("yes"),
    ).where(access.owned_condition(actor, CR.created_by_user_id, CR.organisation_id))
    status = params.filters.get("status")
    if status in STATUS_CHOICES:
        query = query.where(CR.status == Status(status))
    if params.q:
        query = query.where(CR.title.icontains(params.q, autoescape=True))
    return fetch_page(session, query, params, SORTS, id_column=CR.id, count=True)


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    groups: int
    sent: int
    answered: int
    yes: int
    no: int
    questions: int
    waiting: int  # sent, not answered
    nudged: int

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.sent) if self.sent else 0


def progress(rows: list[Any]) -> Progress:
    """Who answered what, from the request's recipient rows (``consultation_groups.recipient_rows``)."""
    sent = [r for r in rows if r.sent_at is not None]
    answers = [r.answer for r in sent]
    return Progress(
        groups=len(rows),
        sent=len(sent),
        answered=sum(1 for a in answers if a != Answer.NONE),
        yes=answers.count(Answer.YES),
        no=answers.count(Answer.NO),
        questions=answers.count(Answer.QUESTIONS),
        waiting=answers.count(Answer.NONE),
        nudged=sum(1 for r in sent if r.nudged_at is not None),
    )


def close(session: Session, actor: Principal, req: m.ConsultationRequest, *, now: dt.datetime) -> bool:
    """Stop collecting answers (answer pages then say so). False when it was closed already."""
    if req.status == Status.DRAFT:
        raise StateError("This request has not been sent. Delete it instead, or send it first.")
    if req.status == Status.CLOSED:
        return False
    req.status = Status.CLOSED
    req.closed_at = now
    audit.record(session, actor, "close", "consultation", req.id, summary=req.title)
    session.flush()
    return True


def save_outcome(session: Session, actor: Principal, req: m.ConsultationRequest, raw: Mapping[str, Any]) -> bool:
    """Record what came of the consultation and what changed in the research; False when nothing changed."""
    if req.status == Status.DRAFT:
        raise StateError("Send the request first: the outcome is what came of the groups' answers.")
    form = Form(dict(raw))
    outcome = form.str("outcome", max_length=TEXT_LIMIT, label="Outcome")
    changed = form.str("what_changed", max_length=TEXT_LIMIT, label="What changed in the research")
    if form.errors:
        raise FieldErrors(form.errors)
    before = {"outcome": req.outcome, "what_changed": req.what_changed}
    req.outcome, req.what_changed = outcome, changed
    changes = audit.diff(before, {"outcome": outcome, "what_changed": changed})
    if changes:
        audit.record(session, actor, "outcome", "consultation", req.id, summary=req.title, changes=changes)
    session.flush()
    return bool(changes)


def extend(
    session: Session, actor: Principal, req: m.ConsultationRequest, raw: Mapping[str, Any], *, now: dt.datetime
) -> dt.date:
    """Give the groups more time: a later answer-by date for a sent request, which also opens a closed one again
    (its answer links work again). ``FieldErrors`` for a date that is not later, in the past or over a year away."""
    if req.status == Status.DRAFT:
        raise StateError("This request has not been sent: change its answer-by date with “Change the text”.")
    form = Form(dict(raw))
    new = form.date("answer_by", required=True, label="The new answer-by date")
    day = today(now)
    if new is not None and "answer_by" not in form.errors:
        if new <= req.answer_by:
            form.add_error("answer_by", "Choose a date after the current answer-by date.")
        elif new < day:
            form.add_error("answer_by", "The new answer-by date is in the past. Choose today or a later date.")
        elif new > day + LONGEST_AHEAD:
            form.add_error("answer_by", "Choose an answer-by date within a year from today.")
    if form.errors:
        raise FieldErrors(form.errors)
    assert new is not None
    changes = {"answer_by": [req.answer_by.isoformat(), new.isoformat()]}
    if req.status == Status.CLOSED:
        changes["status"] = [req.status.value, Status.SENT.value]
        req.status, req.closed_at = Status.SENT, None
    req.answer_by = new
    audit.record(session, actor, "extend", "consultation", req.id, summary=req.title, changes=changes)
    session.flush()
    return new
