"""Demo funding calls: open, closing soon and closed, across funders, topics and regions. Invented calls only.

Every funding type and application effort appears, some calls leave whom they suit "not stated", and a few open
calls suit small user-led groups (``crm.funding.fit``), so the filter, the digest choice and the partner ranking
have something to show.

Runs after the directory's demo and uses its funders (organisations of kind "funder"); when there are none it
adds a few invented funders itself.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.demo import invented_organisations
from crm.directory.reference import slugify
from crm.funding import services as fs
from crm.settings import Settings
from crm.timefmt import LONDON

INVENTED_FUNDERS = ("Northfield Community Trust", "Hillcrest Health Foundation", "Brightwater Research Fund")

# title, funder index, deadlines [(label, days from today)], amount range, topics, regions, flags, status
CALLS = [
    (
        "Co-produced research on psychosis and early intervention",
        0,
        [("Notification of intent", 12), ("Full application", 47)],
        (100_000, 400_000),
        ["Psychosis", "Peer support"],
        ["UK-wide"],
        {
            "requires_vcse_partner": True,
            "vcse_can_be_co_lead": True,
            "lead_must_be_academic": True,
            "funding_type": "project",
            "application_effort": "heavy",
            "open_to_unregistered": False,
            "open_to_user_led": True,
            "match_funding_required": False,
            "lived_experience_payment": True,
        },
        "published",
    ),
    (
        "Community grants for carers' mental health",
        1,
        [("Application", 5)],
        (5_000, 25_000),
        ["Carers"],
        ["North West", "Yorkshire and The Humber"],
        {
            "lead_must_be_vcse": True,
            "funding_type": "small-grant",
            "application_effort": "light",
            "open_to_unregistered": True,
            "open_to_user_led": True,
            "match_funding_required": False,
            "lived_experience_payment": True,
        },
        "published",
    ),
    (
        "Young people's digital wellbeing partnerships",
        2,
        [("Outline", 3), ("Full application", 40)],
        (50_000, 150_000),
        ["Children and young people", "Digital mental health"],
        ["London", "South East"],
        {
            "requires_vcse_partner": True,
            "vcse_can_be_co_lead": True,
            "funding_type": "capacity-building",
            "application_effort": "standard",
            "open_to_unregistered": False,
            "match_funding_required": True,
        },
        "published",
    ),
    (
        "Suicide prevention in rural communities",
        0,
        [("Full application", 70)],
        (20_000, 120_000),
        ["Suicide prevention", "Rural communities"],
        ["Wales", "Scotland", "South West"],
        {"requires_vcse_partner": True},
        "published",
    ),
    (
        "Racial equity in crisis care: seed funding",
        3,
        [("Application", 21)],
        (10_000, 30_000),
        ["Racialised communities", "Crisis care"],
        ["UK-wide"],
        {
            "requires_vcse_partner": True,
            "lead_must_be_vcse": True,
            "funding_type": "core",
            "application_effort": "light",
            "open_to_user_led": True,
            "match_funding_required": False,
            "lived_experience_payment": True,
        },
        "published",
    ),
    (
        "Perinatal mental health innovation fund",
        1,
        [("Full application", 30)],
        (None, 75_000),
        ["Perinatal mental health"],
        ["East Midlands", "West Midlands"],
        {"funding_type": "project", "application_effort": "standard"},
        "draft",
    ),
    (
        "Housing and mental health evidence reviews",
        2,
        [("Full application", -20)],
        (15_000, 40_000),
        ["Housing and homelessness"],
        ["UK-wide"],
        {
            "requires_vcse_partner": True,
            "funding_type": "project",
            "application_effort": "standard",
            "open_to_unregistered": False,
        },
        "closed",
    ),
    (
        "Peer support groups: core costs",
        3,
        [("Expression of interest", 18)],
        (1_000, 10_000),
        ["Peer support"],
        ["UK-wide"],
        {
            "funding_type": "core",
            "application_effort": "light",
            "open_to_unregistered": True,
            "open_to_user_led": True,
            "match_funding_required": False,
            "lived_experience_payment": True,
        },
        "published",
    ),
    (
        "Meeting rooms and mentoring for survivor-led groups",
        1,
        [("Request", 35)],
        (None, None),
        ["Peer support", "Crisis care"],
        ["London", "North West"],
        {
            "funding_type": "in-kind",
            "application_effort": "light",
            "open_to_unregistered": True,
            "open_to_user_led": True,
        },
        "published",
    ),
    (
        "Eating disorders lived-experience fellowships",
        0,
        [("Outline", -60), ("Full application", -10)],
        (30_000, 60_000),
        ["Eating disorders"],
        ["London"],
        {
            "vcse_can_be_co_lead": True,
            "funding_type": "fellowship-or-training",
            "application_effort": "standard",
            "lived_experience_payment": True,
        },
        "closed",
    ),
]


def seed(session: Session, settings: Settings, *, now: dt.datetime | None = None) -> None:
    now = now or dt.datetime.now(dt.UTC)
    funders = invented_organisations(session, m.OrgKind.FUNDER, INVENTED_FUNDERS)
    topics = {name: tid for tid, name in session.execute(select(m.Topic.id, m.Topic.name))}
    regions = {name: rid for rid, name in session.execute(select(m.Region.id, m.Region.name))}
    today = now.astimezone(LONDON).date()
    for title, funder_index, deadlines, (low, high), topic_names, region_names, flags, status in CALLS:
        due = [
            (
                label,
                dt.datetime.combine(today + dt.timedelta(days=days), dt.time(17, 0), tzinfo=LONDON).astimezone(dt.UTC),
            )
            for label, days in deadlines
        ]
        data = fs.CallInput(
            title=title,
            funder_id=funders[funder_index % len(funders)],
            url=f"https://funder.example.org/calls/{slugify(title)}",
            summary=(
                f"{title}. This invented call funds work that brings researchers and community organisations "
                "together.\n\nProjects should show how people with lived experience shape the work."
            ),
            eligibility="UK-based organisations. Partnerships between universities and VCSE organisations are welcome.",
            opens_at=fs.london_midnight(today - dt.timedelta(days=30)),
            deadlines=[fs.DeadlineInput(label, at) for label, at in due],
            amount_min=low,
            amount_max=high,
            topic_ids=[topics[t] for t in topic_names if t in topics],
            region_ids=[regions[r] for r in region_names if r in regions],
            external_ref=f"DEMO-{slugify(title)[:40]}",
            **flags,
        )
        fs.create_call(session, None, data, now=now, status=m.CallStatus(status), source="demo data")
