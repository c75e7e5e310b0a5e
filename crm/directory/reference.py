"""Reference data every installation needs: UK ITL1 regions plus "UK-wide", and a starting topic vocabulary."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from crm import models as m

REGIONS: list[tuple[str, str]] = [
    ("UKC", "North East"),
    ("UKD", "North West"),
    ("UKE", "Yorkshire and The Humber"),
    ("UKF", "East Midlands"),
    ("UKG", "West Midlands"),
    ("UKH", "East of England"),
    ("UKI", "London"),
    ("UKJ", "South East"),
    ("UKK", "South West"),
    ("UKL", "Wales"),
    ("UKM", "Scotland"),
    ("UKN", "Northern Ireland"),
    ("UK", "UK-wide"),
]

TOPICS: list[str] = [
    "Children and young people",
    "Psychosis",
    "Eating disorders",
    "Suicide prevention",
    "Self-harm",
    "Racialised communities",
    "Carers",
    "Digital mental health",
    "Perinatal mental health",
    "Older adults",
    "LGBTQ+ mental health",
    "Trauma",
    "Substance use",
    "Peer support",
    "Housing and homelessness",
    "Employment and welfare",
    "Criminal justice",
    "Neurodiversity",
    "Physical and mental health",
    "Crisis care",
    "Student mental health",
    "Rural communities",
    "Refugees and asylum seekers",
    "Arts and creativity",
]


def slugify(value: str, max_length: int = 300) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug[:max_length].strip("-") or "item"


def free_slug(base: str, is_taken: Callable[[str], bool]) -> str:
    """``base`` when it is free, else the first free one of ``base-2``, ``base-3``, …"""
    slug, n = base, 2
    while is_taken(slug):
        slug, n = f"{base}-{n}", n + 1
    return slug


def ensure_reference_data(session: Session) -> None:
    """Idempotent: adds missing regions and (on an empty vocabulary) the starting topics."""
    existing = set(session.scalars(select(m.Region.code)))
    for position, (code, name) in enumerate(REGIONS):
        if code not in existing:
            session.add(m.Region(code=code, name=name, slug=slugify(name), position=position))
    if session.scalar(select(m.Topic.id).limit(1)) is None:
        for name in TOPICS:
            session.add(m.Topic(name=name, slug=slugify(name)))
    session.flush()


def topics_and_regions(session: Session) -> tuple[list[Any], list[Any]]:
    """Every topic (by name) and region (in display order) as ``(id, slug, name)`` rows, in one statement:
    filter forms need both, and a public page has a budget of three statements (docs/proof.md)."""
    topics = select(literal("topic").label("kind"), m.Topic.id, m.Topic.slug, m.Topic.name, literal(0).label("pos"))
    regions = select(literal("region"), m.Region.id, m.Region.slug, m.Region.name, m.Region.position)
    rows = list(session.execute(union_all(topics, regions)))
    return (
        sorted((r for r in rows if r.kind == "topic"), key=lambda r: r.name),
        sorted((r for r in rows if r.kind == "region"), key=lambda r: (r.pos, r.name)),
    )
