"""Every number on the fellow's dashboard, each computed by one function with a fixed number of SQL statements.

``dashboard(session, now=..., settings=...)`` runs a constant number of statements whatever the data size
(asserted in tests): one per panel, the counters of several panels folded into one SELECT of scalar subqueries.
The involvement panels (hours and payments by quarter, groups consulted) come from ``crm.dashboard.involvement``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.dashboard import involvement
from crm.settings import Settings

Stage = m.PartnershipStage
# Stages in which a partnership is expected to be alive (mirrors crm.partnerships.rules.LIVE_STAGES).
LIVE_STAGES = (Stage.IDEA, Stage.EXPLORING, Stage.PROPOSAL, Stage.FUNDED, Stage.ACTIVE)
DEADLINE_WINDOW_DAYS = 42  # six weeks
MAIL_WINDOW_DAYS = 30
PANEL_LIMIT = 10

# DeliveryEvent.event values (SendGrid Event Webhook names) grouped into what the fellow reads.
BOUNCE_EVENTS = ("bounce", "dropped", "blocked")
SPAM_EVENTS = ("spamreport",)
UNSUBSCRIBE_ACTIONS = (m.ConsentAction.UNSUBSCRIBE, m.ConsentAction.UNSUBSCRIBE_ALL)


def health_expr(now: dt.datetime, settings: Settings) -> Any:
    """SQL for a partnership's health ('active' / 'quiet' / 'dormant'), the same cut-offs as the partnerships
    domain (days since the last activity, or since creation when there is none)."""
    ref = func.coalesce(m.Partnership.last_activity_at, m.Partnership.created_at)
    quiet_from = now - dt.timedelta(days=settings.partnership_quiet_days)
    dormant_from = now - dt.timedelta(days=settings.partnership_dormant_days)
    return case(
        (ref > quiet_from, m.Health.ACTIVE.value),
        (ref > dormant_from, m.Health.QUIET.value),
        else_=m.Health.DORMANT.value,
    )


def today_london(now: dt.datetime) -> dt.date:
    from crm.timefmt import LONDON

    return now.astimezone(LONDON).date()


# --- panels ---------------------------------------------------------------------------------------------------


def upcoming_deadlines(session: Session, now: dt.datetime, days: int = DEADLINE_WINDOW_DAYS) -> list[Any]:
    """Deadlines of published calls due between now and ``days`` ahead, soonest first (one statement)."""
    d, c, o = m.FundingCallDeadline, m.FundingCall, m.Organisation
    return list(
        session.execute(
            select(
                d.id,
                d.label,
                d.due_at,
                c.id.label("call_id"),
                c.title,
                c.slug,
                o.name.label("funder"),
                c.requires_vcse_partner,
            )
            .join(c, c.id == d.call_id)
            .join(o, o.id == c.funder_id)
            .where(c.status == m.CallStatus.PUBLISHED, d.due_at >= now, d.due_at < now + dt.timedelta(days=days))
            .order_by(d.due_at, d.id)
            .limit(25)
        )
    )


@dataclasses.dataclass
class StageHealth:
    """Partnership counts by stage, by health (live stages only) and the stage × health grid."""

    by_stage: dict[str, int]
    by_health: dict[str, int]
    grid: dict[str, dict[str, int]]

    @property
    def total(self) -> int:
        return sum(self.by_stage.values())


def partnerships_by_stage_and_health(session: Session, now: dt.datetime, settings: Settings) -> StageHealth:
    """One GROUP BY statement. Health is counted for live stages only (completed and paused ones are not
    expected to have activity)."""
    health = health_expr(now, settings).label("health")
    rows = session.execute(
        select(m.Partnership.stage, health, func.count()).group_by(m.Partnership.stage, health)
    ).all()
    by_stage = {s.value: 0 for s in Stage}
    by_health = {h.value: 0 for h in m.Health}
    grid = {s.value: {h.value: 0 for h in m.Health} for s in Stage}
    for stage, h, n in rows:
        key = stage.value if hasattr(stage, "value") else str(stage)
        by_stage[key] += n
        grid[key][h] += n
        if key in {s.value for s in LIVE_STAGES}:
            by_health[h] += n
    return StageHealth(by_stage=by_stage, by_health=by_health, grid=grid)


def partnerships_needing_attention(
    session: Session, now: dt.datetime, settings: Settings, limit: int = PANEL_LIMIT
) -> tuple[list[dict[str, Any]], int]:
    """Live partnerships that are quiet or dormant, or whose next step is overdue; most neglected first.

    Returns (rows, total) from one statement (the total is a window count)."""
    p = m.Partnership
    health = health_expr(now, settings)
    today = today_london(now)
    overdue = (p.next_step != "") & p.next_step_due.is_not(None) & (p.next_step_due < today)
    ref = func.coalesce(p.last_activity_at, p.created_at)
    rows = session.execute(
        select(
            p.id,
            p.title,
            p.stage,
            p.next_step,
            p.next_step_due,
            ref.label("last_activity"),
            health.label("health"),
            overdue.label("overdue"),
            func.count().over().label("total"),
        )
        .where(p.stage.in_(LIVE_STAGES), (health != m.Health.ACTIVE.value) | overdue)
        .order_by(ref, p.id)
        .limit(limit)
    ).all()
    items = [
        {
            "id": r.id,
            "title": r.title,
            "stage": r.stage.value,
            "health": r.health,
            "overdue": bool(r.overdue),
            "next_step": r.next_step,
            "next_step_due": r.next_step_due,
            "days_since_activity": (now - r.last_activity).days,
        }
        for r in rows
    ]
    return items, (rows[0].total if rows else 0)


def upcoming_events(session: Session, now: dt.datetime, limit: int = 8) -> list[dict[str, Any]]:
    """Published events not yet started, with RSVP counts against capacity (one statement)."""
    inv, e = m.Invitation, m.Event
    S = m.InvitationStatus
    counts = (
        select(
            inv.event_id.label("event_id"),
            func.count().filter(inv.status == S.YES).label("yes"),
            func.count().filter(inv.status == S.MAYBE).label("maybe"),
            func.count().filter(inv.status == S.NO).label("no"),
            func.count().filter(inv.status == S.WAITLISTED).label("waitlisted"),
            func.count().filter(inv.status == S.INVITED).label("invited"),
        )
        .group_by(inv.event_id)
        .subquery()
    )
    rows = session.execute(
        select(
            e.id,
            e.title,
            e.starts_at,
            e.capacity,
            counts.c.yes,
            counts.c.maybe,
            counts.c.no,
            counts.c.waitlisted,
            counts.c.invited,
        )
        .outerjoin(counts, counts.c.event_id == e.id)
        .where(e.status == m.EventStatus.PUBLISHED, e.starts_at >= now)
        .order_by(e.starts_at, e.id)
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        yes = r.yes or 0
        out.append(
            {
                "id": r.id,
                "title": r.title,
                "starts_at": r.starts_at,
                "capacity": r.capacity,
                "yes": yes,
                "maybe": r.maybe or 0,
                "no": r.no or 0,
                "waitlisted": r.waitlisted or 0,
                "no_answer": r.invited or 0,
                "free": None if r.capacity is None else max(0, r.capacity - yes),
                "percent_full": None if not r.capacity else min(100, round(100 * yes / r.capacity)),
            }
        )
    return out


# --- last digest run: a provider, because the digests model may not exist yet ---------------------------------


def last_digest_run(session: Session) -> dict[str, Any] | None:
    """The most recent real (not dry-run) digest run: {when, finished_at, status, period, frequency, sent,
    skipped, failed, considered}; ``{}`` when none ran yet; ``None`` when the digests model is absent.

    A small provider: the digests domain was built in parallel, so the dashboard tolerates ``DigestRun`` not
    existing (no SQL then). ``skipped`` = nothing new to send (``skipped_empty``) + already sent earlier
    (``already_sent``)."""
    run_model = getattr(m, "DigestRun", None)
    if run_model is None:
        return None
    query = select(run_model)
    if hasattr(run_model, "dry_run"):
        query = query.where(run_model.dry_run.is_(False))
    run = session.scalar(query.order_by(run_model.started_at.desc(), run_model.id.desc()).limit(1))
    if run is None:
        return {}

    def value(name: str, default: Any = None) -> Any:
        v = getattr(run, name, default)
        return v.value if isinstance(v, enum.Enum) else v

    return {
        "when": value("started_at"),
        "finished_at": value("finished_at"),
        "status": value("status", ""),
        "period": value("period", ""),
        "frequency": value("frequency", ""),
        "considered": value("considered"),
        "sent": value("sent"),
        "skipped": (value("skipped_empty", 0) or 0) + (value("already_sent", 0) or 0),
        "failed": value("failed"),
    }


# --- counters: mail health and waiting submissions in ONE statement -------------------------------------------


@dataclasses.dataclass
class Counters:
    sent: int
    delivered: int
    bounced: int
    spam_reports: int
    unsubscribes: int
    failed: int
    organisations_submitted: int
    internships_submitted: int
    place_requests_pending: int
    involvement_submitted: int = 0  # involvement opportunities sent through the public form (issue 18)

    PROVIDER_FIGURES = ("Delivered", "Bounced", "Spam reports")  # known only from the provider's events

    @property
    def mail_health(self) -> dict[str, int]:
        return {
            "Delivered": self.delivered,
            "Bounced": self.bounced,
            "Spam reports": self.spam_reports,
            "Unsubscribes": self.unsubscribes,
        }

    @property
    def waiting_total(self) -> int:
        return (
            self.organisations_submitted
            + self.internships_submitted
            + self.place_requests_pending
            + self.involvement_submitted
        )


def _when(ev: type[m.DeliveryEvent]) -> Any:
    return func.coalesce(ev.occurred_at, ev.received_at)


def counters(session: Session, now: dt.datetime, days: int = MAIL_WINDOW_DAYS) -> Counters:
    """Mail health over the last ``days`` days and submissions waiting for review, in one SELECT.

    delivered / bounced (bounce, dropped, blocked) / spam reports come from provider events (DeliveryEvent);
    sent and failed from the outbox; unsubscribes from the consent log (unsubscribe and unsubscribe-all)."""
    since = now - dt.timedelta(days=days)
    ev, ob, ce = m.DeliveryEvent, m.OutboxMessage, m.ConsentEntry

    def n(query: Any) -> Any:
        return query.scalar_subquery()

    def events(names: tuple[str, ...]) -> Any:
        return n(select(func.count()).select_from(ev).where(ev.event.in_(names), _when(ev) >= since))

    row = session.execute(
        select(
            n(select(func.count()).select_from(ob).where(ob.sent_at >= since)).label("sent"),
            events(("delivered",)).label("delivered"),
            events(BOUNCE_EVENTS).label("bounced"),
            events(SPAM_EVENTS).label("spam_reports"),
            n(
                select(func.count()).select_from(ce).where(ce.action.in_(UNSUBSCRIBE_ACTIONS), ce.created_at >= since)
            ).label("unsubscribes"),
            n(
                select(func.count()).select_from(ob).where(ob.status == m.OutboxStatus.FAILED, ob.created_at >= since)
            ).label("failed"),
            n(
                select(func.count())
                .select_from(m.Organisation)
                .where(m.Organisation.review_status == m.ReviewStatus.SUBMITTED)
            ).label("organisations_submitted"),
            n(
                select(func.count())
                .select_from(m.Internship)
                .where(m.Internship.status == m.InternshipStatus.SUBMITTED)
            ).label("internships_submitted"),
            n(
                select(func.count())
                .select_from(m.PlaceRequest)
                .where(m.PlaceRequest.status == m.PlaceRequestStatus.PENDING)
            ).label("place_requests_pending"),
            n(
                select(func.count())
                .select_from(m.InvolvementOpportunity)
                .where(m.InvolvementOpportunity.status == m.OpportunityStatus.SUBMITTED)
            ).label("involvement_submitted"),
        )
    ).one()
    return Counters(**{k: int(v or 0) for k, v in row._mapping.items()})


# --- the whole dashboard ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Dashboard:
    now: dt.datetime
    deadlines: list[Any]
    stage_health: StageHealth
    attention: list[dict[str, Any]]
    attention_total: int
    events: list[dict[str, Any]]
    digest: dict[str, Any] | None
    counters: Counters
    digests_available: bool
    involvement_quarters: list[involvement.Quarter] = dataclasses.field(default_factory=list)
    groups_consulted: involvement.GroupsConsulted | None = None  # over the last twelve months


GROUPS_WINDOW_DAYS = 365


def dashboard(session: Session, *, now: dt.datetime, settings: Settings) -> Dashboard:
    """Everything on ``/admin``: eight statements (seven when the digests model is absent), whatever the data."""
    attention, attention_total = partnerships_needing_attention(session, now, settings)
    return Dashboard(
        now=now,
        deadlines=upcoming_deadlines(session, now),
        stage_health=partnerships_by_stage_and_health(session, now, settings),
        attention=attention,
        attention_total=attention_total,
        events=upcoming_events(session, now),
        digest=last_digest_run(session),
        counters=counters(session, now),
        digests_available=hasattr(m, "DigestRun"),
        involvement_quarters=involvement.by_quarter(session, now),
        groups_consulted=involvement.groups_consulted(session, now - dt.timedelta(days=GROUPS_WINDOW_DAYS), now),
    )
