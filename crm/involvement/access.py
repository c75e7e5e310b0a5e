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

The admin list is here too (``admin_list``, ``tab_counts``, ``csv_rows``): it is this rule applied to a list, so the
fellow's list and an editor's can never differ in anything but the condition ``owned_condition`` adds.

A record that is not the caller's is answered as "not found", so an editor cannot learn which ids exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.export import safe_cell
from crm.errors import Forbidden, NotFound
from crm.involvement.rules import payment_summary
from crm.listing import ListParams, Page, SortOption, Sorts, fetch_page

Opp = m.InvolvementOpportunity
NOT_ALLOWED = (
    "Involvement opportunities and consultation requests are for the fellow and for editors of a university or "
    "research organisation. Ask the fellow if your account should be linked to one."
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


def require_fellow(actor: Principal) -> Principal:
    """Moderation (approve, turn down, a new manage link) is the fellow's alone."""
    if not actor.is_admin:
        raise Forbidden("Only the fellow can do this.")
    return actor


def organisation_choices(session: Session, actor: Principal) -> list[Any]:
    """The organisations the admin form offers: approved ones for the fellow, the editor's own for an editor."""
    o = m.Organisation
    query = select(o.id, o.name).where(o.review_status == m.ReviewStatus.APPROVED).order_by(o.name_normalised)
    if not actor.is_admin:
        query = query.where(o.id == (actor.organisation_id or -1))
    return list(session.execute(query.limit(3000)))


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


# ---------------------------------------------------------------------------------------------------------------
# What an actor sees: the admin list (the fellow: all; an editor: their own), its tabs and its CSV

# The list's tabs, in the fellow's words; "" is every status. "submitted" is what waits for the fellow's approval.
STATUS_TABS: tuple[tuple[str, str], ...] = (
    ("", "All"),
    (m.OpportunityStatus.SUBMITTED.value, "Waiting for approval"),
    (m.OpportunityStatus.PUBLISHED.value, "Published"),
    (m.OpportunityStatus.DRAFT.value, "Drafts"),
    (m.OpportunityStatus.CLOSED.value, "Closed"),
    (m.OpportunityStatus.REJECTED.value, "Turned down"),
)
FILTERS = ("status", "kind", "payment", "origin", "region")
PAYMENT_FILTERS = {"paid": "Paid", "expenses": "Expenses only"}
ORIGIN_FILTERS = {"public": "Sent through the public form", "staff": "Posted by the fellow or an editor"}
_interests = m.InvolvementInterest
INTEREST_COUNT = (
    select(func.count()).where(_interests.opportunity_id == Opp.id).correlate(Opp).scalar_subquery().label("interests")
)
NEW_INTEREST_COUNT = (
    select(func.count())
    .where(_interests.opportunity_id == Opp.id, _interests.status == m.InvolvementInterestStatus.NEW)
    .correlate(Opp)
    .scalar_subquery()
    .label("new_interests")
)
ADMIN_SORTS = Sorts(
    SortOption("-created", "Newest first", Opp.created_at, descending=True),
    SortOption("closing", "Closing soonest", Opp.closes_at),
    SortOption("-closing", "Closing latest", Opp.closes_at, descending=True),
    SortOption("title", "Title A–Z", Opp.title),
    SortOption("-title", "Title Z–A", Opp.title, descending=True),
)


def admin_query(actor: Principal, params: ListParams, *, status: bool = True) -> Select[Any]:
    """The actor's opportunities matching the list's search and filters (``status=False``: every tab's)."""
    query = (
        select(
            Opp.id,
            Opp.title,
            Opp.slug,
            Opp.kind,
            Opp.status,
            Opp.closing_date,
            Opp.closes_at,
            Opp.created_at,
            Opp.submitted_at,
            Opp.public_posted,
            Opp.online,
            Opp.paid,
            Opp.payment_pence,
            Opp.payment_basis,
            Opp.expenses_covered,
            m.Organisation.name.label("organisation_name"),
            m.Region.name.label("region_name"),
        )
        .outerjoin(m.Organisation, m.Organisation.id == Opp.organisation_id)
        .outerjoin(m.Region, m.Region.id == Opp.region_id)
        .where(owned_condition(actor))
    )
    f = params.filters
    if status and f.get("status") in {s.value for s in m.OpportunityStatus}:
        query = query.where(Opp.status == f["status"])
    if f.get("kind") in {k.value for k in m.InvolvementKind}:
        query = query.where(Opp.kind == f["kind"])
    if f.get("payment") == "paid":
        query = query.where(Opp.paid.is_(True))
    elif f.get("payment") == "expenses":
        query = query.where(Opp.paid.is_(False))
    if f.get("origin") in ORIGIN_FILTERS:
        query = query.where(Opp.public_posted.is_(f["origin"] == "public"))
    if str(f.get("region", "")).isdigit():
        query = query.where(Opp.region_id == int(f["region"]))
    if params.q:
        pattern = "%" + params.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(Opp.title).like(pattern, escape="\\"),
                func.lower(Opp.summary).like(pattern, escape="\\"),
                func.lower(m.Organisation.name).like(pattern, escape="\\"),
            )
        )
    return query


