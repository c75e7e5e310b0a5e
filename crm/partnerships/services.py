"""Partnership rules: members on both sides, stages and allowed moves, activity log, health, weekly nudges.

Health is derived from days since the last activity (or since the record was created when it has none):
fewer than ``partnership_quiet_days`` → active, fewer than ``partnership_dormant_days`` → quiet, else dormant.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from crm import models as m
from crm.audit import diff, record
from crm.mailing.outbox import enqueue
from crm.mailing.render import EmailRenderer
from crm.settings import Settings
from crm.timefmt import LONDON
from crm.web.auth import Principal
from crm.web.listing import ListParams, Page, SortOption, Sorts, keyset_page

ENTITY = "partnership"
Stage = m.PartnershipStage

# Moves that need no explanation. Anything else (e.g. completed → idea) is allowed only with a reason, which
# is recorded in the audit history.
ALLOWED: dict[Stage, frozenset[Stage]] = {
    Stage.IDEA: frozenset({Stage.EXPLORING, Stage.PAUSED}),
    Stage.EXPLORING: frozenset({Stage.IDEA, Stage.PROPOSAL, Stage.PAUSED}),
    Stage.PROPOSAL: frozenset({Stage.EXPLORING, Stage.FUNDED, Stage.PAUSED}),
    Stage.FUNDED: frozenset({Stage.ACTIVE, Stage.PAUSED}),
    Stage.ACTIVE: frozenset({Stage.COMPLETED, Stage.PAUSED}),
    Stage.COMPLETED: frozenset(),
    Stage.PAUSED: frozenset({Stage.IDEA, Stage.EXPLORING, Stage.PROPOSAL, Stage.FUNDED, Stage.ACTIVE}),
}
# Stages in which a partnership is expected to be alive; completed and paused ones are never nudged about.
LIVE_STAGES = (Stage.IDEA, Stage.EXPLORING, Stage.PROPOSAL, Stage.FUNDED, Stage.ACTIVE)
STAGE_LABELS = {s: s.value.capitalize() for s in Stage}


class PartnershipError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclasses.dataclass
class MemberInput:
    side: m.Side
    organisation_id: int | None = None
    contact_id: int | None = None
    role: str = ""


@dataclasses.dataclass
class PartnershipInput:
    title: str
    summary: str = ""
    stage: Stage = Stage.IDEA
    funding_call_id: int | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    academic_brings: str = ""
    academic_gets: str = ""
    vcse_brings: str = ""
    vcse_gets: str = ""
    next_step: str = ""
    next_step_due: dt.date | None = None
    members: list[MemberInput] = dataclasses.field(default_factory=list)
    topic_ids: list[int] = dataclasses.field(default_factory=list)


# --- health -------------------------------------------------------------------------------------------------


def health_of(
    last_activity_at: dt.datetime | None, created_at: dt.datetime, now: dt.datetime, settings: Settings
) -> m.Health:
    since = last_activity_at or created_at
    days = (now - since).days
    if days < settings.partnership_quiet_days:
        return m.Health.ACTIVE
    if days < settings.partnership_dormant_days:
        return m.Health.QUIET
    return m.Health.DORMANT


def _activity_ref() -> ColumnElement[Any]:
    return func.coalesce(m.Partnership.last_activity_at, m.Partnership.created_at)


def health_clause(health: m.Health, now: dt.datetime, settings: Settings) -> ColumnElement[bool]:
    """SQL equivalent of ``health_of`` (days are whole days, so the cut-offs are ``now - N days``)."""
    ref = _activity_ref()
    quiet_from = now - dt.timedelta(days=settings.partnership_quiet_days)
    dormant_from = now - dt.timedelta(days=settings.partnership_dormant_days)
    if health == m.Health.ACTIVE:
        return ref > quiet_from
    if health == m.Health.QUIET:
        return (ref <= quiet_from) & (ref > dormant_from)
    return ref <= dormant_from


def today_london(now: dt.datetime) -> dt.date:
    return now.astimezone(LONDON).date()


def is_overdue(next_step: str, due: dt.date | None, stage: Stage, now: dt.datetime) -> bool:
    return bool(next_step) and due is not None and due < today_london(now) and stage in LIVE_STAGES


# --- validation and writes ------------------------------------------------------------------------------------


def validate(session: Session, data: PartnershipInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.title.strip():
        errors["title"] = "Enter a title for the partnership."
    elif len(data.title) > 300:
        errors["title"] = "The title must be at most 300 characters."
    if data.start_date and data.end_date and data.end_date < data.start_date:
        errors["end_date"] = "The end date must be on or after the start date."
    if data.next_step_due and not data.next_step.strip():
        errors["next_step"] = "Describe the next step, or clear its due date."
    if len(data.next_step) > 500:
        errors["next_step"] = "The next step must be at most 500 characters."
    sides = {mem.side for mem in data.members}
    if m.Side.ACADEMIC not in sides:
        errors["members"] = "Add at least one member on the academic side."
    elif m.Side.VCSE not in sides:
        errors["members"] = "Add at least one member on the VCSE side."
    org_ids = {mem.organisation_id for mem in data.members if mem.organisation_id}
    contact_ids = {mem.contact_id for mem in data.members if mem.contact_id}
    if any(mem.organisation_id is None and mem.contact_id is None for mem in data.members):
        errors.setdefault("members", "Each member needs an organisation or a contact.")
    if org_ids and len(set(session.scalars(select(m.Organisation.id).where(m.Organisation.id.in_(org_ids))))) != len(
        org_ids
    ):
        errors.setdefault("members", "Choose member organisations from the directory.")
    if contact_ids and len(set(session.scalars(select(m.Contact.id).where(m.Contact.id.in_(contact_ids))))) != len(
        contact_ids
    ):
        errors.setdefault("members", "Choose member contacts from the directory.")
    if data.funding_call_id is not None and session.get(m.FundingCall, data.funding_call_id) is None:
        errors["funding_call_id"] = "Choose a funding call from the list."
    if data.topic_ids and len(set(session.scalars(select(m.Topic.id).where(m.Topic.id.in_(data.topic_ids))))) != len(
        set(data.topic_ids)
    ):
        errors["topic_ids"] = "Choose topics from the list."
    return errors


def snapshot(session: Session, p: m.Partnership) -> dict[str, Any]:
    members: list[str] = []
    topics: list[str] = []
    if p.id:
        org = aliased(m.Organisation)
        for side, org_name, contact_name, role in session.execute(
            select(m.PartnershipMember.side, org.name, m.Contact.name, m.PartnershipMember.role)
            .outerjoin(org, org.id == m.PartnershipMember.organisation_id)
            .outerjoin(m.Contact, m.Contact.id == m.PartnershipMember.contact_id)
            .where(m.PartnershipMember.partnership_id == p.id)
            .order_by(m.PartnershipMember.side, m.PartnershipMember.id)
        ):
            who = " / ".join(x for x in (org_name, contact_name) if x)
            members.append(f"{side.value}: {who}{' (' + role + ')' if role else ''}")
        topics = list(
            session.scalars(
                select(m.Topic.name)
                .join(m.partnership_topics, m.partnership_topics.c.topic_id == m.Topic.id)
                .where(m.partnership_topics.c.partnership_id == p.id)
                .order_by(m.Topic.name)
            )
        )
    return {
        "title": p.title,
        "summary": p.summary,
        "stage": p.stage.value if p.stage else None,
        "funding_call_id": p.funding_call_id,
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "end_date": p.end_date.isoformat() if p.end_date else None,
        "academic_brings": p.academic_brings,
        "academic_gets": p.academic_gets,
        "vcse_brings": p.vcse_brings,
        "vcse_gets": p.vcse_gets,
        "next_step": p.next_step,
        "next_step_due": p.next_step_due.isoformat() if p.next_step_due else None,
        "members": members,
        "topics": topics,
    }


def _apply(session: Session, p: m.Partnership, data: PartnershipInput) -> None:
    for name in (
        "summary",
        "academic_brings",
        "academic_gets",
        "vcse_brings",
        "vcse_gets",
        "next_step",
    ):
        setattr(p, name, getattr(data, name).strip())
    p.title = data.title.strip()
    p.funding_call_id = data.funding_call_id
    p.start_date = data.start_date
    p.end_date = data.end_date
    p.next_step_due = data.next_step_due
    if p.id is None:
        session.add(p)
        session.flush()
    else:
        session.execute(delete(m.PartnershipMember).where(m.PartnershipMember.partnership_id == p.id))
        session.execute(delete(m.partnership_topics).where(m.partnership_topics.c.partnership_id == p.id))
    if data.members:
        session.execute(
            insert(m.PartnershipMember),
            [
                {
                    "partnership_id": p.id,
                    "side": mem.side,
                    "organisation_id": mem.organisation_id,
                    "contact_id": mem.contact_id,
                    "role": mem.role.strip()[:200],
                }
                for mem in data.members
            ],
        )
    if data.topic_ids:
        session.execute(
            insert(m.partnership_topics),
            [{"partnership_id": p.id, "topic_id": t} for t in sorted(set(data.topic_ids))],
        )
    session.flush()


def create_partnership(
    session: Session,
    actor: Principal | None,
    data: PartnershipInput,
    *,
    now: dt.datetime,
    require_both_sides: bool = True,
) -> m.Partnership:
    errors = validate(session, data)
    if not require_both_sides and errors.get("members", "").startswith("Add at least one member"):
        errors.pop("members")
    if errors:
        raise PartnershipError(errors)
    p = m.Partnership(stage=data.stage, stage_changed_at=now, created_at=now, updated_at=now)
    _apply(session, p, data)
    record(session, actor, "created", ENTITY, p.id, summary=p.title, changes=diff({}, snapshot(session, p)))
    return p


def update_partnership(
    session: Session, actor: Principal | None, p: m.Partnership, data: PartnershipInput, *, now: dt.datetime
) -> dict[str, Any]:
    """Everything but the stage (moves go through ``move_stage`` so they can ask for a reason)."""
    errors = validate(session, data)
    if errors:
        raise PartnershipError(errors)
    before = snapshot(session, p)
    _apply(session, p, data)
    changes = diff(before, snapshot(session, p))
    if changes:
        p.updated_at = now
        record(session, actor, "updated", ENTITY, p.id, summary=p.title, changes=changes)
    return changes


def can_move(current: Stage, target: Stage) -> bool:
    return target in ALLOWED[current]


def move_stage(
    session: Session, actor: Principal | None, p: m.Partnership, target: Stage, *, reason: str = "", now: dt.datetime
) -> None:
    if target == p.stage:
        return
    reason = reason.strip()
    if not can_move(p.stage, target) and not reason:
        raise PartnershipError(
            {
                "reason": f"Moving from {STAGE_LABELS[p.stage].lower()} to {STAGE_LABELS[target].lower()} is not a "
                "usual step. Give a reason; it is kept in the history."
            }
        )
    if len(reason) > 500:
        raise PartnershipError({"reason": "The reason must be at most 500 characters."})
    before = p.stage.value
    p.stage = target
    p.stage_changed_at = now
    p.updated_at = now
    summary = f"stage {before} → {target.value}" + (f" (reason: {reason})" if reason else "")
    record(session, actor, "moved", ENTITY, p.id, summary=summary, changes={"stage": [before, target.value]})


def delete_partnership(session: Session, actor: Principal | None, p: m.Partnership) -> None:
    record(session, actor, "deleted", ENTITY, p.id, summary=p.title, changes=diff(snapshot(session, p), {}))
    session.delete(p)
    session.flush()


def _refresh_last_activity(session: Session, p: m.Partnership, now: dt.datetime, settings: Settings | None) -> None:
    p.last_activity_at = session.scalar(
        select(func.max(m.PartnershipActivity.occurred_at)).where(m.PartnershipActivity.partnership_id == p.id)
    )
    if settings is not None and health_of(p.last_activity_at, p.created_at, now, settings) == m.Health.ACTIVE:
        p.nudged_health = m.Health.ACTIVE  # alive again: a later quiet spell is news again


def add_activity(
    session: Session,
    actor: Principal | None,
    p: m.Partnership,
    *,
    kind: m.ActivityKind,
    occurred_at: dt.datetime,
    summary: str,
    now: dt.datetime,
    settings: Settings | None = None,
) -> m.PartnershipActivity:
    errors: dict[str, str] = {}
    if occurred_at > now + dt.timedelta(days=1):
        errors["occurred_at"] = "Record activity that has happened: the date is in the future."
    if not summary.strip():
        errors["summary"] = "Say briefly what happened."
    elif len(summary) > 5000:
        errors["summary"] = "Keep the summary under 5,000 characters."
    if errors:
        raise PartnershipError(errors)
    activity = m.PartnershipActivity(
        partnership_id=p.id,
        kind=kind,
        occurred_at=occurred_at,
        summary=summary.strip(),
        recorded_by_id=actor.id if actor and actor.id > 0 else None,
        recorded_by=actor.email if actor else "system",
        created_at=now,
    )
    session.add(activity)
    session.flush()
    _refresh_last_activity(session, p, now, settings)
    record(
        session,
        actor,
        "activity",
        ENTITY,
        p.id,
        summary=f"{kind.value} on {occurred_at.astimezone(LONDON):%d %b %Y}: {summary.strip()[:200]}",
    )
    return activity


def delete_activity(
    session: Session, actor: Principal | None, p: m.Partnership, activity: m.PartnershipActivity, *, now: dt.datetime
) -> None:
    record(session, actor, "activity deleted", ENTITY, p.id, summary=f"{activity.kind.value}: {activity.summary[:200]}")
    session.delete(activity)
    session.flush()
    _refresh_last_activity(session, p, now, None)


# --- reads --------------------------------------------------------------------------------------------------


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


SORTS = Sorts(
    SortOption("-activity", "Most recent activity", _activity_ref(), descending=True),
    SortOption("activity", "Longest without activity", _activity_ref()),
    SortOption("due", "Next step due", func.coalesce(m.Partnership.next_step_due, dt.date(9999, 12, 31))),
    SortOption("title", "Title", m.Partnership.title),
)
FILTERS = ("stage", "health", "organisation", "call", "overdue")


def list_query(params: ListParams, *, now: dt.datetime, settings: Settings) -> Select[Any]:
    f = params.filters
    query = select(
        m.Partnership.id,
        m.Partnership.title,
        m.Partnership.stage,
        m.Partnership.last_activity_at,
        m.Partnership.created_at,
        m.Partnership.next_step,
        m.Partnership.next_step_due,
        m.Partnership.funding_call_id,
        m.FundingCall.title.label("call_title"),
    ).outerjoin(m.FundingCall, m.FundingCall.id == m.Partnership.funding_call_id)
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


def list_partnerships(session: Session, params: ListParams, *, now: dt.datetime, settings: Settings) -> Page:
    return keyset_page(
        session,
        list_query(params, now=now, settings=settings),
        sort=SORTS.pick(params.sort),
        id_column=m.Partnership.id,
        cursor=params.cursor,
        page_size=params.page_size,
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


def board(session: Session, *, now: dt.datetime, settings: Settings, per_stage: int = 100) -> dict[Stage, list[Any]]:
    """All partnerships grouped by stage (one statement for cards, one for their members)."""
    rows = list(
        session.execute(
            select(
                m.Partnership.id,
                m.Partnership.title,
                m.Partnership.stage,
                m.Partnership.last_activity_at,
                m.Partnership.created_at,
                m.Partnership.next_step,
                m.Partnership.next_step_due,
            )
            .order_by(m.Partnership.stage, _activity_ref().desc(), m.Partnership.id)
            .limit(per_stage * len(Stage))
        )
    )
    grouped: dict[Stage, list[Any]] = {s: [] for s in Stage}
    for row in rows:
        if len(grouped[row.stage]) < per_stage:
            grouped[row.stage].append(row)
    return grouped


def choices(session: Session) -> dict[str, Any]:
    return {
        "organisations": list(
            session.execute(
                select(m.Organisation.id, m.Organisation.name, m.Organisation.kind)
                .where(m.Organisation.kind != m.OrgKind.FUNDER)
                .order_by(m.Organisation.name_normalised)
            )
        ),
        "contacts": list(
            session.execute(
                select(m.Contact.id, m.Contact.name).where(m.Contact.erased_at.is_(None)).order_by(m.Contact.name)
            )
        ),
        "calls": list(
            session.execute(
                select(m.FundingCall.id, m.FundingCall.title, m.FundingCall.status).order_by(
                    m.FundingCall.title_normalised
                )
            )
        ),
        "topics": list(session.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name))),
    }


# --- nudges -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Nudge:
    turned_quiet: list[Any]
    turned_dormant: list[Any]
    overdue: list[Any]

    @property
    def empty(self) -> bool:
        return not (self.turned_quiet or self.turned_dormant or self.overdue)


def collect_nudges(session: Session, *, now: dt.datetime, settings: Settings) -> Nudge:
    """Live partnerships whose health got worse than what was last reported, and overdue next steps."""
    cols = (
        m.Partnership.id,
        m.Partnership.title,
        m.Partnership.stage,
        m.Partnership.last_activity_at,
        m.Partnership.created_at,
        m.Partnership.next_step,
        m.Partnership.next_step_due,
        m.Partnership.nudged_health,
    )
    live = m.Partnership.stage.in_(LIVE_STAGES)
    quiet = list(
        session.execute(
            select(*cols)
            .where(live, health_clause(m.Health.QUIET, now, settings), m.Partnership.nudged_health == m.Health.ACTIVE)
            .order_by(_activity_ref(), m.Partnership.id)
        )
    )
    dormant = list(
        session.execute(
            select(*cols)
            .where(
                live, health_clause(m.Health.DORMANT, now, settings), m.Partnership.nudged_health != m.Health.DORMANT
            )
            .order_by(_activity_ref(), m.Partnership.id)
        )
    )
    overdue = list(
        session.execute(
            select(*cols)
            .where(live, m.Partnership.next_step != "", m.Partnership.next_step_due < today_london(now))
            .order_by(m.Partnership.next_step_due, m.Partnership.id)
        )
    )
    return Nudge(turned_quiet=quiet, turned_dormant=dormant, overdue=overdue)


def iso_week_key(now: dt.datetime) -> str:
    year, week, _ = now.astimezone(LONDON).isocalendar()
    return f"{year}-W{week:02d}"


def send_weekly_nudge(session: Session, renderer: EmailRenderer, settings: Settings, *, now: dt.datetime) -> int:
    """Queue one email per admin listing what needs attention; nothing when there is nothing. Returns emails queued.

    Idempotent per ISO week (Europe/London): the outbox key is ``partnership-nudge:{week}:{user}``.
    """
    nudge = collect_nudges(session, now=now, settings=settings)
    if nudge.empty:
        return 0
    week = iso_week_key(now)
    admins = list(
        session.execute(
            select(m.User.id, m.User.email, m.User.name).where(m.User.role == m.Role.ADMIN, m.User.is_active.is_(True))
        )
    )
    base = settings.base_url.rstrip("/")

    def item(row: Any) -> dict[str, Any]:
        days = (now - (row.last_activity_at or row.created_at)).days
        return {
            "title": row.title,
            "stage": row.stage.value,
            "days_since_activity": days,
            "next_step": row.next_step,
            "next_step_due": row.next_step_due.strftime("%-d %B %Y") if row.next_step_due else "",
            "url": f"{base}/admin/partnerships/{row.id}",
        }

    context = {
        "week": week,
        "turned_quiet": [item(r) for r in nudge.turned_quiet],
        "turned_dormant": [item(r) for r in nudge.turned_dormant],
        "overdue": [item(r) for r in nudge.overdue],
        "quiet_days": settings.partnership_quiet_days,
        "dormant_days": settings.partnership_dormant_days,
        "list_url": f"{base}/admin/partnerships",
    }
    queued = 0
    for admin in admins:
        row_id = enqueue(
            session,
            renderer,
            key=f"partnership-nudge:{week}:{admin.id}",
            kind="partnership_nudge",
            to=admin.email,
            to_name=admin.name,
            template="partnership_nudge",
            context={**context, "name": admin.name},
        )
        queued += row_id is not None
    if admins:
        # Remember what we reported so next week lists only what changed since.
        if nudge.turned_quiet:
            session.execute(
                update(m.Partnership)
                .where(m.Partnership.id.in_([r.id for r in nudge.turned_quiet]))
                .values(nudged_health=m.Health.QUIET)
            )
        if nudge.turned_dormant:
            session.execute(
                update(m.Partnership)
                .where(m.Partnership.id.in_([r.id for r in nudge.turned_dormant]))
                .values(nudged_health=m.Health.DORMANT)
            )
    return queued


# --- organisation page and references ---------------------------------------------------------------------


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
            .order_by(_activity_ref().desc(), m.Partnership.id)
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
