"""Sections other domains add to an organisation's page (its funding calls, events, internships, partnerships).

The providers come from the manifest (``crm.domains``) as ``Extensions``; the organisation page renders each
section with ``{% include section.template %}`` and ``section.context``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.extensions import Extensions, Section


def public_sections(session: Session, organisation_id: int, ext: Extensions) -> list[Section]:
    return [s for provider in ext.public_sections for s in provider(session, organisation_id)]


def admin_sections(session: Session, organisation_id: int, ext: Extensions) -> list[Section]:
    return [s for provider in ext.admin_sections for s in provider(session, organisation_id)]
