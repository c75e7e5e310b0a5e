"""The impact summary for a period (browser, CSV) and the monthly summary emailed to the fellow(s).

A period is a pair of Europe/London dates, both inclusive; it is turned into a half-open UTC range
``[start 00:00 London, day after end 00:00 London)``. Definitions (also in docs/dashboard.md):

- partnerships started: partnership records created in the period, counted by their current stage;
- joint bids submitted: partnerships linked to a funding call, at stage proposal or beyond (proposal, funded,
  active, completed), submitted when the call's last deadline passed — or, for one already funded before that
  deadline (or on a call without deadlines), at its last stage change — counted when that moment falls in the
  period and is not in the future; funded: those of them now at funded, active or completed;
- events held: published events that started in the period and before now; attendance: invitations marked
  attended (and, separately, the "yes" answers);
- internships posted: published in the period; filled: status filled and closed/updated in the period;
- VCSE organisations engaged: distinct VCSE organisations that, in the period, had activity on a partnership
  they are a member of, had someone attend an event held in the period, or posted an internship — by region;
- involvement (issue 18, ``crm.dashboard.involvement``): records of involvement by the day people took part — hours,
  payments, expenses, people; opportunities published, expressions of interest and consultation requests sent in
  the period; groups consulted (said yes, or took part) by category and region.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import datetime as dt
import io
from typing import Any

from sqlalchemy import case, func, select, union
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.services import active_admins, email_admins
from crm.dashboard import involvement
from crm.mailing.render import EmailRenderer
from crm.map import gaps
from crm.settings import Settings
from crm.timefmt import LONDON

Stage = m.PartnershipStage
BID_STAGES = (Stage.PROPOSAL, Stage.FUNDED, Stage.ACTIVE, Stage.COMPLETED)
FUNDED_STAGES = (Stage.FUNDED, Stage.ACTIVE, Stage.COMPLETED)


@dataclasses.dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), LONDON).astimezone(dt.UTC)

    @property
    def until(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), LONDON).astimezone(dt.UTC)

    @property
    def label(self) -> str:
        return f"{self.start:%-d %B %Y} to {self.end:%-d %B %Y}"

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        last = calendar.monthrange(day.year, day.month)[1]
        return cls(day.replace(day=1), day.replace(day=last))

    @classmethod
    def previous_month(cls, now: dt.datetime) -> Period:
        first = now.astimezone(LONDON).date().replace(day=1)
        return cls.month_of(first - dt.timedelta(days=1))


def parse_period(raw_from: str, raw_to: str, now: dt.datetime) -> tuple[Period, dict[str, str]]:
    """Lenient parse of the report form: defaults to the last full month; returns (period, errors)."""
    errors: dict[str, str] = {}
    default = Period.previous_month(now)
    values: dict[str, dt.date] = {}
    for name, raw, fallback in (("from", raw_from, default.start), ("to", raw_to, default.end)):
        raw = (raw or "").strip()
        if not raw:
            values[name] = fallback
            continue
        try:
            values[name] = dt.date.fromisoformat(raw)
        except ValueError:
            errors[name] = "Enter a date like 2026-01-31."
            values[name] = fallback
    if values["from"] > values["to"]:
        errors["to"] = "The end date must be on or after the start date."
        return default, errors
    return Period(values["from"], values["to"]), errors


@dataclasses.dataclass
class ImpactReport:
    period: Period
    partnerships_started: int
    started_by_stage: dict[str, int]
    bids_submitted: int
    bids_funded: int
    events_held: int
    event_attendance: int
    event_yes: int
    internships_posted: int
    internships_filled: int
    vcse_by_region: dict[str, int]
    gaps: str = ""  # today's gaps across topics and regions, one sentence (crm.map.gaps.summary); page only
    involvement: involvement.PeriodFigures | None = None
    groups_consulted: involvement.GroupsConsulted | None = None

    @property
    def vcse_engaged(self) -> int:
        return sum(self.vcse_by_region.values())

    def rows(self) -> list[tuple[str, str, int]]:
        """(section, measure, value) rows: what the CSV and the email show."""
        out: list[tuple[str, str, int]] = [("Partnerships", "Started", self.partnerships_started)]
        out += [("Partnerships started by stage", s.capitalize(), n) for s, n in self.started_by_stage.items()]
        out += [
            ("Joint bids", "Submitted", self.bids_submitted),
            ("Joint bids", "Funded", self.bids_funded),
            ("Events", "Held", self.events_held),
            ("Events", "Attended (marked present)", self.event_attendance),
            ("Events", "Places accepted", self.event_yes),
            ("Internships", "Posted", self.internships_posted),
            ("Internships", "Filled", self.internships_filled),
            ("VCSE organisations engaged", "Total", self.vcse_engaged),
        ]
        out += [("VCSE organisations engaged by region", r, n) for r, n in self.vcse_by_region.items()]
        if (inv := self.involvement) is not None:
            out += [
                ("Involvement", "Records of involvement", inv.records),
                ("Involvement", "Hours (rounded)", round(inv.hours)),
                ("Involvement", "People who took part", inv.people),
                ("Involvement", "Paid to people (£, rounded)", round(inv.payment_pence / 100)),
                ("Involvement", "Expenses (£, rounded)", round(inv.expenses_pence / 100)),
                ("Involvement", "Opportunities published", inv.opportunities_published),
                ("Involvement", "Expressions of interest", inv.interests),
                ("Involvement", "Consultation requests sent", inv.consultations_sent),
            ]
        if (groups := self.groups_consulted) is not None:
            out.append(("Groups consulted", "Total", groups.total))
            out += [("Groups consulted by category", c, n) for c, n in groups.by_category.items()]
            out += [("Groups consulted by region", r, n) for r, n in groups.by_region.items()]
        return out


def impact_report(session: Session, period: Period, *, now: dt.datetime) -> ImpactReport:
    """Eight statements whatever the data size (the gaps summary is as of now, not for the period; the last two are
    involvement's)."""
    since, until = period.since, period.until
    p = m.Partnership

    started = dict(
        session.execute(
            select(p.stage, func.count()).where(p.created_at >= since, p.created_at < until).group_by(p.stage)
        ).all()
    )
    started_by_stage = {s.value: int(started.get(s, 0)) for s in Stage}

    c = m.FundingCall
    # When the bid went in: the call's last deadline; but a partnership already funded before that deadline
    # (or on a call without deadlines) was submitted by its last stage change at the latest.
    bid_when = case(
        (
            p.stage.in_(FUNDED_STAGES) & (c.last_deadline_at.is_(None) | (p.stage_changed_at < c.last_deadline_at)),
            p.stage_changed_at,
        ),
        else_=func.coalesce(c.last_deadline_at, p.stage_changed_at),
    )
    bids = session.execute(
        select(
            func.count(),
            func.count().filter(p.stage.in_(FUNDED_STAGES)),
        )
        .select_from(p)
        .join(c, c.id == p.funding_call_id)
        .where(p.stage.in_(BID_STAGES), bid_when >= since, bid_when < until, bid_when <= now)
    ).one()

    e, inv = m.Event, m.Invitation
    held_until = min(until, now)
    held = (e.status == m.EventStatus.PUBLISHED) & (e.starts_at >= since) & (e.starts_at < held_until)
    events_row = session.execute(
        select(
            select(func.count()).select_from(e).where(held).scalar_subquery(),
            select(func.count())
            .select_from(inv)
            .join(e, e.id == inv.event_id)
            .where(held, inv.attended.is_(True))
            .scalar_subquery(),
            select(func.count())
            .select_from(inv)
            .join(e, e.id == inv.event_id)
            .where(held, inv.status == m.InvitationStatus.YES)
            .scalar_subquery(),
        )
    ).one()

    i = m.Internship
    filled_when = func.coalesce(i.closed_at, i.updated_at)
    internships_row = session.execute(
        select(
            select(func.count())
            .select_from(i)
            .where(i.published_at >= since, i.published_at < until)
            .scalar_subquery(),
            select(func.count())
            .select_from(i)
            .where(i.status == m.InternshipStatus.FILLED, filled_when >= since, filled_when < until)
            .scalar_subquery(),
        )
    ).one()

    vcse_by_region = engaged_vcse_by_region(session, period, now=now)
    return ImpactReport(
        period=period,
        partnerships_started=sum(started_by_stage.values()),
        started_by_stage=started_by_stage,
        bids_submitted=int(bids[0] or 0),
        bids_funded=int(bids[1] or 0),
        events_held=int(events_row[0] or 0),
        event_attendance=int(events_row[1] or 0),
        event_yes=int(events_row[2] or 0),
        internships_posted=int(internships_row[0] or 0),
        internships_filled=int(internships_row[1] or 0),
        vcse_by_region=vcse_by_region,
        gaps=gaps.summary(session),
        involvement=involvement.period_figures(session, since, until),
        groups_consulted=involvement.groups_consulted(session, since, until),
    )


def engaged_vcse_by_region(session: Session, period: Period, *, now: dt.datetime) -> dict[str, int]:
    """Distinct VCSE organisations engaged in the period, by region name ("No region" last); one statement."""
    since, until = period.since, period.until
    pm, pa, inv, e, af = m.PartnershipMember, m.PartnershipActivity, m.Invitation, m.Event, m.Affiliation
    via_partnerships = (
        select(pm.organisation_id.label("org_id"))
        .join(pa, pa.partnership_id == pm.partnership_id)
        .where(pm.organisation_id.is_not(None), pa.occurred_at >= since, pa.occurred_at < until)
    )
    via_events = (
        select(af.organisation_id.label("org_id"))
        .join(inv, inv.contact_id == af.contact_id)
        .join(e, e.id == inv.event_id)
        .where(
            inv.attended.is_(True),
            e.status == m.EventStatus.PUBLISHED,
            e.starts_at >= since,
            e.starts_at < min(until, now),
        )
    )
    via_internships = select(m.Internship.host_organisation_id.label("org_id")).where(
        m.Internship.published_at >= since, m.Internship.published_at < until
    )
    engaged = union(via_partnerships, via_events, via_internships).subquery()
    o, r = m.Organisation, m.Region
    rows = session.execute(
        select(r.name, func.count(func.distinct(o.id)))
        .select_from(o)
        .join(engaged, engaged.c.org_id == o.id)
        .outerjoin(r, r.id == o.region_id)
        .where(o.kind == m.OrgKind.VCSE)
        .group_by(r.name, r.position)
        .order_by(func.coalesce(r.position, 10_000), r.name)
    ).all()
    return {(name or "No region"): int(n) for name, n in rows}


def report_csv(report: ImpactReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["period_from", "period_to", "section", "measure", "value"])
    for section, measure, value in report.rows():
        writer.writerow([report.period.start.isoformat(), report.period.end.isoformat(), section, measure, value])
    return buffer.getvalue()


def send_monthly_summary(session: Session, renderer: EmailRenderer, settings: Settings, *, now: dt.datetime) -> int:
    """Queue the previous month's impact summary to every active admin (the fellow). Returns emails queued.

    Idempotent per month and admin: the outbox key is ``monthly-summary:{YYYY-MM}:{user id}``."""
    period = Period.previous_month(now)
    report = impact_report(session, period, now=now)
    month = f"{period.start:%Y-%m}"
    base = settings.base_url.rstrip("/")
    admins = active_admins(session)
    context: dict[str, Any] = {
        "month": f"{period.start:%B %Y}",
        "period": period.label,
        "rows": [list(r) for r in report.rows()],
        "report_url": f"{base}/admin/reports?from={period.start.isoformat()}&to={period.end.isoformat()}",
        "dashboard_url": f"{base}/admin",
    }
    return email_admins(
        session, renderer, admins, key=f"monthly-summary:{month}", kind="monthly_summary", context=context
    )
