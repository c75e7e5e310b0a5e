"""Demo directory: ~90 organisations of every kind and VCSE category across all regions and topics, ~150 contacts.

Group, university and person names are invented; a few real, well-known national organisations appear by name as
organisations only (no people). Every email address uses example.org. Deterministic (seeded random), so screenshots
and tests see the same data.
"""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import organisations
from crm.directory.reference import slugify
from crm.directory.taxonomy import CATEGORY_LABELS
from crm.settings import Settings

REAL_NATIONAL = [
    ("Mind", m.OrgKind.VCSE, m.VcseCategory.FREE_STANDING, "National mental-health charity with local Minds."),
    ("Rethink Mental Illness", m.OrgKind.VCSE, m.VcseCategory.FREE_STANDING, "Charity for people severely affected by mental illness."),
    ("Samaritans", m.OrgKind.VCSE, m.VcseCategory.FREE_STANDING, "Listening support, day or night, for anyone who is struggling."),
    ("Young Minds", m.OrgKind.VCSE, m.VcseCategory.FREE_STANDING, "Charity for children and young people's mental health."),
    ("Beat", m.OrgKind.VCSE, m.VcseCategory.FREE_STANDING, "The UK's eating disorder charity."),
    ("Carers UK", m.OrgKind.VCSE, m.VcseCategory.FREE_STANDING, "Charity for unpaid carers."),
    ("National Institute for Health and Care Research", m.OrgKind.FUNDER, None, "Funds health and care research."),
    ("Wellcome Trust", m.OrgKind.FUNDER, None, "Independent global charitable foundation funding research."),
    ("The National Lottery Community Fund", m.OrgKind.FUNDER, None, "Funds community groups across the UK."),
    ("Medical Research Council", m.OrgKind.FUNDER, None, "Public funder of medical research."),
    ("NHS England", m.OrgKind.NHS, None, "Leads the NHS in England."),
]  # fmt: skip
# What the well-known organisations are known for (a reader checks these first: Beat is about eating disorders).
REAL_TOPICS = {
    "Mind": ("Crisis care", "Peer support"),
    "Rethink Mental Illness": ("Psychosis", "Carers"),
    "Samaritans": ("Suicide prevention", "Crisis care"),
    "Young Minds": ("Children and young people",),
    "Beat": ("Eating disorders",),
    "Carers UK": ("Carers",),
    "National Institute for Health and Care Research": ("Physical and mental health",),
}

PLACES = [
    "Riverside", "Northgate", "Hollowbrook", "Kestrel Vale", "Ashford Green", "Millbank", "Harbourside", "Fernhill",
    "Stonebridge", "Larkspur", "Oakmere", "Brackenwood", "Seacliff", "Thornbury Cross", "Willowmead", "Elmstead",
    "Copper Lane", "Foxglove", "Marram Bay", "Heatherfield",
]  # fmt: skip
GROUP_SHAPES = [
    "{place} {topic} Peer Network", "{place} Voices", "{place} {topic} Forum", "{topic} Collective {place}",
    "{place} Lived Experience Panel", "{place} Community Wellbeing Trust", "{place} {topic} Project",
]  # fmt: skip
UNIVERSITIES = ["Northbridge", "Eastmoor", "Westhaven", "Southfield", "Highcliffe", "Lowfold"]
DEPARTMENTS = ["Centre for Youth Mental Health", "Department of Psychiatry", "Institute of Social Care Research"]
FIRST = [
    "Amara", "Bryn", "Casey", "Devi", "Eli", "Fen", "Gwen", "Hari", "Isla", "Jude", "Kofi", "Lena", "Milo", "Nia",
    "Oren", "Priya", "Quinn", "Rosa", "Sami", "Tomas", "Uma", "Vik", "Wren", "Yara", "Zane", "Ayo", "Bex", "Cai",
]  # fmt: skip
LAST = [
    "Ashdown", "Brightwater", "Calloway", "Dunmore", "Everleigh", "Fairclough", "Greystoke", "Hartwell", "Ingleby",
    "Jessop", "Kilbride", "Langley", "Merriman", "Northcott", "Oakridge", "Pennington", "Quarrie", "Rowntree",
    "Sallow", "Thistlewood",
]  # fmt: skip
ROLES = ["Coordinator", "Chair", "Trustee", "Volunteer lead", "Director", "Researcher", "Peer support worker"]
TITLES = ["Project coordinator", "Senior lecturer", "Research fellow", "Chief executive", "Peer worker", "Commissioner"]


