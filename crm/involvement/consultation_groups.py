"""The groups a consultation request goes to (issue 18): choosing them from the directory, sending the request,
the signed answer link and the groups' answers (the request itself: ``crm.involvement.consultation``).

Only public VCSE organisations of the directory can be chosen, and only those with a public email address that is
not on the suppression list; the picker shows the others with why they are left out. Sending queues one email per
group through the outbox, in the caller's transaction, keyed ``involvement:consultation:<request>:<organisation>``:
a crash before the commit leaves nothing queued and nothing marked sent, a double click or a retry queues nothing
twice. The answer link carries the recipient's id and the request's ``answer_key`` (``crm.tokens``, purpose
``involvement-answer``, no expiry: the request closes by itself); a tampered link opens nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
from collections.abc import Mapping
from email.utils import formataddr
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, or_, select, true
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.organisations import public_condition
from crm.errors import FieldErrors, NotFound
from crm.involvement.consultation import CLOSED_MESSAGE, TEXT_LIMIT, Answer, StateError, Status, today
from crm.mailing.outbox import InvalidAddress, enqueue
from crm.mailing.render import EmailRenderer
from crm.mailing.suppression import forms_by_key
from crm.timefmt import format_date
from crm.tokens import INVALID, TokenError
from crm.validation import Form, record_id

ANSWER_PURPOSE = "involvement-answer"
CR = m.ConsultationRequest
RC = m.ConsultationRecipient
OPEN_CONSULTATIVE = m.VcseCategory.OPEN_CONSULTATIVE.value
CANDIDATE_LIMIT = 300  # groups shown at once in the picker; the filters narrow a larger directory
NO_EMAIL = "No public email address in the directory"
ANSWERS = {a.value: a for a in (Answer.YES, Answer.NO, Answer.QUESTIONS)}


class AnswerClosed(ValueError):
    """An answer arrived after the request closed: the message says where to send it instead."""


# ---------------------------------------------------------------------------------------------------------------
# Choosing the groups


@dataclasses.dataclass(frozen=True, slots=True)
class GroupFilter:
    category: str = OPEN_CONSULTATIVE  # "" = any category
    topic_id: int | None = None
    region_id: int | None = None
    q: str = ""

    @classmethod
    def from_query(cls, raw: Mapping[str, Any]) -> GroupFilter:
        """Lenient: an unknown category or id is ignored. No ``category`` at all means open consultative groups."""
        categories = {c.value for c in m.VcseCategory}
        category = str(raw.get("category", OPEN_CONSULTATIVE)).strip()

        def number(name: str) -> int | None:
            value = str(raw.get(name, "")).strip()
            return record_id(value)

        return cls(
            category=category if category in categories else "",
            topic_id=number("topic"),
            region_id=number("region"),
            q=str(raw.get("q", "")).strip()[:100],
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    category: str
    region: str
    email: str
    left_out: str = ""  # why this group cannot be asked ("" = it can)


def _groups(session: Session, condition: Any, *, limit: int | None = None) -> list[Group]:
    """Directory groups (public VCSE organisations) matching ``condition``, each with why it cannot be asked (no
    public address, or an address on the suppression list). Two statements at any size."""
    o = m.Organisation
    query = (
        select(o.id, o.name, o.vcse_category, o.public_email, m.Region.name.label("region"))
        .outerjoin(m.Region, m.Region.id == o.region_id)
        .where(o.kind == m.OrgKind.VCSE, public_condition(), condition)
        .order_by(o.name_normalised, o.id)
    )
    rows = list(session.execute(query.limit(limit) if limit else query))
    keys = forms_by_key(r.public_email for r in rows if r.public_email.strip())
    suppressed: dict[str, str] = {}
    if keys:
        found = select(m.Suppression.address, m.Suppression.reason).where(
            m.Suppression.address.in_(sorted(keys)), m.Suppression.lifted_at.is_(None)
        )
        suppressed = {keys[address]: reason for address, reason in session.execute(found)}
    groups = []
    for r in rows:
        email = r.public_email.strip().lower()
        why = NO_EMAIL if not email else ""
        if email in suppressed:
            why = f"Their address is on the do-not-email list ({suppressed[email].replace('_', ' ')})"
        category = r.vcse_category.value if r.vcse_category else ""
        groups.append(Group(r.id, r.name, category, r.region or "", email, why))
    return groups


@dataclasses.dataclass(slots=True)
class Candidates:
    groups: list[Group]  # may be asked
    left_out: list[Group]  # match the filters but cannot be asked, each with why
    more: bool  # more groups match than the picker shows: narrow the filters


def candidates(session: Session, flt: GroupFilter, *, limit: int = CANDIDATE_LIMIT) -> Candidates:
    """The groups a filter finds, split into those that can be asked and those left out (with why)."""
    o = m.Organisation
    conditions: list[Any] = []
    if flt.category:
        conditions.append(o.vcse_category == m.VcseCategory(flt.category))
    if flt.topic_id is not None:
        ot = m.organisation_topics
        conditions.append(exists().where(ot.c.organisation_id == o.id, ot.c.topic_id == flt.topic_id))
    if flt.region_id is not None:  # a UK-wide group works with every region
        uk_wide = select(m.Region.id).where(m.Region.code == "UK").scalar_subquery()
        conditions.append(or_(o.region_id == flt.region_id, o.region_id == uk_wide))
    if flt.q:
        conditions.append(o.name_normalised.contains(flt.q.lower(), autoescape=True))
    found = _groups(session, and_(true(), *conditions), limit=limit + 1)
    return Candidates(
        groups=[g for g in found[:limit] if not g.left_out],
        left_out=[g for g in found[:limit] if g.left_out],
        more=len(found) > limit,
    )


def recipient_rows(session: Session, request_id: int) -> list[Any]:
    """The groups of a request with their answers (one statement at any number of groups)."""
    o = m.Organisation
    return list(
        session.execute(
            select(
                RC.id,
                RC.organisation_id,
                o.name,
                o.slug,
                o.vcse_category,
                o.public_email,
                m.Region.name.label("region"),
                RC.email,
                RC.answer,
                RC.answer_note,
                RC.answered_by,
                RC.answered_at,
                RC.sent_at,
                RC.nudged_at,
            )
            .join(o, o.id == RC.organisation_id)
            .outerjoin(m.Region, m.Region.id == o.region_id)
            .where(RC.request_id == request_id)
            .order_by(o.name_normalised, RC.id)
        )
    )


def choose_groups(
    session: Session, actor: Principal, req: m.ConsultationRequest, chosen: list[int], shown: list[int]
) -> tuple[int, int]:
    """Add the chosen groups and drop the groups shown but not chosen (groups chosen under other filters stay; a
    group already sent to stays). Refused (``FieldErrors``) for a group that cannot be asked. (added, removed)."""
    if req.status == Status.CLOSED:
        raise StateError(CLOSED_MESSAGE)
    wanted = set(chosen)
    groups = {g.id: g for g in _groups(session, m.Organisation.id.in_(sorted(wanted)))} if wanted else {}
    problems = [f"{g.name}: {g.left_out.lower()}." for g in groups.values() if g.left_out]
    if len(groups) != len(wanted):
        problems.append("A chosen group is no longer in the directory. Choose again.")
    if problems:
        raise FieldErrors({"groups": "These groups cannot be asked. " + " ".join(problems)})
    current = dict(session.execute(select(RC.organisation_id, RC.sent_at).where(RC.request_id == req.id)).all())
    new = sorted(wanted - current.keys())
    drop = sorted(org for org in set(shown) - wanted if org in current and current[org] is None)
    if new:
        session.execute(
            m.ConsultationRecipient.__table__.insert(),
            [{"request_id": req.id, "organisation_id": org, "answer": Answer.NONE.value} for org in new],
        )
    if drop:
        session.execute(delete(RC).where(RC.request_id == req.id, RC.organisation_id.in_(drop)))
    if new or drop:
        names = {g.id: g.name for g in groups.values()}
        audit.record(
            session,
            actor,
            "groups",
            "consultation",
            req.id,
            summary=f"Groups: {len(new)} added, {len(drop)} removed",
            changes={"groups_added": [None, [names.get(i, str(i)) for i in new]]} if new else {},
        )
    return len(new), len(drop)


# ---------------------------------------------------------------------------------------------------------------
# Sending, the answer link, answers


def answer_token(signer: Any, req: m.ConsultationRequest, recipient_id: int) -> str:
    return str(signer.sign(ANSWER_PURPOSE, {"r": recipient_id, "k": req.answer_key}))


def answer_url(signer: Any, req: m.ConsultationRequest, recipient_id: int, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/involvement/answer?token={answer_token(signer, req, recipient_id)}"


def organisation_name(session: Session, organisation_id: int | None) -> str:
    if organisation_id is None:
        return ""
    return session.scalar(select(m.Organisation.name).where(m.Organisation.id == organisation_id)) or ""


def email_context(session: Session, req: m.ConsultationRequest) -> dict[str, Any]:
    """What every email about the request shows (the group's name and link are added per group)."""
    return {
        "title": req.title,
        "researcher_name": req.researcher_name,
        "researcher_organisation": organisation_name(session, req.organisation_id),
        "project_summary": req.project_summary,
        "feedback_wanted": req.feedback_wanted,
        "answer_by": format_date(req.answer_by),
        "offer_payment": req.offer_payment,
        "offer_expenses": req.offer_expenses,
        "offer_acknowledgement": req.offer_acknowledgement,
        "reply_email": req.reply_email,
    }


def reply_to(req: m.ConsultationRequest) -> dict[str, str] | None:
    return {"Reply-To": formataddr((req.researcher_name, req.reply_email))} if req.reply_email else None


def queue_group_email(
    session: Session, renderer: EmailRenderer, signer: Any, req: m.ConsultationRequest, group: Group, recipient_id: int,
    *, what: str, base_url: str, shared: dict[str, Any],
) -> bool:  # fmt: skip
    """One email to one group (``what``: ``request`` or ``nudge``), at most once per group and kind."""
    key = f"involvement:consultation:{req.id}:{group.id}" + ("" if what == "request" else f":{what}")
    queued = enqueue(
        session,
        renderer,
        key=key,
        kind=f"involvement_consultation_{what}",
        template=f"involvement/consultation_{what}",
        to=group.email,
        to_name=group.name,
        headers=reply_to(req),
        context={**shared, "group_name": group.name, "answer_url": answer_url(signer, req, recipient_id, base_url)},
    )
    return queued is not None


GONE = "No longer public in the directory (archived, made private or merged)"


def pending_groups(session: Session, request_id: int) -> tuple[list[Group], dict[int, int]]:
    """The chosen groups not yet sent to, each with why it would be left out now (its address went, or the group
    left the public directory since it was chosen), and organisation id -> recipient id. Three statements."""
    rows = session.execute(
        select(RC.organisation_id, RC.id, m.Organisation.name)
        .join(m.Organisation, m.Organisation.id == RC.organisation_id)
        .where(RC.request_id == request_id, RC.sent_at.is_(None))
    ).all()
    pending = {r.organisation_id: r.id for r in rows}
    found = {g.id: g for g in _groups(session, m.Organisation.id.in_(sorted(pending)))} if pending else {}
    groups = [found.get(r.organisation_id) or Group(r.organisation_id, r.name, "", "", "", GONE) for r in rows]
    return sorted(groups, key=lambda g: (g.name.lower(), g.id)), pending


@dataclasses.dataclass(slots=True)
class Sent:
    sent: int
    left_out: list[Group]


def send(
    session: Session,
    renderer: EmailRenderer,
    signer: Any,
    actor: Principal,
    req: m.ConsultationRequest,
    *,
    base_url: str,
    now: dt.datetime,
) -> Sent:
    """Email every chosen group not yet sent to (the first send, or groups added later). In the caller's
    transaction: a crash before the commit leaves nothing sent and nothing marked; the idempotency keys make a
    second click send nothing. Groups whose address went, or that left the public directory, since they were
    chosen are left out and named (``pending_groups``)."""
    if req.status == Status.CLOSED:
        raise StateError(CLOSED_MESSAGE)
    if req.answer_by < today(now):
        raise FieldErrors(
            {"answer_by": f"The answer-by date, {format_date(req.answer_by)}, has passed. Choose a later date first."}
        )
    groups, pending = pending_groups(session, req.id)
    if not pending and req.status == Status.DRAFT:
        raise FieldErrors({"groups": "Choose at least one group to send the request to."})
    shared = email_context(session, req)
    marked, left_out = [], [g for g in groups if g.left_out]
    for group in groups:
        if group.left_out:
            continue
        try:
            queue_group_email(
                session,
                renderer,
                signer,
                req,
                group,
                pending[group.id],
                what="request",
                base_url=base_url,
                shared=shared,
            )
        except InvalidAddress:
            left_out.append(dataclasses.replace(group, left_out="The address in the directory is not valid"))
            continue
        marked.append({"b_id": pending[group.id], "b_email": group.email})
    if marked:  # one executemany for every group
        table = RC.__table__
        session.execute(
            table.update().where(table.c.id == bindparam("b_id")).values(email=bindparam("b_email"), sent_at=now),
            marked,
        )
    if req.status == Status.DRAFT:
        req.status = Status.SENT
        req.sent_at = now
    audit.record(
        session,
        actor,
        "send",
        "consultation",
        req.id,
        summary=f"Sent to {len(marked)} group{'' if len(marked) == 1 else 's'}: {req.title}",
    )
    session.flush()
    return Sent(sent=len(marked), left_out=left_out)


@dataclasses.dataclass(slots=True)
class AnswerPage:
    """What the answer link opens: the request, this group's row and its name."""

    request: m.ConsultationRequest
    recipient: m.ConsultationRecipient
    group_name: str
    researcher_organisation: str

    def is_open(self, now: dt.datetime) -> bool:
        return self.request.status == Status.SENT and today(now) <= self.request.answer_by


def open_answer(session: Session, signer: Any, token: str) -> AnswerPage:
    """The request and group an answer link is for. ``TokenError`` for a link that was changed or cut short,
    ``NotFound`` when the request was deleted or the group is no longer on it."""
    payload = signer.verify(ANSWER_PURPOSE, token)
    if not isinstance(payload, dict) or not isinstance(payload.get("r"), int) or not isinstance(payload.get("k"), str):
        raise TokenError(INVALID)
    recipient = session.get(RC, payload["r"])
    if recipient is None:
        raise NotFound("This request is no longer here: the researcher may have withdrawn it.")
    req = session.get(CR, recipient.request_id)
    assert req is not None  # the recipient row goes with its request
    if not req.answer_key or not hmac.compare_digest(payload["k"].encode(), req.answer_key.encode()):
        raise TokenError(INVALID)
    return AnswerPage(
        request=req,
        recipient=recipient,
        group_name=organisation_name(session, recipient.organisation_id),
        researcher_organisation=organisation_name(session, req.organisation_id),
    )


def closed_message(req: m.ConsultationRequest) -> str:
    where = (
        f" You can email it to {req.researcher_name or 'the researcher'} at {req.reply_email}."
        if req.reply_email
        else ""
    )
    return (
        f"This request closed on {format_date(req.answer_by)}, so answers are no longer collected here. "
        f"What you wrote is below, so nothing is lost.{where}"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class AnswerInput:
    answer: m.ConsultationAnswer
    note: str
    name: str


def validate_answer(raw: Mapping[str, Any]) -> AnswerInput:
    """The group's answer, or ``FieldErrors`` (no choice made; questions without the questions; a long text)."""
    form = Form(dict(raw))
    choice = form.str("answer")
    if choice not in ANSWERS:  # first: the messages follow the page's order
        form.add_error("answer", "Choose yes, no, or that you have questions.")
    note = form.str("note", max_length=TEXT_LIMIT, label="Your message")
    if choice == Answer.QUESTIONS.value and not note and "note" not in form.errors:
        form.add_error("note", "Write your questions, so the researcher can answer them.")
    name = form.line("name", required=True, max_length=200, label="Your name")
    if form.errors:
        raise FieldErrors(form.errors)
    return AnswerInput(ANSWERS[choice], note, name)


def record_answer(
    session: Session, renderer: EmailRenderer, page: AnswerPage, data: AnswerInput, *, base_url: str, now: dt.datetime
) -> bool:
    """Store the group's answer (a group may change it until the request closes) and tell the researcher through
    the outbox. ``AnswerClosed`` after the request closed. True when it replaced an earlier answer."""
    req, recipient = page.request, page.recipient
    if not page.is_open(now):
        raise AnswerClosed(closed_message(req))
    changed = recipient.answer != Answer.NONE
    recipient.answer, recipient.answer_note, recipient.answered_by = data.answer, data.note, data.name
    recipient.answered_at = now
    session.flush()
    if req.reply_email:
        enqueue(
            session,
            renderer,
            key=f"involvement:consultation-answer:{recipient.id}:{now.strftime('%Y%m%dT%H%M%S%f')}",
            kind="involvement_consultation_answered",
            template="involvement/consultation_answered",
            to=req.reply_email,
            to_name=req.researcher_name,
            context={
                "title": req.title,
                "researcher_name": req.researcher_name,
                "group_name": page.group_name,
                "answer": data.answer.label,
                "note": data.note,
                "answered_by": data.name,
                "changed": changed,
                "request_url": f"{base_url.rstrip('/')}/admin/involvement/consultations/{req.id}",
            },
        )
    return changed
