"""Reference data every installation needs: UK ITL1 regions plus "UK-wide", and a starting topic vocabulary."""

from __future__ import annotations

import re

from sqlalchemy import select
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