def _title(words: str) -> str:
    """Title case that keeps acronyms ("LGBTQ+ mental health" -> "LGBTQ+ Mental Health", not "Lgbtq+")."""
    return " ".join(w[:1].upper() + w[1:] for w in words.split())


def _lower_words(words: str) -> str:
    """Lower case except acronyms, for a topic inside a sentence ("LGBTQ+ mental health")."""
    return " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in words.split())


def _a(phrase: str) -> str:
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def seed(session: Session, settings: Settings) -> None:
    rng = random.Random(20261125)
    topics = list(session.scalars(select(m.Topic).order_by(m.Topic.id)))
    by_name = {t.name: t for t in topics}
    regions = list(session.scalars(select(m.Region).order_by(m.Region.position)))
    categories = list(m.VcseCategory)
    orgs: list[m.Organisation] = []
    used: set[str] = set()

    def add(
        name: str,
        kind: m.OrgKind,
        category: m.VcseCategory | None,
        description: str,
        main_topic: m.Topic | None = None,
        **extra: object,
    ) -> None:
        if name in used:
            return
        used.add(name)
        region = regions[len(orgs) % len(regions)]
        org_topics = rng.sample(topics, k=rng.randint(0, 2))
        if name in REAL_TOPICS:
            org_topics = [by_name[t] for t in REAL_TOPICS[name]]
        elif main_topic is not None:
            org_topics = [main_topic, *(t for t in org_topics if t.id != main_topic.id)]
        elif not org_topics:
            org_topics = [topics[len(orgs) % len(topics)]]
        domain = slugify(name, 40) + ".example.org"
        org = m.Organisation(
            name=name,
            name_normalised=organisations.normalise_name(name),
            slug=organisations.unique_slug(session, name),
            kind=kind,
            vcse_category=category,
            user_led=kind == m.OrgKind.VCSE and rng.random() < 0.5,
            lived_experience_led=kind == m.OrgKind.VCSE and rng.random() < 0.6,
            description=description,
            website=f"https://{domain}",
            website_domain=domain,
            public_email=f"hello@{domain}" if rng.random() < 0.7 else "",
            region_id=region.id,
            charity_number=str(1100000 + len(orgs)) if kind == m.OrgKind.VCSE else "",
            **extra,
        )
        session.add(org)
        session.flush()
        session.execute(
            m.organisation_topics.insert(), [{"organisation_id": org.id, "topic_id": t.id} for t in org_topics]
        )
        orgs.append(org)

    for name, kind, category, description in REAL_NATIONAL:
        add(name, kind, category, description)
    # Invented VCSE groups: every category, every topic, every region.
    i = 0
    while len(orgs) < 72:
        topic = topics[i % len(topics)]
        place = PLACES[(i * 7) % len(PLACES)]
        shape = GROUP_SHAPES[i % len(GROUP_SHAPES)]
        name = shape.format(place=place, topic=_title(topic.name.split(" and ")[0]))
        kind_of_group = CATEGORY_LABELS[categories[i % len(categories)]].lower()
        add(
            name,
            m.OrgKind.VCSE,
            categories[i % len(categories)],
            f"{_a(kind_of_group).capitalize()} {kind_of_group} in {place} working on "
            f"{_lower_words(topic.name)}, run with and for people who use mental-health services.",
            main_topic=topic,
        )
        i += 1
    # Universities with departments (parent organisations), NHS bodies, funders, others.
    for uni in UNIVERSITIES:
        add(f"University of {uni}", m.OrgKind.ACADEMIC, None, f"A research university in {uni}.")
        parent = orgs[-1]
        for dept in DEPARTMENTS[: 1 + len(orgs) % 2]:
            add(f"{uni} {dept}", m.OrgKind.ACADEMIC, None, f"{dept} at the University of {uni}.", parent_id=parent.id)
    for place in PLACES[:4]:
        add(f"{place} NHS Foundation Trust", m.OrgKind.NHS, None, f"Mental-health services for {place} and nearby.")
    add("Larkspur Community Foundation", m.OrgKind.FUNDER, None, "A small local funder of community wellbeing.")
    add("Mental Health Policy Observatory", m.OrgKind.OTHER, None, "An independent think tank on mental-health policy.")
    add("Roundtable Secretariat", m.OrgKind.OTHER, None, "The roundtable's own organising team.")
    # Self-submitted groups waiting for review, and one private record.
    for n, place in enumerate(PLACES[-3:]):
        add(
            f"{place} Hearing Voices Group",
            m.OrgKind.VCSE,
            m.VcseCategory.OPEN_CONSULTATIVE,
            "A new peer group for people who hear voices.",
            review_status=m.ReviewStatus.SUBMITTED,
            submitter_name=f"{FIRST[n]} {LAST[-n - 1]}",
            submitter_email=f"{FIRST[n].lower()}.{LAST[-n - 1].lower()}@example.org",
        )
    add(
        "Confidential Partnership Working Group",
        m.OrgKind.OTHER,
        None,
        "Private working group.",
        visibility=m.Visibility.PRIVATE,
    )
    # ~150 invented contacts with affiliations (exactly one primary each).
    contacts = []
    for n in range(150):
        first, last = FIRST[n % len(FIRST)], LAST[(n * 3 + n // len(FIRST)) % len(LAST)]
        contact = m.Contact(
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}{n}@example.org",
            job_title=TITLES[n % len(TITLES)],
            career_stage=list(m.CareerStage)[n % len(m.CareerStage)],
        )
        contacts.append(contact)
    session.add_all(contacts)
    session.flush()
    links = []
    for n, contact in enumerate(contacts):
        chosen = rng.sample(orgs, k=1 + (n % 4 == 0))
        for k, org in enumerate(chosen):
            links.append(
                {
                    "contact_id": contact.id,
                    "organisation_id": org.id,
                    "role": ROLES[(n + k) % len(ROLES)],
                    "is_primary": k == 0,
                }
            )
    session.execute(m.Affiliation.__table__.insert(), links)
    session.execute(
        m.contact_topics.insert(),
        [{"contact_id": c.id, "topic_id": topics[n % len(topics)].id} for n, c in enumerate(contacts)],
    )
    session.execute(
        m.contact_regions.insert(),
        [{"contact_id": c.id, "region_id": regions[n % len(regions)].id} for n, c in enumerate(contacts)],
    )
    session.flush()


def invented_organisations(
    session: Session, kind: m.OrgKind, names: tuple[str, ...], *, approved_only: bool = False, limit: int | None = None
) -> list[int]:
    """Ids of organisations of ``kind`` for a later domain's demo: those the directory demo made, else these
    invented ``names`` (a database seeded without the directory demo still gets a working demo)."""
    query = select(m.Organisation.id).where(m.Organisation.kind == kind).order_by(m.Organisation.id).limit(limit)
    if approved_only:
        query = query.where(m.Organisation.review_status == m.ReviewStatus.APPROVED)
    ids = list(session.scalars(query))
    if ids:
        return ids
    for name in names:
        org = m.Organisation(
            name=name,
            name_normalised=name.lower(),
            slug=slugify(name),
            kind=kind,
            vcse_category=m.VcseCategory.FREE_STANDING if kind == m.OrgKind.VCSE else None,
            description=f"An invented {'funder' if kind == m.OrgKind.FUNDER else 'organisation'} for the demo.",
        )
        session.add(org)
        session.flush()
        ids.append(org.id)
    return ids
