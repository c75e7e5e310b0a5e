"""Sections other domains add to an organisation's page (its funding calls, events, internships, partnerships).

Each provider module may define ``public_sections(session, organisation_id)`` and/or
``admin_sections(session, organisation_id)`` returning a list of ``Section``; the organisation page renders
each with ``{% include section.template %}`` and ``section.context``. Providers that do not exist yet are
skipped, so domains plug in without the directory knowing them.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from sqlalchemy.orm import Session

PROVIDERS = (
    "crm.funding.sections",
    "crm.partnerships.sections",
    "crm.events.sections",
    "crm.internships.sections",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Section:
    title: str
    template: str
    context: dict[str, Any]


def _collect(kind: str, session: Session, organisation_id: int) -> list[Section]:
    sections: list[Section] = []
    for name in PROVIDERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        provider = getattr(module, kind, None)
        if provider is not None:
            sections.extend(provider(session, organisation_id))
    return sections


def public_sections(session: Session, organisation_id: int) -> list[Section]:
    return _collect("public_sections", session, organisation_id)


def admin_sections(session: Session, organisation_id: int) -> list[Section]:
    return _collect("admin_sections", session, organisation_id)
