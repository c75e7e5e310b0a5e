"""Who may do what with involvement opportunities (issue 18), in one place so the admin pages, the API and the
consultation requests ask the same question and get the same answer.

- The fellow (an admin, or an admin API key) does everything: posts, edits, approves, rejects, closes, deletes, and
  sees every expression of interest.
- An editor whose account belongs to an academic organisation (``OrgKind.ACADEMIC``: a university or research
  team) may post. They see and change only the opportunities they created or that belong to their organisation,
  and the expressions of interest in those only (special-category data: a poster sees their own applicants, no one
  else's). Their posts are published at once: the fellow checks academic accounts when creating them.
- Everyone else (a viewer, an editor of a charity) has no involvement admin pages at all.
- Someone who posted through the public form has no account: their signed manage link opens their one opportunity
  (``crm.involvement.posting.manage_opportunity``), and nothing else.

A record that is not the caller's is answered as "not found", so an editor cannot learn which ids exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.errors import Forbidden, NotFound

Opp = m.InvolvementOpportunity
NOT_ALLOWED = (
    "Involvement opportunities can be posted by the fellow and by editors of a university or research "
    "organisation. Ask the fellow if your account should be linked to one."
)


def is_fellow(actor: Principal | None) -> bool:
    return actor is not None and actor.is_admin


def _organisation_kind(session: Session, organisation_id: int | None) -> m.OrgKind | None:
    if organisation_id is None:
        return None
    return session.scalar(select(m.Organisation.kind).where(m.Organisation.id == organisation_id))


def can_post(session: Session, actor: Principal | None) -> bool:
    """The fellow, or an editor of an academic organisation (one short statement for the editor)."""
    if actor is None:
        return False
    if actor.is_admin:
        return True
    if not actor.has_role(m.Role.EDITOR) or actor.organisation_id is None:
        return False
    return _organisation_kind(session, actor.organisation_id) == m.OrgKind.ACADEMIC


def require_poster(session: Session, actor: Principal | None) -> Principal:
    """``actor`` when they may use the involvement admin pages; ``Forbidden`` (a 403 with the reason) otherwise."""
    if actor is None or not can_post(session, actor):
        raise Forbidden(NOT_ALLOWED)
    return actor


def owns(actor: Principal, *, created_by_user_id: int | None, organisation_id: int | None) -> bool:
    """Whether a record created by ``created_by_user_id`` for ``organisation_id`` is the actor's to see and change:
    always for the fellow; for an editor, what they created or what belongs to their organisation. Consultation
    requests use the same rule (``crm.involvement.consultation``)."""
    if actor.is_admin:
        return True
    if actor.id > 0 and created_by_user_id == actor.id:
        return True
    return actor.organisation_id is not None and organisation_id == actor.organisation_id


def owned_condition(
    actor: Principal, created_by: Any = Opp.created_by_user_id, organisation: Any = Opp.organisation_id
) -> ColumnElement[bool]:
    """``owns`` as a WHERE condition for lists (everything for the fellow), so a list is still one statement."""
    if actor.is_admin:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if actor.id > 0:
        conditions.append(created_by == actor.id)
    if actor.organisation_id is not None:
        conditions.append(organisation == actor.organisation_id)
    return or_(*conditions) if conditions else false()


def require_owner(actor: Principal, opportunity: m.InvolvementOpportunity) -> m.InvolvementOpportunity:
    """The opportunity when it is the actor's; ``NotFound`` otherwise (an editor does not learn it exists)."""
    if not owns(actor, created_by_user_id=opportunity.created_by_user_id, organisation_id=opportunity.organisation_id):
        raise NotFound("No such involvement opportunity.")
    return opportunity


def get_owned(session: Session, actor: Principal, opportunity_id: int) -> m.InvolvementOpportunity:
    """The opportunity by id when the actor may see it (the fellow: any), else ``NotFound``."""
    opportunity = session.get(Opp, opportunity_id)
    if opportunity is None:
        raise NotFound("No such involvement opportunity.")
    return require_owner(actor, opportunity)


def require_organisation(session: Session, actor: Principal, organisation_id: int | None) -> None:
    """An editor may post only for their own organisation (or none, which then means theirs); the fellow for any."""
    if actor.is_admin or organisation_id is None or organisation_id == actor.organisation_id:
        return
    raise Forbidden("You can post opportunities only for your own organisation.")
