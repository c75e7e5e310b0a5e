"""Sections the events domain adds to an organisation's page (see crm/directory/sections.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.events.mail import when_text
from crm.extensions import Section

LIMIT = 20


def _rows(session: Session, organisation_id: int, *, public: bool) -> list[m.Event]:
    query = select(m.Event).where(m.Event.host_organisation_id == organisation_id)
    if public:
        query = query.where(m.Event.status == m.EventStatus.PUBLISHED, m.Event.ends_at > dt.datetime.now(dt.UTC))
        query = query.order_by(m.Event.starts_at, m.Event.id)
    else:
        query = query.order_by(m.Event.starts_at.desc(), m.Event.id.desc())
    return list(session.scalars(query.limit(LIMIT)))


def public_sections(session: Session, organisation_id: int) -> list[Section]:
    events = _rows(session, organisation_id, public=True)
    if not events:
        return []
    return [Section("Upcoming events", "public/events_section.html", {"events": events, "when": when_text})]


def admin_sections(session: Session, organisation_id: int) -> list[Section]:
    events = _rows(session, organisation_id, public=False)
    if not events:
        return []
    return [Section("Events it hosts", "admin/events_section.html", {"events": events, "when": when_text})]
