"""Demo partnerships: every stage and every health (active / quiet / dormant), with activity, reciprocity and
some overdue next steps. Invented names only; uses the directory's demo organisations when they exist."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.demo import invented_organisations
from crm.partnerships import changes, rules
from crm.settings import Settings

S = rules.Stage
K = m.ActivityKind

# title, stage, days since created, activity ages in days (kind, days ago, summary), next step, due in days, topics
PARTNERSHIPS = [
    (
        "Peer-led psychosis recovery study",
        S.IDEA,
        10,
        [(K.NOTE, 3, "Idea raised at the roundtable.")],
        "Arrange a first call",
        4,
        ["Psychosis", "Peer support"],
    ),
    (
        "Carers' voices in discharge planning",
        S.EXPLORING,
        60,
        [(K.MEETING, 40, "Met the carers' group at their drop-in.")],
        "Share a one-page summary",
        -6,
        ["Carers"],
    ),
    (
        "Digital wellbeing toolkit co-design",
        S.PROPOSAL,
        120,
        [(K.MEETING, 100, "Workshop with young advisers."), (K.EMAIL, 8, "Draft case for support circulated.")],
        "Submit the outline",
        9,
        ["Digital mental health", "Children and young people"],
    ),
    (
        "Rural suicide prevention network",
        S.FUNDED,
        200,
        [(K.CALL, 150, "Award confirmed by phone."), (K.EVENT, 50, "Launch event in the village hall.")],
        "Recruit the peer researcher",
        -15,
        ["Suicide prevention", "Rural communities"],
    ),
    (
        "Crisis café evaluation",
        S.ACTIVE,
        400,
        [(K.MEETING, 300, "Steering group."), (K.MEETING, 12, "Monthly steering group.")],
        "Agree the interview guide",
        20,
        ["Crisis care"],
    ),
    (
        "Eating disorders lived-experience fellowship",
        S.COMPLETED,
        700,
        [(K.EVENT, 200, "Final showcase event."), (K.NOTE, 150, "Final report published.")],
        "",
        None,
        ["Eating disorders"],
    ),
    (
        "Housing first and mental health",
        S.PAUSED,
        300,
        [(K.NOTE, 120, "Paused while the charity restructures.")],
        "Check in after the restructure",
        -30,
        ["Housing and homelessness"],
    ),
    (
        "Perinatal peer support pilot",
        S.ACTIVE,
        150,
        [(K.CALL, 45, "Call about recruitment numbers.")],
        "Send the recruitment update",
        -3,
        ["Perinatal mental health"],
    ),
    (
        "Racial equity in crisis care",
        S.EXPLORING,
        180,
        [],
        "Find a date for an introduction",
        -40,
        ["Racialised communities", "Crisis care"],
    ),
]

INVENTED_ACADEMIC = ("University of Eastmoor", "Westbridge University")
INVENTED_VCSE = ("Aster Voices", "Birch Peer Network", "Cedar Carers Collective")


def seed(session: Session, settings: Settings, *, now: dt.datetime | None = None) -> None:
    now = now or dt.datetime.now(dt.UTC)
    academics = invented_organisations(session, m.OrgKind.ACADEMIC, INVENTED_ACADEMIC, approved_only=True, limit=12)
    vcses = invented_organisations(session, m.OrgKind.VCSE, INVENTED_VCSE, approved_only=True, limit=12)
    topics = {name: tid for tid, name in session.execute(select(m.Topic.id, m.Topic.name))}
    calls = list(session.scalars(select(m.FundingCall.id).order_by(m.FundingCall.id)))
    fellow = session.scalar(select(m.User).where(m.User.email == settings.demo_admin_email))
    actor = None
    if fellow is not None:
        from crm.accounts.principal import Principal

        actor = Principal(fellow.id, fellow.email, fellow.name, fellow.role, None, "session")
    today = rules.today_london(now)
    for i, (title, stage, age, activity, next_step, due_in, topic_names) in enumerate(PARTNERSHIPS):
        created = now - dt.timedelta(days=age)
        data = rules.PartnershipInput(
            title=title,
            summary=f"{title}: an invented partnership between a research team and a community organisation.",
            stage=stage,
            funding_call_id=calls[i % len(calls)] if calls and i % 3 == 0 else None,
            start_date=(created + dt.timedelta(days=30)).date() if stage in (S.FUNDED, S.ACTIVE, S.COMPLETED) else None,
            end_date=(created + dt.timedelta(days=600)).date() if stage in (S.FUNDED, S.ACTIVE, S.COMPLETED) else None,
            academic_brings="Research methods, ethics approval and time from a research fellow.",
            academic_gets="Access to lived-experience insight and a route to impact.",
            vcse_brings="Trusted relationships with the community and a lived-experience panel.",
            vcse_gets="Paid time, evidence for funders and training in evaluation.",
            next_step=next_step,
            next_step_due=today + dt.timedelta(days=due_in) if due_in is not None else None,
            members=[
                rules.MemberInput(m.Side.ACADEMIC, academics[i % len(academics)], role="Lead"),
                rules.MemberInput(m.Side.VCSE, vcses[i % len(vcses)], role="Co-lead"),
            ],
            topic_ids=[topics[t] for t in topic_names if t in topics],
        )
        p = changes.create_partnership(session, actor, data, now=created)
        for kind, days_ago, summary in activity:
            changes.add_activity(
                session, actor, p, kind=kind, occurred_at=now - dt.timedelta(days=days_ago), summary=summary, now=now
            )
