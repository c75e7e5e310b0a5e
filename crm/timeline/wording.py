"""The timeline in the words a person uses: "Email sent", "Subscribed", "Answered yes", never a stored key."""

from __future__ import annotations

from typing import Any

from crm import models as m
from crm.involvement.records import hours_label, money_label

# The kinds a timeline can be filtered by, in the order the filter offers them.
KINDS: dict[str, str] = {
    "email": "Emails",
    "consent": "Subscriptions and consent",
    "invitation": "Invitations",
    "rsvp": "Answers to invitations",
    "attendance": "Attendance",
    "internship": "Internship interest",
    "partnership": "Partnership activity",
    "involvement": "Involvement",
    "edit": "Imports and edits",
    "note": "Notes",
    "task": "Tasks",
}

EMAIL = {
    "sent": "Email sent",
    "queued": "Email waiting to be sent",
    "sending": "Email waiting to be sent",
    "retry": "Email waiting to be sent again",
    "failed": "Email could not be sent",
    "suppressed": "Email not sent: the address is blocked",
    "ambiguous": "Email may not have been sent",
    "cancelled": "Email cancelled before sending",
}
CONSENT = {
    "subscribe": "Subscribed",
    "confirm": "Confirmed their subscription",
    "preferences": "Changed what they receive",
    "pause": "Paused emails",
    "resume": "Resumed emails",
    "unsubscribe": "Unsubscribed",
    "unsubscribe_all": "Unsubscribed from everything",
    "bounce": "Emails stopped: their address bounced",
    "complaint": "Emails stopped: they reported an email as spam",
    "admin": "Subscription changed by the fellow",
}
ANSWERS = {"yes": "Answered yes", "no": "Answered no", "maybe": "Answered maybe"}
ACTIVITY = {
    "meeting": "Partnership meeting",
    "call": "Partnership call",
    "email": "Partnership email",
    "event": "Partnership event",
    "note": "Partnership note",
}
EDITS = {
    "created": "Added",
    "create": "Added",
    "updated": "Edited",
    "update": "Edited",
    "imported": "Imported",
    "import": "Imported",
    "merged": "Merged",
    "linked": "Linked to an organisation",
    "unlinked": "Unlinked from an organisation",
    "deleted": "Deleted",
    "undone": "Import undone",
}
DELIVERY = {
    "processed": "",
    "delivered": "Delivered",
    "open": "Opened",
    "click": "Clicked a link",
    "bounce": "Bounced",
    "dropped": "Not delivered (dropped by the provider)",
    "deferred": "Delivery delayed",
    "spamreport": "Reported as spam",
    "unsubscribe": "Unsubscribed from the email",
    "group_unsubscribe": "Unsubscribed from the email",
}


def _words(key: str) -> str:
    text = (key or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def label(kind: str, action: str, detail: str = "") -> str:
    """The item's heading: what happened, in plain words."""
    if kind == "email":
        return EMAIL.get(action, "Email")
    if kind == "consent":
        return CONSENT.get(action, "Subscription changed")
    if kind == "invitation":
        return "Came to an event without an invitation" if detail == "walk-in" else "Invited to an event"
    if kind == "rsvp":
        if action == "yes" and detail == "waitlisted":
            return "Answered yes: on the waiting list"
        return ANSWERS.get(action, "Answered")
    if kind == "attendance":
        return "Attended" if action == "yes" else "Did not attend"
    if kind == "internship":
        return "Registered interest in an internship"
    if kind == "partnership":
        return ACTIVITY.get(action, "Partnership activity")
    if kind == "involvement":
        return "Took part in involvement"
    if kind == "edit":
        return EDITS.get(action, _words(action) or "Changed")
    if kind == "note":
        return "Note"
    if kind == "task":
        return "Task done" if action == "done" else "Task"
    return _words(kind)


def involvement(who: str, row: Any) -> list[str]:
    """A record of involvement's lines: who, when, how long, what was paid, how they are recognised."""
    lines = [f"{who} took part"] if who else []  # a group's record names no one
    lines.append(f"On {row.took_part_on:%-d %B %Y}")
    if row.minutes:
        lines.append(hours_label(row.minutes))
    if row.payment_pence or row.expenses_pence:
        lines.append(f"{money_label(row.payment_pence)} paid, {money_label(row.expenses_pence)} expenses")
    lines.append(m.Recognition(row.recognition).label)
    return lines


def delivery(event: str, bounce_type: str) -> str:
    """A provider's delivery report in words ("" for reports a person does not need, like "processed")."""
    if event == "bounce" and bounce_type == "blocked":
        return "Blocked by the receiving server"
    return DELIVERY.get(event, _words(event))
