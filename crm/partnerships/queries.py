"""Reading partnerships: one record with its members, the activity log, the filtered and sorted list, the board,
the form's choices and an organisation's partnerships."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from crm import models as m
from crm.accounts.principal import Principal
from crm.listing import ListParams, Page, SortOption, Sorts, archive_filter, keyset_page
from crm.partnerships.rules import LIVE_STAGES, Stage, activity_ref, health_clause, sees_all, today_london
from crm.settings import Settings


def visible_to(actor: Principal | None) -> ColumnElement[bool] | None:
    """The SQL form of ``rules.may_see``: None when the actor sees every partnership."""
    if sees_all(actor):
        return None
    assert actor is not None
    if actor.organisation_id is None:
        return false()
    return exists().where(
        m.PartnershipMember.partnership_id == m.Partnership.id,
        m.PartnershipMember.organisation_id == actor.organisation_id,
    )


def load(session: Session, partnership_id: int) -> m.Partnership | None:
    return session.scalar(
        select(m.Partnership)
        .where(m.Partnership.id == partnership_id)
        .options(
            selectinload(m.Partnership.members).selectinload(m.PartnershipMember.organisation),
            selectinload(m.Partnership.members).selectinload(m.PartnershipMember.contact),
            selectinload(m.Partnership.topics),
        )
    )


def activities(session: Session, partnership_id: int, limit: int = 200) -> list[m.PartnershipActivity]:
    return list(
        session.scalars(
            select(m.PartnershipActivity)
            .where(m.PartnershipActivity.partnership_id == partnership_id)
            .order_by(m.PartnershipActivity.occurred_at.desc(), m.PartnershipActivity.id.desc())
            .limit(limit)
        )
    )


# What a partnership's row in a list, a board card or a nudge shows, with what its health and overdue step need.
ROW_COLUMNS = (
    m.Partnership.id,
    m.Partnership.title,
    m.Partnership.stage,
    m.Partnership.last_activity_at,
    m.Partnership.created_at,
    m.Partnership.next_step,
    m.Partnership.next_step_due,
)

SORTS = Sorts(
    SortOption("-activity", "Most recent activity", activity_ref(), descending=True),
    SortOption("activity", "Longest without activity", activity_ref()),
    SortOption("due", "Next step due", func.coalesce(m.Partnership.next_step_due, dt.date(9999, 12, 31))),
    SortOption("title", "Title", m.Partnership.title),
)
FILTERS = ("stage", "health", "organisation", "call", "overdue", "archived")


def list_query(params: ListParams, *, now: dt.datetime, settings: Settings, actor: Principal | None) -> Select[Any]:
    f = params.filters
    query = select(*ROW_COLUMNS, m.Partnership.funding_call_id, m.FundingCall.title.label("call_title")).outerjoin(
        m.FundingCall, m.FundingCall.id == m.Partnership.funding_call_id
    )
    if (visible := visible_to(actor)) is not None:
        query = query.where(visible)
    query = archive_filter(query, m.Partnership.archived_at, f.get("archived"))
    if f.get("stage") in {s.value for s in Stage}:
        query = query.where(m.Partnership.stage == f["stage"])
    if f.get("health") in {h.value for h in m.Health}:
        query = query.where(health_clause(m.Health(f["health"]), now, settings))
    org_id = _int(f.get("organisation"))
    if org_id is not None:
        query = query.where(
            exists().where(
                m.PartnershipMember.partnership_id == m.Partnership.id, m.PartnershipMember.organisation_id == org_id
            )
        )
    call_id = _int(f.get("call"))
    if call_id is not None:
        query = query.where(m.Partnership.funding_call_id == call_id)
    if f.get("overdue") in {"1", "yes", "on", "true"}:
        query = query.where(
            m.Partnership.next_step != "",
            m.Partnership.next_step_due < today_london(now),
            m.Partnership.stage.in_(LIVE_STAGES),
        )
    if params.q:
        for word in params.q.split()[:8]:
            query = query.where(
                or_(
                    m.Partnership.title.ilike(f"%{_esc(word)}%", escape="\\"),
                    m.Partnership.summary.ilike(f"%{_esc(word)}%", escape="\\"),
                )
            )
    return query


def _esc(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def list_partnerships(
    session: Session,
    params: ListParams,
    *,
    now: dt.datetime,
    settings: Settings,
    actor: Principal | None,
    count: bool = False,
) -> Page:
    """The partnerships ``actor`` may see (``rules.may_see``), filtered, sorted and keyset-paged."""
    return keyset_page(
        session,
        list_query(params, now=now, settings=settings, actor=actor),
        sort=SORTS.pick(params.sort),
        id_column=m.Partnership.id,
        cursor=params.cursor,
        page_size=params.page_size,
        count=count,
    )


def member_names(session: Session, partnership_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """Members of several partnerships in one statement: {id: {"academic": [...], "vcse": [...]}}."""
    out: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"academic": [], "vcse": []})
    if not partnership_ids:
        return out
    for pid, side, org_name, contact_name in session.execute(
        select(m.PartnershipMember.partnership_id, m.PartnershipMember.side, m.Organisation.name, m.Contact.name)
        .outerjoin(m.Organisation, m.Organisation.id == m.PartnershipMember.organisation_id)
        .outerjoin(m.Contact, m.Contact.id == m.PartnershipMember.contact_id)
        .where(m.PartnershipMember.partnership_id.in_(partnership_ids))
        .order_by(m.PartnershipMember.id)
    ):
        out[pid][side.value].append(org_name or contact_name or "")
    return out


def board(
    session: Session, *, now: dt.datetime, settings: Settings, actor: Principal | None, per_stage: int = 100
) -> dict[Stage, list[Any]]:
    """The partnerships ``actor`` may see, grouped by stage (one statement for cards, one for their members)."""
    query = select(*ROW_COLUMNS).where(m.Partnership.archived_at.is_(None))
    if (visible := visible_to(actor)) is not None:
        query = query.where(visible)
    rows = list(
        session.execute(
            query.order_by(m.Partnership.stage, activity_ref().desc(), m.Partnership.id).limit(per_stage * len(Stage))
        )
    )
    grouped: dict[Stage, list[Any]] = {s: [] for s in Stage}
    for row in rows:
        if len(grouped[row.stage]) < per_stage:
            grouped[row.stage].append(row)
    return grouped


def choices(session: Session, actor: Principal | None, keep_contact_ids: Iterable[int] = ()) -> dict[str, Any]:
    """The form's and filters' menus. People are private: an editor is offered only the contacts linked to their
    own organisation, plus those already members of the partnership being edited (so saving keeps them)."""
    contacts = select(m.Contact.id, m.Contact.name).where(m.Contact.erased_at.is_(None)).order_by(m.Contact.name)
    if not sees_all(actor):
        assert actor is not None
        own = select(m.Affiliation.contact_id).where(m.Affiliation.organisation_id == actor.organisation_id)
        contacts = contacts.where(or_(m.Contact.id.in_(own), m.Contact.id.in_(list(keep_contact_ids))))
    return {
        "organisations": list(
            session.execute(
                select(m.Organisation.id, m.Organisation.name, m.Organisation.kind)
                .where(m.Organisation.kind != m.OrgKind.FUNDER)
                .order_by(m.Organisation.name_normalised)
            )
        ),
        "contacts": list(session.execute(contacts)),
        "calls": list(
            session.execute(
                select(m.FundingCall.id, m.FundingCall.title, m.FundingCall.status).order_by(
                    m.FundingCall.title_normalised
                )
            )
        ),
        "topics": list(session.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name))),
    }


def for_organisation(session: Session, organisation_id: int, limit: int = 50) -> list[Any]:
    return list(
        session.execute(
            select(
                m.Partnership.id,
                m.Partnership.title,
                m.Partnership.stage,
                m.Partnership.last_activity_at,
                m.Partnership.created_at,
                m.PartnershipMember.side,
                m.PartnershipMember.role,
            )
            .join(m.PartnershipMember, m.PartnershipMember.partnership_id == m.Partnership.id)
            .where(m.PartnershipMember.organisation_id == organisation_id)
            .order_by(activity_ref().desc(), m.Partnership.id)
            .limit(limit)
        )
    )


def recent_activity_for_organisation(session: Session, organisation_id: int, limit: int = 20) -> list[Any]:
    return list(
        session.execute(
            select(
                m.PartnershipActivity.id,
                m.PartnershipActivity.kind,
                m.PartnershipActivity.occurred_at,
                m.PartnershipActivity.summary,
                m.PartnershipActivity.recorded_by,
                m.Partnership.id.label("partnership_id"),
                m.Partnership.title.label("partnership_title"),
            )
            .join(m.Partnership, m.Partnership.id == m.PartnershipActivity.partnership_id)
            .where(
                exists().where(
                    m.PartnershipMember.partnership_id == m.Partnership.id,
                    m.PartnershipMember.organisation_id == organisation_id,
                )
            )
            .order_by(m.PartnershipActivity.occurred_at.desc(), m.PartnershipActivity.id.desc())
            .limit(limit)
        )
    )
