"""Demo internships: both directions, some closing soon, some closed or filled, some waiting for approval, and
a few registrations of interest. Invented names and example.org addresses only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.services import ensure_user
from crm.directory.reference import slugify
from crm.internships.services import closes_at_for, london_today
from crm.settings import Settings

S = m.InternshipStatus
D = m.InternshipDirection

# title, direction, mode, paid pence, period, hours, days until closing, status, topics, stages
LISTINGS = [
    (
        "Peer support evaluation placement",
        D.RESEARCHER_TO_VCSE,
        "hybrid",
        25000,
        "week",
        20,
        5,
        S.PUBLISHED,
        ["Peer support"],
        ["early-career-researcher", "student"],
    ),
    (
        "Co-producing a young people's wellbeing survey",
        D.RESEARCHER_TO_VCSE,
        "on-site",
        1500,
        "hour",
        15,
        30,
        S.PUBLISHED,
        ["Children and young people"],
        ["early-career-researcher"],
    ),
    (
        "Data skills for a carers' charity",
        D.RESEARCHER_TO_VCSE,
        "remote",
        None,
        None,
        8,
        21,
        S.PUBLISHED,
        ["Carers", "Digital mental health"],
        [],
    ),
    (
        "Lived experience researcher in a psychosis trial team",
        D.VCSE_TO_ACADEMIC,
        "hybrid",
        300000,
        "month",
        30,
        45,
        S.PUBLISHED,
        ["Psychosis"],
        ["lived-experience-expert", "practitioner"],
    ),
    (
        "Charity staff secondment to a suicide prevention lab",
        D.VCSE_TO_ACADEMIC,
        "on-site",
        12000,
        "day",
        14,
        3,
        S.PUBLISHED,
        ["Suicide prevention"],
        ["practitioner"],
    ),
    (
        "Writing up community arts outcomes",
        D.VCSE_TO_ACADEMIC,
        "remote",
        None,
        None,
        6,
        60,
        S.PUBLISHED,
        ["Arts and creativity"],
        [],
    ),
    (
        "Rural outreach mapping internship",
        D.RESEARCHER_TO_VCSE,
        "on-site",
        20000,
        "week",
        35,
        -10,
        S.CLOSED,
        ["Rural communities"],
        ["student"],
    ),
    (
        "Perinatal support service review",
        D.RESEARCHER_TO_VCSE,
        "hybrid",
        500000,
        "total",
        21,
        12,
        S.FILLED,
        ["Perinatal mental health"],
        ["early-career-researcher"],
    ),
    (
        "Housing and mental health interviews",
        D.RESEARCHER_TO_VCSE,
        "on-site",
        18000,
        "week",
        25,
        28,
        S.SUBMITTED,
        ["Housing and homelessness"],
        [],
    ),
    (
        "Digital inclusion study with an academic team",
        D.VCSE_TO_ACADEMIC,
        "remote",
        None,
        None,
        10,
        40,
        S.SUBMITTED,
        ["Digital mental health"],
        ["practitioner"],
    ),
    (
        "Draft: eating disorders helpline analysis",
        D.RESEARCHER_TO_VCSE,
        "remote",
        1400,
        "hour",
        12,
        50,
        S.DRAFT,
        ["Eating disorders"],
        [],
    ),
]

INTERESTS = [
    ("Ada Example", "ada.example@example.org", "I work on peer-led services and would love to help."),
    ("Bo Sample", "bo.sample@example.org", "Available two days a week from next month."),
    ("Cy Placeholder", "cy.placeholder@example.org", ""),
]


def _organisations(session: Session) -> tuple[list[m.Organisation], list[m.Organisation]]:
    vcse = list(session.scalars(select(m.Organisation).where(m.Organisation.kind == m.OrgKind.VCSE).limit(6)))
    academic = list(session.scalars(select(m.Organisation).where(m.Organisation.kind == m.OrgKind.ACADEMIC).limit(6)))
    if not vcse:
        vcse = [_org(session, "Hillside Wellbeing Collective (demo)", m.OrgKind.VCSE)]
    if not academic:
        academic = [_org(session, "University of Northfield Mental Health Lab (demo)", m.OrgKind.ACADEMIC)]
    return vcse, academic


def _org(session: Session, name: str, kind: m.OrgKind) -> m.Organisation:
    org = m.Organisation(name=name, name_normalised=name.lower(), slug=slugify(name), kind=kind)
    session.add(org)
    session.flush()
    return org


def seed(session: Session, settings: Settings) -> None:
    if session.scalar(select(m.Internship.id).limit(1)) is not None:
        return
    now = dt.datetime.now(dt.UTC)
    today = london_today(now)
    vcse, academic = _organisations(session)
    topics = {name: topic_id for name, topic_id in session.execute(select(m.Topic.name, m.Topic.id))}
    regions = list(session.scalars(select(m.Region.id).order_by(m.Region.position)))
    created: list[m.Internship] = []
    for n, (title, direction, mode, pence, period, hours, days, status, topic_names, stages) in enumerate(LISTINGS):
        hosts = vcse if direction == D.RESEARCHER_TO_VCSE else academic
        host = hosts[n % len(hosts)]
        closing = today + dt.timedelta(days=days)
        internship = m.Internship(
            title=title,
            slug=slugify(title),
            host_organisation_id=host.id,
            direction=direction,
            description=(
                f"{host.name} offers a placement: {title.lower()}.\n\n"
                "You will work alongside the team, agree a small piece of work at the start, and share what you "
                "learn at the end. Support and supervision are included."
            ),
            region_id=regions[n % len(regions)] if regions else None,
            mode=m.InternshipMode(mode),
            paid=pence is not None,
            stipend_pence=pence,
            stipend_period=m.StipendPeriod(period) if period else None,
            hours_per_week=hours,
            duration=f"{4 + n % 9} weeks",
            closing_date=closing,
            closes_at=closes_at_for(closing),
            apply_url=f"https://example.org/apply/{slugify(title)}" if n % 3 else "",
            apply_email="" if n % 3 else "placements@example.org",
            status=status,
            host_contact_name="Placement Coordinator",
            host_contact_email=f"placements+{n}@example.org",
            published_at=now - dt.timedelta(days=20 - n) if status in (S.PUBLISHED, S.CLOSED, S.FILLED) else None,
            submitted_at=now - dt.timedelta(days=1) if status == S.SUBMITTED else None,
            closed_at=now - dt.timedelta(days=2) if status in (S.CLOSED, S.FILLED) else None,
            # The first listing waiting for approval came through the public form, as a host without an account.
            host_posted=title == "Housing and mental health interviews",
        )
        session.add(internship)
        session.flush()
        ids = [topics[t] for t in topic_names if t in topics]
        if ids:
            session.execute(insert(m.internship_topics), [{"internship_id": internship.id, "topic_id": t} for t in ids])
        if stages:
            session.execute(
                insert(m.internship_career_stages), [{"internship_id": internship.id, "stage": s} for s in stages]
            )
        created.append(internship)
    statuses = [m.InterestStatus.SHORTLISTED, m.InterestStatus.CONTACTED, m.InterestStatus.NEW]
    for internship in created[:2]:
        for (name, email, note), status in zip(
            INTERESTS[: 3 if internship is created[0] else 1], statuses, strict=False
        ):
            session.add(
                m.InternshipInterest(
                    internship_id=internship.id,
                    name=name,
                    email=email,
                    note=note,
                    consent_wording="Demo data",
                    consented_at=now,
                    status=status if internship is created[0] else m.InterestStatus.NEW,
                )
            )
    # A host editor scoped to the first VCSE host, to try the editor's view.
    editor = ensure_user(session, "host.editor@example.org", m.Role.EDITOR, name="Demo Host Editor")
    editor.organisation_id = vcse[0].id
    session.flush()
