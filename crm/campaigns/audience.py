"""Who a campaign goes to: a ``Segment`` resolved into recipients, with who is left out and why.

Two parts, each on its own lawful basis (stated on the builder page and in docs/mailing.md "Lawful basis"):

- **subscribers** — people who subscribed to a mailing and confirmed their address (double opt-in): their
  consent. Only active subscriptions that still include the chosen mailing.
- **contacts** — directory contacts listed at an organisation in the partner directory: legitimate interest,
  with a one-click opt-out (``CONTACT_STREAM``) in every email. Someone in the directory with no organisation
  is never emailed without consent.

One email per address; a person in both parts gets it as a subscriber. The send resolves the segment again at
send time (``resolve``), so what goes out is the audience as it is then, and records what it resolved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns import audience_queries as q
from crm.campaigns.audience_segment import LED_BY, Segment, parse_addresses
from crm.mailing.compliance import CONTACT_STREAM
from crm.mailing.subscriptions import withdrawn_among

__all__ = [
    "BASIS",
    "LED_BY",
    "REASONS",
    "Preview",
    "Recipient",
    "Resolution",
    "Segment",
    "parse_addresses",
    "preview",
    "resolve",
]

SUBSCRIBERS = m.AudiencePart.SUBSCRIBERS.value
CONTACTS = m.AudiencePart.CONTACTS.value

# Why someone is left out, in plain words (the keys of Resolution.excluded, stored in Campaign.audience_summary).
NO_EMAIL = "no email address"
SUPPRESSED = "on the suppression list"
UNSUBSCRIBED = "unsubscribed from these emails"
NO_CONSENT = "has not confirmed a subscription (no consent)"
NO_ORGANISATION = "an individual with no organisation (never emailed without consent)"
EXCLUDED = "excluded by you"
REASONS = (NO_EMAIL, SUPPRESSED, UNSUBSCRIBED, NO_CONSENT, NO_ORGANISATION, EXCLUDED)

# The lawful basis of each part, as the page and the docs state it.
BASIS = {
    SUBSCRIBERS: "Their consent: they subscribed to this mailing and confirmed their address (double opt-in). "
    "Every email lets them unsubscribe in one click.",
    CONTACTS: "Legitimate interest: they are listed as a contact at an organisation in the partner directory, "
    "and the email concerns their organisation's work with the roundtable. Every email carries a one-click "
    "opt-out, and anyone who opts out is never sent another.",
    "never": "Individuals without an organisation are never emailed without their consent: to reach them, "
    "invite them to subscribe.",
}

S = m.SubscriptionStatus
EXAMPLES = 5  # names kept per reason left out


def subscriber_why(mailing_label: str) -> str:
    return f"You get this because you subscribed to Roundtable's {mailing_label} and confirmed your address."


def contact_why(organisation: str) -> str:
    return (
        f"You get this because you are listed as a contact at {organisation} in the Roundtable partner directory. "
        "You can stop these emails with one click."
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Recipient:
    email: str  # lower-cased
    name: str
    part: str  # "subscribers" | "contacts"
    subscription_id: int | None
    contact_id: int | None
    mailing: str  # the outbox row's mailing (its unsubscribe stream)
    why: str  # the footer's "You get this because …"


@dataclasses.dataclass(slots=True)
class Resolution:
    recipients: list[Recipient]
    included: dict[str, int]  # part -> people
    excluded: dict[str, int]  # reason (REASONS) -> people left out
    examples: dict[str, list[str]]  # reason -> a few "Name <address>"
    in_both: int = 0  # people matched by both parts, sent one email as a subscriber

    @property
    def total(self) -> int:
        return len(self.recipients)

    def summary(self) -> dict[str, Any]:
        """What a send records (``Campaign.audience_summary``)."""
        return {"included": dict(self.included), "excluded": dict(self.excluded), "in_both": self.in_both}


def _who(name: str | None, email: str | None) -> str:
    name = " ".join((name or "").split())
    if name and email:
        return f"{name} <{email}>"
    return name or email or "(no name)"


class _Tally:
    """The people left out: one reason each (the first found), counted once per address."""

    def __init__(self) -> None:
        self.reasons: dict[str, tuple[str, str]] = {}  # key (address, or contact:<id>) -> (reason, who)

    def leave_out(self, key: str, reason: str, who: str) -> None:
        self.reasons.setdefault(key, (reason, who))

    def finish(self, received: set[str]) -> tuple[dict[str, int], dict[str, list[str]]]:
        counts: dict[str, int] = {}
        examples: dict[str, list[str]] = {}
        for key, (reason, who) in self.reasons.items():
            if key in received:  # left out of one part but reached through the other
                continue
            counts[reason] = counts.get(reason, 0) + 1
            shown = examples.setdefault(reason, [])
            if len(shown) < EXAMPLES:
                shown.append(who)
        ordered = {r: counts[r] for r in REASONS if r in counts}
        return ordered, {r: examples[r] for r in ordered}


def _subscribers(
    session: Session, seg: Segment, tally: _Tally, excluded_ids: set[int], excluded_emails: set[str]
) -> list[Recipient]:
    rows = q.subscriber_rows(session, seg)
    why = subscriber_why(seg.mailing_label)
    candidates = []
    for r in rows:
        email = (r.email or "").strip().lower()
        who = _who(r.name, email)
        if not email:
            tally.leave_out(f"subscription:{r.id}", NO_EMAIL, who)
        elif r.status in {S.BOUNCED, S.COMPLAINED}:
            tally.leave_out(email, SUPPRESSED, who)
        elif r.status == S.UNSUBSCRIBED or not r.has_mailing:
            tally.leave_out(email, UNSUBSCRIBED, who)
        elif r.status != S.ACTIVE:  # pending (never confirmed) or paused
            tally.leave_out(email, NO_CONSENT, who)
        else:
            candidates.append((r, email, who))
    suppressed = q.suppressed_among(session, (email for _, email, _ in candidates))
    out: list[Recipient] = []
    excluded_orgs = set(seg.exclude_organisation_ids)
    for r, email, who in candidates:
        if email in suppressed:
            tally.leave_out(email, SUPPRESSED, who)
        elif email in excluded_emails or r.contact_id in excluded_ids or r.organisation_id in excluded_orgs:
            tally.leave_out(email, EXCLUDED, who)
        else:
            out.append(Recipient(email, r.name or "", SUBSCRIBERS, r.id, r.contact_id, seg.mailing, why))
    return out


def _contacts(
    session: Session, seg: Segment, tally: _Tally, excluded_ids: set[int], excluded_emails: set[str]
) -> list[tuple[Any, str, str, str]]:
    """Contacts who may be sent the campaign: (row, address, who, organisation name), one per contact."""
    seen: set[int] = set()
    candidates = []
    for r in q.contact_rows(session, seg):
        if r.id in seen:  # further affiliations of a contact already placed (the primary came first)
            continue
        seen.add(r.id)
        email = (r.email or "").strip().lower()
        who = _who(r.name, email)
        if not email:
            tally.leave_out(f"contact:{r.id}", NO_EMAIL, who)
        elif r.org_id is None:
            tally.leave_out(email, NO_ORGANISATION, who)
        else:
            candidates.append((r, email, who, r.org_name))
    emails = [c[1] for c in candidates]
    suppressed = q.suppressed_among(session, emails)
    withdrawn = withdrawn_among(session, emails, CONTACT_STREAM)
    allowed = []
    for r, email, who, org_name in candidates:
        if email in suppressed:
            tally.leave_out(email, SUPPRESSED, who)
        elif email in withdrawn:
            tally.leave_out(email, UNSUBSCRIBED, who)
        elif email in excluded_emails or r.id in excluded_ids:
            tally.leave_out(email, EXCLUDED, who)
        else:
            allowed.append((r, email, who, org_name))
    return allowed


def resolve(session: Session, segment: Segment) -> Resolution:
    """The recipients of ``segment`` now, and who is left out and why.

    Statements: one per part, one for the fellow's exclusions, and per 500 addresses one suppression check
    (plus two for the contacts' opt-outs) — flat in the number of people per 1,000."""
    tally = _Tally()
    if segment.is_empty:
        return Resolution([], {}, {}, {})
    excluded_ids, excluded_emails = q.excluded_people(session, segment)
    subscribers = _subscribers(session, segment, tally, excluded_ids, excluded_emails) if segment.subscribers else []
    recipients = list(subscribers)
    by_email = {r.email: i for i, r in enumerate(recipients)}
    in_both = 0
    contacts = 0
    if segment.contacts:
        for r, email, _, org_name in _contacts(session, segment, tally, excluded_ids, excluded_emails):
            if email in by_email:
                i = by_email[email]
                if recipients[i].part == SUBSCRIBERS:
                    in_both += 1
                    if recipients[i].contact_id is None:
                        recipients[i] = dataclasses.replace(recipients[i], contact_id=r.id)
                continue  # one email per address
            by_email[email] = len(recipients)
            recipients.append(
                Recipient(email, r.name or "", CONTACTS, None, r.id, CONTACT_STREAM, contact_why(org_name))
            )
            contacts += 1
    excluded, examples = tally.finish(set(by_email))
    included = {p: n for p, n in ((SUBSCRIBERS, len(subscribers)), (CONTACTS, contacts)) if n}
    return Resolution(recipients, included, excluded, examples, in_both)


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    """What the builder page shows before anything is sent."""

    segment: Segment
    included: dict[str, int]
    excluded: dict[str, int]
    examples: dict[str, list[str]]
    samples: dict[str, list[str]]  # part -> a spread of names
    in_both: int

    @property
    def total(self) -> int:
        return sum(self.included.values())

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    def sentence(self) -> str:
        if self.segment.is_empty:
            return "No audience chosen yet: choose subscribers, directory contacts, or both."
        if self.is_empty:
            return (
                "Nobody would get this campaign: no one matches these choices"
                + (" who may be emailed" if self.excluded else "")
                + ". Widen the choices or remove an exclusion."
            )
        people = "person" if self.total == 1 else "people"
        text = f"{self.total:,} {people} would get this campaign"
        if self.excluded_total:
            text += f"; {self.excluded_total:,} left out"
        return text + "."


def _spread(names: list[str], n: int) -> list[str]:
    """``n`` names spread evenly through the alphabet (not just the A's)."""
    ordered = sorted(names, key=str.casefold)
    if len(ordered) <= n:
        return ordered
    step = len(ordered) / n
    return [ordered[int(i * step)] for i in range(n)]


def preview(session: Session, segment: Segment, sample: int = 10) -> Preview:
    """Counts per part, a sample of names per part, who is left out and why with a few examples each."""
    res = resolve(session, segment)
    names: dict[str, list[str]] = {}
    for r in res.recipients:
        names.setdefault(r.part, []).append(r.name or r.email)
    samples = {part: _spread(values, sample) for part, values in names.items()}
    return Preview(segment, res.included, res.excluded, res.examples, samples, res.in_both)


def describe(segment: Segment, labels: dict[str, dict[int, str]] | None = None) -> list[str]:
    """The segment in sentences, for the audit entry and the page ("Subscribers to News and announcements")."""
    labels = labels or {}

    def named(kind: str, ids: Iterable[int]) -> str:
        table = labels.get(kind, {})
        return ", ".join(table.get(i, f"#{i}") for i in ids)

    lines: list[str] = []
    if segment.subscribers:
        text = f"Subscribers to {segment.mailing_label}"
        if segment.sub_topic_ids:
            text += f"; topics: {named('topics', segment.sub_topic_ids)}"
        if segment.sub_region_ids:
            text += f"; regions: {named('regions', segment.sub_region_ids)}"
        if segment.funder_ids:
            text += f"; funders: {named('organisations', segment.funder_ids)}"
        lines.append(text)
    if segment.contacts:
        bits = []
        if segment.org_kinds:
            bits.append("kinds: " + ", ".join(k.upper() if k in ("vcse", "nhs") else k for k in segment.org_kinds))
        if segment.vcse_categories:
            bits.append("VCSE categories: " + ", ".join(c.replace("-", " ") for c in segment.vcse_categories))
        if segment.led_by:
            bits.append(" or ".join(LED_BY[x] for x in segment.led_by).lower())
        for attr, kind, label in (
            ("region_ids", "regions", "regions"),
            ("topic_ids", "topics", "topics"),
            ("list_ids", "lists", "lists"),
            ("partnership_ids", "partnerships", "partnerships"),
            ("invited_event_ids", "events", "invited to"),
            ("attended_event_ids", "events", "came to"),
        ):
            if ids := getattr(segment, attr):
                bits.append(f"{label}: {named(kind, ids)}")
        lines.append("Directory contacts at organisations" + (f" ({'; '.join(bits)})" if bits else ""))
    for attr, kind, label in (
        ("exclude_list_ids", "lists", "Leaving out lists"),
        ("exclude_invited_event_ids", "events", "Leaving out people invited to"),
        ("exclude_attended_event_ids", "events", "Leaving out people who came to"),
        ("exclude_organisation_ids", "organisations", "Leaving out people at"),
    ):
        if ids := getattr(segment, attr):
            lines.append(f"{label}: {named(kind, ids)}")
    if segment.exclude_emails:
        n = len(segment.exclude_emails)
        lines.append(f"Leaving out {n} typed address{'es' if n != 1 else ''}")
    return lines
