"""A call's amount and time left in words, in one place for pages, emails and digests (Jinja filters ``amount``
and ``countdown``, registered in ``crm.web.templating``)."""

from __future__ import annotations

import datetime as dt

from crm.timefmt import LONDON


def amount_label(amount_min: int | None, amount_max: int | None) -> str:
    """ "£5,000", "£5,000 to £20,000", "Up to £20,000", "From £5,000" or "" when neither is known.

    In templates: ``{{ call.amount_min | amount(call.amount_max) }}``.
    """

    def money(v: int) -> str:
        return f"£{v:,}"

    if amount_min is not None and amount_max is not None:
        return money(amount_min) if amount_min == amount_max else f"{money(amount_min)} to {money(amount_max)}"
    if amount_max is not None:
        return f"Up to {money(amount_max)}"
    if amount_min is not None:
        return f"From {money(amount_min)}"
    return ""


def countdown(next_deadline: dt.datetime | None, now: dt.datetime) -> str:
    """Plain words for the time left: "12 days left", "Closes today", "1 day left", "Deadline passed".

    In templates: ``{{ call.next_deadline_at | countdown(now) }}``.
    """
    if next_deadline is None:
        return ""
    if next_deadline <= now:
        return "Deadline passed"
    local_now = now.astimezone(LONDON)
    local_due = next_deadline.astimezone(LONDON)
    days = (local_due.date() - local_now.date()).days
    if days <= 0:
        hours = int((next_deadline - now).total_seconds() // 3600)
        return "Closes today" if hours >= 1 else "Closes within the hour"
    if days == 1:
        return "1 day left (closes tomorrow)"
    if days < 14:
        return f"{days} days left"
    return f"{days} days left ({days // 7} weeks)"
