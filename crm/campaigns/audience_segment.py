"""A campaign's audience as the fellow defines it: which subscribers, which directory contacts, who to leave out.

A ``Segment`` is only a definition (stored as JSON on ``Campaign.audience``); ``crm.campaigns.audience.resolve``
turns it into recipients at preview and at send time, so the send always uses the audience as it is then.

Within one group of choices any value matches (topics "housing" or "carers"); across groups every chosen group
must match (a VCSE organisation *and* in London). An empty group does not narrow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from crm import models as m
from crm.errors import FieldErrors
from crm.validation import normalise_email

DEFAULT_MAILING = m.Mailing.NEWS.value
MOST_TYPED_ADDRESSES = 5000  # addresses typed into "leave out these addresses"

# Form field names (the page and ``from_form`` share them).
INT_FIELDS = {
    "sub_topics": "sub_topic_ids",
    "sub_regions": "sub_region_ids",
    "sub_funders": "funder_ids",
    "topics": "topic_ids",
    "regions": "region_ids",
    "lists": "list_ids",
    "partnerships": "partnership_ids",
    "events_invited": "invited_event_ids",
    "events_attended": "attended_event_ids",
    "exclude_lists": "exclude_list_ids",
    "exclude_events_invited": "exclude_invited_event_ids",
    "exclude_events_attended": "exclude_attended_event_ids",
    "exclude_organisations": "exclude_organisation_ids",
}
LED_BY = {"user_led": "User-led", "lived_experience_led": "Lived-experience-led"}


def _ints(values: Any) -> tuple[int, ...]:
    raw = values if isinstance(values, list | tuple) else [values]
    out: set[int] = set()
    for v in raw:
        text = str(v).strip()
        if text.isdigit():
            out.add(int(text))
    return tuple(sorted(out))


def _strings(values: Any, allowed: Iterable[str]) -> tuple[str, ...]:
    raw = values if isinstance(values, list | tuple) else [values]
    permitted = set(allowed)
    return tuple(sorted({str(v).strip() for v in raw if str(v).strip() in permitted}))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "on", "true", "yes"}


@dataclasses.dataclass(frozen=True, slots=True)
class Segment:
    """Who a campaign goes to. ``subscribers`` and ``contacts`` switch each part on; the rest narrows it."""

    # Subscribers (people who subscribed and confirmed: their consent).
    subscribers: bool = False
    mailing: str = DEFAULT_MAILING
    sub_topic_ids: tuple[int, ...] = ()
    sub_region_ids: tuple[int, ...] = ()
    funder_ids: tuple[int, ...] = ()
    # Directory contacts at organisations (legitimate interest, with an opt-out in every email).
    contacts: bool = False
    org_kinds: tuple[str, ...] = ()
    vcse_categories: tuple[str, ...] = ()
    led_by: tuple[str, ...] = ()  # "user_led", "lived_experience_led" (either matches)
    region_ids: tuple[int, ...] = ()
    topic_ids: tuple[int, ...] = ()
    list_ids: tuple[int, ...] = ()
    partnership_ids: tuple[int, ...] = ()
    invited_event_ids: tuple[int, ...] = ()
    attended_event_ids: tuple[int, ...] = ()
    # Left out by the fellow, from both parts.
    exclude_list_ids: tuple[int, ...] = ()
    exclude_invited_event_ids: tuple[int, ...] = ()
    exclude_attended_event_ids: tuple[int, ...] = ()
    exclude_organisation_ids: tuple[int, ...] = ()
    exclude_emails: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """No part chosen: nobody at all."""
        return not (self.subscribers or self.contacts)

    @property
    def has_exclusions(self) -> bool:
        return bool(
            self.exclude_list_ids
            or self.exclude_invited_event_ids
            or self.exclude_attended_event_ids
            or self.exclude_organisation_ids
            or self.exclude_emails
        )

    @property
    def mailing_label(self) -> str:
        try:
            return m.Mailing(self.mailing).label
        except ValueError:
            return self.mailing

    # JSON (Campaign.audience) ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The stored form: three groups, lists of ids, nothing that depends on the order things were ticked."""
        return {
            "subscribers": {
                "on": self.subscribers,
                "mailing": self.mailing,
                "topics": list(self.sub_topic_ids),
                "regions": list(self.sub_region_ids),
                "funders": list(self.funder_ids),
            },
            "contacts": {
                "on": self.contacts,
                "org_kinds": list(self.org_kinds),
                "vcse_categories": list(self.vcse_categories),
                "led_by": list(self.led_by),
                "regions": list(self.region_ids),
                "topics": list(self.topic_ids),
                "lists": list(self.list_ids),
                "partnerships": list(self.partnership_ids),
                "events_invited": list(self.invited_event_ids),
                "events_attended": list(self.attended_event_ids),
            },
            "exclude": {
                "lists": list(self.exclude_list_ids),
                "events_invited": list(self.exclude_invited_event_ids),
                "events_attended": list(self.exclude_attended_event_ids),
                "organisations": list(self.exclude_organisation_ids),
                "emails": list(self.exclude_emails),
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Segment:
        """Read a stored segment; anything unknown or malformed is dropped (an empty dict is the empty segment)."""
        data = data if isinstance(data, Mapping) else {}
        sub = data.get("subscribers") if isinstance(data.get("subscribers"), Mapping) else {}
        con = data.get("contacts") if isinstance(data.get("contacts"), Mapping) else {}
        exc = data.get("exclude") if isinstance(data.get("exclude"), Mapping) else {}
        mailing = str(sub.get("mailing") or DEFAULT_MAILING)
        return cls(
            subscribers=_flag(sub.get("on", False)),
            mailing=mailing if mailing in {x.value for x in m.Mailing} else DEFAULT_MAILING,
            sub_topic_ids=_ints(sub.get("topics", [])),
            sub_region_ids=_ints(sub.get("regions", [])),
            funder_ids=_ints(sub.get("funders", [])),
            contacts=_flag(con.get("on", False)),
            org_kinds=_strings(con.get("org_kinds", []), (k.value for k in m.OrgKind)),
            vcse_categories=_strings(con.get("vcse_categories", []), (c.value for c in m.VcseCategory)),
            led_by=_strings(con.get("led_by", []), LED_BY),
            region_ids=_ints(con.get("regions", [])),
            topic_ids=_ints(con.get("topics", [])),
            list_ids=_ints(con.get("lists", [])),
            partnership_ids=_ints(con.get("partnerships", [])),
            invited_event_ids=_ints(con.get("events_invited", [])),
            attended_event_ids=_ints(con.get("events_attended", [])),
            exclude_list_ids=_ints(exc.get("lists", [])),
            exclude_invited_event_ids=_ints(exc.get("events_invited", [])),
            exclude_attended_event_ids=_ints(exc.get("events_attended", [])),
            exclude_organisation_ids=_ints(exc.get("organisations", [])),
            exclude_emails=tuple(
                sorted({str(e).strip().lower() for e in exc.get("emails", []) or [] if str(e).strip()})
            ),
        )

    # The builder form ---------------------------------------------------------------------------------------------

    @classmethod
    def from_form(cls, data: Mapping[str, Any]) -> Segment:
        """The builder form's values; refuses (``FieldErrors``) no part chosen, an unknown mailing, or typed
        addresses that are not email addresses. Ids that name nothing simply match nobody."""
        errors: dict[str, str] = {}

        def many(name: str) -> list[Any]:
            raw = data.get(name, [])
            return raw if isinstance(raw, list) else [raw]

        def one(name: str) -> str:
            values = many(name)
            return str(values[-1]).strip() if values else ""

        mailing = one("mailing") or DEFAULT_MAILING
        if mailing not in {x.value for x in m.Mailing}:
            errors["mailing"] = "Choose one of the mailings."
            mailing = DEFAULT_MAILING
        emails, bad = parse_addresses(one("exclude_emails"))
        if bad:
            shown = ", ".join(f"“{b[:60]}”" for b in bad[:5]) + ("…" if len(bad) > 5 else "")
            errors["exclude_emails"] = f"These are not email addresses: {shown}. Correct or remove them."
        elif len(emails) > MOST_TYPED_ADDRESSES:
            errors["exclude_emails"] = f"Leave out at most {MOST_TYPED_ADDRESSES:,} typed addresses at once."
        parts = {str(v) for v in many("parts")}
        segment = cls(
            subscribers="subscribers" in parts,
            mailing=mailing,
            contacts="contacts" in parts,
            org_kinds=_strings(many("org_kinds"), (k.value for k in m.OrgKind)),
            vcse_categories=_strings(many("vcse_categories"), (c.value for c in m.VcseCategory)),
            led_by=_strings(many("led_by"), LED_BY),
            exclude_emails=tuple(sorted(set(emails))),
            **{attr: _ints(many(name)) for name, attr in INT_FIELDS.items()},
        )
        if segment.is_empty:
            errors["parts"] = "Choose who gets this campaign: subscribers, directory contacts, or both."
        if errors:
            raise FieldErrors(errors)
        return segment

    def form_values(self) -> dict[str, Any]:
        """The form's data for this segment (to show a saved segment in the builder)."""
        values: dict[str, Any] = {
            "parts": [p for p, on in (("subscribers", self.subscribers), ("contacts", self.contacts)) if on],
            "mailing": self.mailing,
            "org_kinds": list(self.org_kinds),
            "vcse_categories": list(self.vcse_categories),
            "led_by": list(self.led_by),
            "exclude_emails": "\n".join(self.exclude_emails),
        }
        values.update({name: list(getattr(self, attr)) for name, attr in INT_FIELDS.items()})
        return values


def parse_addresses(text: str) -> tuple[list[str], list[str]]:
    """(valid lower-cased addresses, pieces that are not addresses) from text separated by lines, commas,
    semicolons or spaces."""
    good: list[str] = []
    bad: list[str] = []
    for piece in text.replace(",", "\n").replace(";", "\n").split():
        piece = piece.strip().strip("<>")
        if not piece:
            continue
        try:
            good.append(normalise_email(piece))
        except ValueError:
            bad.append(piece)
    return good, bad
