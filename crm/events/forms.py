"""The event form: the admin page's raw values (datetime-local in Europe/London, reminder hours) ⇄ event values."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy.orm import Session

from crm import models as m
from crm.timefmt import LONDON, local_input, parse_local
from crm.validation import Form, record_id, split_url


def form_data(event: m.Event) -> dict[str, Any]:
    """An event as the form's raw values (for the edit page)."""
    data: dict[str, Any] = {
        "title": event.title,
        "description": event.description,
        "accessibility": event.accessibility,
        "host_organisation_id": str(event.host_organisation_id or ""),
        "funding_call_id": str(event.funding_call_id or ""),
        "venue": event.venue,
        "online_url": event.online_url,
        "capacity": "" if event.capacity is None else str(event.capacity),
        "rsvp_deadline": local_input(event.rsvp_deadline),
        "vcse_min_percent": "" if not event.vcse_min_percent else str(event.vcse_min_percent),
        "allow_requests": "on" if event.allow_requests else "",
        "speed_networking": "on" if event.speed_networking else "",
        "reminders": ", ".join(str(h) for h in event.reminder_offsets_hours or []),
        "offer_hold_hours": str(event.offer_hold_hours),
        "offers_stop_hours": str(event.offers_stop_hours),
        "all_day": "on" if event.all_day else "",
    }
    if event.all_day:
        # The same datetime-local fields as a timed event; the time is ignored for an all-day one.
        data["starts_at"] = event.starts_at.astimezone(LONDON).strftime("%Y-%m-%dT00:00")
        data["ends_at"] = (event.ends_at.astimezone(LONDON) - dt.timedelta(days=1)).strftime("%Y-%m-%dT00:00")
    else:
        data["starts_at"] = local_input(event.starts_at)
        data["ends_at"] = local_input(event.ends_at)
    return data


def _id_choice(session: Session, form: Form, name: str, model: Any, label: str) -> int | None:
    raw = form.str(name)
    if not raw:
        return None
    chosen = record_id(raw)
    if chosen is None or session.get(model, chosen) is None:
        form.add_error(name, f"Choose a {label} from the list.")
        return None
    return chosen


def _day(form: Form, name: str, label: str, *, required: bool = False) -> dt.date | None:
    """The date of an all-day event's field: the date part of a datetime-local value, or a date typed alone."""
    raw = form.str(name)
    if not raw:
        if required:
            form.add_error(name, f"{label} is required.")
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        form.add_error(name, f"{label} must be a date like 2026-06-01.")
        return None


def parse_event_form(session: Session, form: Form) -> dict[str, Any]:
    """Values for ``create_event``/``update_event``; problems are collected on ``form``."""
    values: dict[str, Any] = {
        "title": form.line("title", required=True, max_length=300),
        "description": form.str("description", max_length=20_000),
        "accessibility": form.str("accessibility", max_length=5_000, label="Access information"),
        "host_organisation_id": _id_choice(session, form, "host_organisation_id", m.Organisation, "host organisation"),
        "funding_call_id": _id_choice(session, form, "funding_call_id", getattr(m, "FundingCall"), "funding call"),  # noqa: B009
        "venue": form.line("venue", max_length=500),
        "online_url": form.line("online_url", max_length=500),
        "all_day": form.bool("all_day"),
        "allow_requests": form.bool("allow_requests"),
        "speed_networking": form.bool("speed_networking"),
    }
    parts = split_url(values["online_url"]) if values["online_url"] else None
    if values["online_url"] and (parts is None or parts.scheme not in {"https", "http"} or not parts.netloc):
        form.add_error("online_url", "Enter the online link as a web address starting with https://.")
    if values["all_day"]:
        start_day = _day(form, "starts_at", "Start", required=True)
        end_day = _day(form, "ends_at", "End") or start_day
        if start_day:
            values["starts_at"] = dt.datetime.combine(start_day, dt.time(0), LONDON).astimezone(dt.UTC)
        if end_day:
            values["ends_at"] = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time(0), LONDON).astimezone(
                dt.UTC
            )
    else:
        for name, label in (("starts_at", "Start"), ("ends_at", "End")):
            raw = form.str(name)
            parsed = parse_local(raw)
            if not raw:
                form.add_error(name, f"{label} is required.")
            elif parsed is None:
                form.add_error(name, f"{label} must be a date and time like 2026-06-01 09:30.")
            values[name] = parsed
    if values.get("starts_at") and values.get("ends_at") and values["ends_at"] <= values["starts_at"]:
        form.add_error("ends_at", "The end must be after the start.")
    values["capacity"] = form.int("capacity", minimum=1, label="Capacity")
    raw_deadline = form.str("rsvp_deadline")
    values["rsvp_deadline"] = parse_local(raw_deadline) if raw_deadline else None
    if raw_deadline and values["rsvp_deadline"] is None:
        form.add_error("rsvp_deadline", "RSVP deadline must be a date and time like 2026-05-25 17:00.")
    elif values["rsvp_deadline"] and values.get("starts_at") and values["rsvp_deadline"] > values["starts_at"]:
        form.add_error("rsvp_deadline", "The RSVP deadline must be before the event starts.")
    pct = form.int("vcse_min_percent", minimum=0, label="VCSE share")
    if pct is not None and pct > 100:
        form.add_error("vcse_min_percent", "VCSE share must be between 0 and 100.")
    if pct and values["capacity"] is None:
        form.add_error("vcse_min_percent", "A sector balance needs a capacity.")
    values["vcse_min_percent"] = pct or None
    reminders_raw = form.str("reminders", max_length=100)
    offsets: list[int] = []
    for part in re.split(r"[,\s]+", reminders_raw):
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 24 * 60:
            form.add_error("reminders", "Reminders are hours before the start, e.g. 168, 24 (up to 1440).")
            break
        offsets.append(int(part))
    values["reminder_offsets_hours"] = sorted(set(offsets), reverse=True) if "reminders" in form.data else [168, 24]
    values["offer_hold_hours"] = form.int("offer_hold_hours", minimum=1, label="Offer hold time") or 48
    stop = form.int("offers_stop_hours", minimum=0, label="Offers stop")
    values["offers_stop_hours"] = 24 if stop is None else stop
    return values
