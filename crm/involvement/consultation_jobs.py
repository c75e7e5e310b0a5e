"""Consultation request jobs (issue 18): one reminder to groups that have not answered, and closing requests after
their answer-by date.

The reminder goes once per group (``nudged_at`` and the idempotency key ``involvement:consultation:<request>:
<organisation>:nudge``, set and queued in one transaction: a crash leaves both undone, a second run finds nothing),
``nudge_after_days`` after the group was sent the request, and only while the request is open. Closing is one
UPDATE; answer pages already refuse answers after the answer-by date even before the job has run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.db import unit_of_work
from crm.involvement.consultation import Answer, Status, today
from crm.involvement.consultation_groups import Group, email_context, queue_group_email
from crm.mailing.outbox import InvalidAddress
from crm.mailing.render import EmailRenderer
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, cron

log = logging.getLogger("crm.jobs.involvement")
CR = m.ConsultationRequest
RC = m.ConsultationRecipient


def send_nudges(session: Session, renderer: EmailRenderer, signer: Any, *, base_url: str, now: dt.datetime) -> int:
    """Remind each group that has not answered, once, ``nudge_after_days`` after it was sent the request, while the
    request is open. Three statements, plus one insert per reminder. Returns how many were queued."""
    day = today(now)
    rows = session.execute(
        select(RC.id, RC.request_id, RC.organisation_id, RC.email, RC.sent_at, CR.nudge_after_days, m.Organisation.name)
        .join(CR, CR.id == RC.request_id)
        .join(m.Organisation, m.Organisation.id == RC.organisation_id)
        .where(
            CR.status == Status.SENT,
            CR.answer_by >= day,
            CR.nudge_after_days > 0,
            RC.answer == Answer.NONE,
            RC.sent_at.is_not(None),
            RC.nudged_at.is_(None),
            RC.email != "",
        )
        .order_by(RC.request_id, RC.id)
    ).all()
    due = [r for r in rows if r.sent_at + dt.timedelta(days=r.nudge_after_days) <= now]
    if not due:
        return 0
    requests = {r.id: r for r in session.scalars(select(CR).where(CR.id.in_(sorted({d.request_id for d in due}))))}
    shared = {req_id: email_context(session, req) for req_id, req in requests.items()}
    marked: list[dict[str, Any]] = []
    for r in due:
        group = Group(r.organisation_id, r.name, "", "", r.email)
        try:
            queue_group_email(
                session, renderer, signer, requests[r.request_id], group, r.id,
                what="nudge", base_url=base_url, shared=shared[r.request_id],
            )  # fmt: skip
        except InvalidAddress:
            log.warning("consultation reminder not sent: invalid address for recipient %s", r.id)
            continue
        marked.append({"b_id": r.id})
    if marked:
        table = RC.__table__
        session.execute(table.update().where(table.c.id == bindparam("b_id")).values(nudged_at=now), marked)
    return len(marked)


def close_past_answer_by(session: Session, *, now: dt.datetime) -> int:
    """Close every sent request whose answer-by date has passed (one UPDATE)."""
    result = session.execute(
        update(CR)
        .where(CR.status == Status.SENT, CR.answer_by < today(now))
        .values(status=Status.CLOSED, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def nudge_groups(rt: Runtime, now: dt.datetime | None = None) -> int:
    with unit_of_work(rt.session_factory) as session:
        sent = send_nudges(
            session, rt.renderer, rt.signer, base_url=rt.settings.base_url, now=now or dt.datetime.now(dt.UTC)
        )
    if sent:
        log.info("queued %s consultation reminders", sent)
    return sent


def close_requests(rt: Runtime, now: dt.datetime | None = None) -> int:
    with unit_of_work(rt.session_factory) as session:
        closed = close_past_answer_by(session, now=now or dt.datetime.now(dt.UTC))
    if closed:
        log.info("closed %s consultation requests past their answer-by date", closed)
    return closed


JOBS: list[ScheduledJob] = [
    # Just after midnight London time: yesterday's answer-by dates have passed.
    ScheduledJob(
        "involvement.consultations.close",
        "Close consultation requests after their answer-by date",
        close_requests,
        cron(hour=0, minute=10),
    ),
    # Mid-morning, when a reminder is most likely to be read.
    ScheduledJob(
        "involvement.consultations.nudge",
        "Remind groups that have not answered a consultation request",
        nudge_groups,
        cron(hour=10, minute=15),
        first_run_after=dt.timedelta(minutes=5),
    ),
]
