"""Queueing the events domain's emails: invitations, updates, cancellations, reminders and waitlist offers.

Every one is a bulk-style email (the ``event_news`` mailing: List-Unsubscribe headers and the compliance
footer) queued through the outbox with an idempotency key that includes the event's SEQUENCE. Invitations,
updates and cancellations carry the iTIP calendar as the attachment entry agreed with the transports
(``{"kind": "calendar", "method": ..., "content": ..., "filename": "invite.ics"}``); reminders and offers carry none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.events.calendar import ItipMessage, ItipTemplate, Party, itip_template
from crm.mailing.outbox import BulkEmail, enqueue_bulk, enqueue_bulk_many
from crm.mailing.render import EmailRenderer
from crm.mailing.subscriptions import withdrawn_among, withdrew
from crm.settings import Settings
from crm.timefmt import format_datetime, to_local
from crm.tokens import Signer

MAILING = "event_news"
WHY = "You get this because the Roundtable fellow invited you to a networking event."
PARTSTAT = {
    m.InvitationStatus.YES: "ACCEPTED",
    m.InvitationStatus.MAYBE: "TENTATIVE",
    m.InvitationStatus.NO: "DECLINED",
    m.InvitationStatus.WAITLISTED: "TENTATIVE",  # said yes, has no place yet: never shown as confirmed
}


@dataclasses.dataclass(frozen=True, slots=True)
class Mailer:
    """What queueing an event email needs (built from the app state or the worker context)."""

    renderer: EmailRenderer
    signer: Signer
    settings: Settings

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    def organizer(self) -> Party:
        name, address = parseaddr(self.settings.mail_from)
        return Party(email=address or "events@roundtable.example.org", name=name or "Roundtable events")


@dataclasses.dataclass(frozen=True, slots=True)
class Recipient:
    invitation_id: int
    contact_id: int
    name: str
    email: str
    status: m.InvitationStatus


def rsvp_token(signer: Signer, event_id: int, contact_id: int) -> str:
    return signer.sign("rsvp", {"e": event_id, "c": contact_id})


def rsvp_url(mailer: Mailer, token: str, answer: str = "") -> str:
    url = f"{mailer.base_url}/rsvp/{quote(token)}"
    return f"{url}?answer={answer}" if answer else url


def offer_token(signer: Signer, invitation_id: int, expires_at: dt.datetime) -> str:
    return signer.sign("waitlist-offer", {"i": invitation_id, "x": int(expires_at.timestamp())})


def when_text(event: m.Event) -> str:
    if event.all_day:
        first = to_local(event.starts_at)
        last = to_local(event.ends_at - dt.timedelta(seconds=1))
        assert first is not None and last is not None
        if first.date() == last.date():
            return f"{first:%a %-d %b %Y} (all day)"
        return f"{first:%a %-d %b} to {last:%a %-d %b %Y} (all day)"
    start, end = to_local(event.starts_at), to_local(event.ends_at)
    assert start is not None and end is not None
    if start.date() == end.date():
        return f"{format_datetime(event.starts_at)} to {end:%H:%M} (UK time)"
    return f"{format_datetime(event.starts_at)} to {format_datetime(event.ends_at)} (UK time)"


def where_text(event: m.Event) -> str:
    parts = [p for p in (event.venue, "online" if event.online_url else "") if p]
    return " and ".join(parts) or "to be confirmed"


def event_context(mailer: Mailer, event: m.Event, host_name: str = "") -> dict[str, Any]:
    """Plain strings only: the context is stored with the outbox row."""
    return {
        "event_title": event.title,
        "event_description": event.description,
        "event_when": when_text(event),
        "event_where": where_text(event),
        "event_venue": event.venue,
        "event_online_url": event.online_url,
        "event_url": f"{mailer.base_url}/events/{event.slug}",
        "host_name": host_name,
        "rsvp_deadline": format_datetime(event.rsvp_deadline) if event.rsvp_deadline else "",
    }


def itip_for(
    mailer: Mailer,
    event: m.Event,
    recipient_name: str,
    recipient_email: str,
    *,
    method: str,
    partstat: str = "NEEDS-ACTION",
    tentative: bool = False,
    now: dt.datetime | None = None,
) -> ItipMessage:
    template = itip_template_for(mailer, event, method=method, tentative=tentative, now=now)
    return template.fill(Party(email=recipient_email, name=recipient_name), partstat)


def itip_template_for(
    mailer: Mailer, event: m.Event, *, method: str, tentative: bool = False, now: dt.datetime | None = None
) -> ItipTemplate:
    """The event's calendar for ``method`` without an attendee (``fill`` adds each recipient)."""
    location = ", ".join(p for p in (event.venue, event.online_url) if p)
    return itip_template(
        method=method,
        uid=event.uid,
        sequence=event.sequence,
        summary=event.title,
        start=event.starts_at,
        end=event.ends_at,
        all_day=event.all_day,
        organizer=mailer.organizer(),
        description=event.description,
        location=location,
        url=f"{mailer.base_url}/events/{event.slug}",
        tentative=tentative,
        now=now,
    )


