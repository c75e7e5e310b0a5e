"""May an organisation be deleted? Other domains say which of their records still use it.

``organisation_references(session, org_id)`` returns human-readable reasons ("Funding call 'X' names it as
funder"); an empty list means deleting is allowed. Each provider module may define
``references(session, organisation_id) -> list[str]``; modules that do not exist yet are skipped, so domains
plug in without the directory knowing them (the same pattern as ``crm.directory.sections``).
"""

from __future__ import annotations

import importlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m

PROVIDERS = (
    "crm.funding.references",
    "crm.partnerships.references",
    "crm.events.references",
    "crm.internships.references",
)


def organisation_references(session: Session, org_id: int) -> list[str]:
    reasons: list[str] = []
    children = session.scalar(select(func.count()).where(m.Organisation.parent_id == org_id)) or 0
    if children:
        reasons.append(f"{children} organisation(s) name it as their parent; change or remove that first")
    for name in PROVIDERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        provider = getattr(module, "references", None)
        if provider is not None:
            reasons.extend(provider(session, org_id))
    return reasons
