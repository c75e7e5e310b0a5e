"""May an organisation be deleted? Other domains say which of their records still use it.

``organisation_references(session, org_id, ext)`` returns human-readable reasons ("Funding call 'X' names it as
funder"); an empty list means deleting is allowed. The providers are the ``references`` each domain declares in
the manifest (``crm.domains``), passed in as ``Extensions``.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.extensions import Extensions


def organisation_references(session: Session, org_id: int, ext: Extensions) -> list[str]:
    reasons: list[str] = []
    children = session.scalar(select(func.count()).where(m.Organisation.parent_id == org_id)) or 0
    if children:
        reasons.append(f"{children} organisation(s) name it as their parent; change or remove that first")
    for provider in ext.references:
        reasons.extend(provider(session, org_id))
    return reasons