def _queue(
    session: Session,
    mailer: Mailer,
    recipient: Recipient,
    *,
    kind: str,
    key: str,
    template: str,
    context: dict[str, Any],
    attachments: list[dict[str, Any]] | None = None,
) -> int | None:
    """Every event email: bulk-style to one invitee (event news), with their name and answer in the context.

    An invitee who withdrew from event news (an event email's unsubscribe link, the preference centre) still gets
    the outbox row, ended ``suppressed`` at once: nothing goes out, and the worker's "not yet queued" queries
    (keyed on the outbox) do not pick them up again and again."""
    message_id = enqueue_bulk(
        session,
        mailer.renderer,
        mailer.signer,
        key=key,
        kind=kind,
        to=recipient.email,
        to_name=recipient.name,
        template=template,
        context={"name": recipient.name, "status": recipient.status.value, **context},
        why=WHY,
        mailing=MAILING,
        attachments=attachments,
        contact_id=recipient.contact_id,
    )
    if message_id is not None and withdrew(session, recipient.email, MAILING):
        session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id == message_id)
            .values(status=m.OutboxStatus.SUPPRESSED, last_error=f"the recipient withdrew from {MAILING}")
        )
    return message_id


# Each calendar email: its idempotency key's prefix (an update has the invitation's key with the new SEQUENCE, so
# whoever still had no invitation gets one message, not two), its template and its iTIP method.
CALENDAR_EMAILS = {
    "event_invitation": ("invite", "event_invitation", "REQUEST"),
    "event_update": ("invite", "event_update", "REQUEST"),
    "event_cancel": ("cancel", "event_cancelled", "CANCEL"),
}


def _calendar_context(
    mailer: Mailer, event: m.Event, recipient: Recipient, host_name: str, extra: dict[str, Any] | None
) -> dict[str, Any]:
    token = rsvp_token(mailer.signer, event.id, recipient.contact_id)
    return {
        "name": recipient.name,
        "status": recipient.status.value,
        **event_context(mailer, event, host_name),
        "yes_url": rsvp_url(mailer, token, "yes"),
        "maybe_url": rsvp_url(mailer, token, "maybe"),
        "no_url": rsvp_url(mailer, token, "no"),
        "rsvp_url": rsvp_url(mailer, token),
        "ics_url": f"{rsvp_url(mailer, token)}/invite.ics",
        **(extra or {}),
    }


def queue_calendar_email(
    session: Session,
    mailer: Mailer,
    event: m.Event,
    recipient: Recipient,
    kind: str,
    *,
    host_name: str = "",
    partstat: str = "NEEDS-ACTION",
    extra: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> int | None:
    """Invitations, updates and cancellations (``kind`` in ``CALENDAR_EMAILS``): answer links and the iTIP part."""
    prefix, template, method = CALENDAR_EMAILS[kind]
    itip = itip_for(mailer, event, recipient.name, recipient.email, method=method, partstat=partstat, now=now)
    context = _calendar_context(mailer, event, recipient, host_name, extra)
    return _queue(
        session,
        mailer,
        recipient,
        kind=kind,
        key=f"{prefix}:{event.id}:{recipient.contact_id}:{event.sequence}",
        template=template,
        context=context,
        attachments=[itip.attachment()],
    )


def queue_calendar_emails(
    session: Session,
    mailer: Mailer,
    event: m.Event,
    recipients: list[Recipient],
    kind: str,
    *,
    host_name: str = "",
    extra: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict[int, int]:
    """``queue_calendar_email`` for many recipients of one event, with the same emails: the calendar is built once
    (only each ATTENDEE line is filled in), rows are inserted in batches and who withdrew from event news is
    looked up once. An invitation's PARTSTAT follows each recipient's answer, as ``queue_invitation``'s does.
    Returns the new outbox id per invitation id (those already queued are absent)."""
    prefix, template, method = CALENDAR_EMAILS[kind]
    calendar = itip_template_for(mailer, event, method=method, now=now)
    queued: dict[int, int] = {}
    for start in range(0, len(recipients), BATCH):  # bounded memory: one batch's contexts and bodies at a time
        chunk = recipients[start : start + BATCH]
        queued |= _queue_batch(session, mailer, event, chunk, kind, calendar, prefix, template, host_name, extra)
    return queued


BATCH = 500


def _queue_batch(
    session: Session,
    mailer: Mailer,
    event: m.Event,
    recipients: list[Recipient],
    kind: str,
    calendar: ItipTemplate,
    prefix: str,
    template: str,
    host_name: str,
    extra: dict[str, Any] | None,
) -> dict[int, int]:
    emails, by_key = [], {}
    for r in recipients:
        partstat = PARTSTAT.get(r.status, "NEEDS-ACTION") if kind == "event_invitation" else "NEEDS-ACTION"
        itip = calendar.fill(Party(email=r.email, name=r.name), partstat)
        key = f"{prefix}:{event.id}:{r.contact_id}:{event.sequence}"
        by_key[key] = r
        context = _calendar_context(mailer, event, r, host_name, extra)
        emails.append(BulkEmail(key, r.email, context, r.name, [itip.attachment()], r.contact_id))
    inserted = enqueue_bulk_many(
        session, mailer.renderer, mailer.signer, emails, kind=kind, template=template, why=WHY, mailing=MAILING
    )
    withdrawn = withdrawn_among(session, (by_key[k].email for k in inserted), MAILING)
    stopped = [i for k, i in inserted.items() if by_key[k].email.strip().lower() in withdrawn]
    if stopped:
        session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id.in_(stopped))
            .values(status=m.OutboxStatus.SUPPRESSED, last_error=f"the recipient withdrew from {MAILING}")
        )
    return {by_key[k].invitation_id: i for k, i in inserted.items()}