def admin_list(session: Session, actor: Principal, params: ListParams) -> Page:
    """One page of the actor's opportunities with their interest counts, and how many match: two statements."""
    query = admin_query(actor, params).add_columns(INTEREST_COUNT, NEW_INTEREST_COUNT)
    return fetch_page(session, query, params, ADMIN_SORTS, id_column=Opp.id, count=True)


def tab_counts(session: Session, actor: Principal, params: ListParams) -> dict[str, int]:
    """How many of the actor's opportunities each tab holds under the other filters: one statement."""
    sub = admin_query(actor, params, status=False).subquery()
    counts = {value: 0 for value, _ in STATUS_TABS}
    for status, n in session.execute(select(sub.c.status, func.count()).group_by(sub.c.status)):
        counts[m.OpportunityStatus(status).value] = int(n)
    counts[""] = sum(n for key, n in counts.items() if key)
    return counts


CSV_HEADER = [
    "id", "title", "kind", "status", "organisation", "region", "online", "payment", "closing_date", "submitted_at",
    "posted_through_public_form", "interests", "new_interests", "public_page",
]  # fmt: skip
CSV_BATCH = 500


def csv_rows(session: Session, actor: Principal, params: ListParams, base_url: str) -> Iterator[list[Any]]:
    """The list as CSV rows, every page of it, in id order in batches (one statement per 500 rows). No personal
    data: the contact and the people who expressed interest stay on the opportunity's page."""
    yield CSV_HEADER
    query = admin_query(actor, params).add_columns(INTEREST_COUNT, NEW_INTEREST_COUNT)
    base = base_url.rstrip("/")
    last = 0
    while True:
        rows = list(session.execute(query.where(Opp.id > last).order_by(Opp.id).limit(CSV_BATCH)))
        for r in rows:
            yield [
                safe_cell(value)
                for value in (
                    r.id,
                    r.title,
                    r.kind.label,
                    "waiting for approval" if r.status == m.OpportunityStatus.SUBMITTED else r.status.value,
                    r.organisation_name or "",
                    r.region_name or "",
                    r.online,
                    payment_summary(r),
                    r.closing_date.isoformat(),
                    r.submitted_at.isoformat() if r.submitted_at else "",
                    r.public_posted,
                    r.interests,
                    r.new_interests,
                    f"{base}/involvement/{r.slug}" if r.status in PUBLIC_STATUSES else "",
                )
            ]
        if len(rows) < CSV_BATCH:
            return
        last = rows[-1].id


PUBLIC_STATUSES = (m.OpportunityStatus.PUBLISHED, m.OpportunityStatus.CLOSED)