def host_name(session: Session, event: m.Event) -> str:
    if event.host_organisation_id is None:
        return ""
    return session.scalar(select(m.Organisation.name).where(m.Organisation.id == event.host_organisation_id)) or ""


def queue_confirmation(
    session: Session, mailer: Mailer, event: m.Event, invitation: m.Invitation, host_name: str, now: dt.datetime
) -> int | None:
    """ "You have a place" after a yes or an accepted waitlist place, with the calendar updated to PARTSTAT=ACCEPTED:
    the same UID and SEQUENCE (an attendee's answer is not a change to the event, RFC 5546 §2.1.4), a newer DTSTAMP.
    Keyed on the answer's time, so answering yes again after a no confirms again but a repeated yes does not."""
    contact = session.get(m.Contact, invitation.contact_id)
    if contact is None or not contact.email:
        return None
    recipient = Recipient(invitation.id, contact.id, contact.name, contact.email, invitation.status)
    itip = itip_for(mailer, event, contact.name, contact.email, method="REQUEST", partstat="ACCEPTED", now=now)
    return _queue(
        session,
        mailer,
        recipient,
        kind="event_confirmation",
        key=f"confirm:{event.id}:{contact.id}:{event.sequence}:{now.timestamp():.6f}",
        template="event_confirmation",
        context=_calendar_context(mailer, event, recipient, host_name, None),
        attachments=[itip.attachment()],
    )


def queue_invitation(
    session: Session,
    mailer: Mailer,
    event: m.Event,
    recipient: Recipient,
    host_name: str = "",
    now: dt.datetime | None = None,
) -> int | None:
    partstat = PARTSTAT.get(recipient.status, "NEEDS-ACTION")
    return queue_calendar_email(
        session, mailer, event, recipient, "event_invitation", host_name=host_name, partstat=partstat, now=now
    )


def queue_update(
    session: Session,
    mailer: Mailer,
    event: m.Event,
    recipient: Recipient,
    host_name: str,
    changed: str,
    now: dt.datetime,
) -> int | None:
    """The new time or place (the same UID, SEQUENCE bumped) to someone who holds the event in their calendar."""
    extra = {"changed": changed}
    return queue_calendar_email(
        session, mailer, event, recipient, "event_update", host_name=host_name, extra=extra, now=now
    )


def queue_cancellation(
    session: Session, mailer: Mailer, event: m.Event, recipient: Recipient, host_name: str, now: dt.datetime
) -> int | None:
    """METHOD:CANCEL (SEQUENCE bumped) to someone who holds the event in their calendar."""
    return queue_calendar_email(session, mailer, event, recipient, "event_cancel", host_name=host_name, now=now)


def queue_plain_email(
    session: Session,
    mailer: Mailer,
    event: m.Event,
    recipient: Recipient,
    *,
    kind: str,
    key: str,
    extra: dict[str, Any] | None = None,
) -> int | None:
    """Reminders and waitlist offers (templates named after their kind): no calendar part (a reminder never
    re-sends a REQUEST)."""
    token = rsvp_token(mailer.signer, event.id, recipient.contact_id)
    context = {
        **event_context(mailer, event),
        "rsvp_url": rsvp_url(mailer, token),
        "no_url": rsvp_url(mailer, token, "no"),
        "ics_url": f"{rsvp_url(mailer, token)}/invite.ics",
        **(extra or {}),
    }
    return _queue(session, mailer, recipient, kind=kind, key=key, template=kind, context=context)


# Larger sends are left to the worker (``events.queue_pending``) so a web request never renders thousands of
# emails on the event loop. Rendering costs a few milliseconds per email.
INLINE_LIMIT = 100
