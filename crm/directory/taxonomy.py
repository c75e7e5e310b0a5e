"""The directory's vocabularies: topics, regions and the labels of its fixed choices (kinds, categories, career stages).

Organisations, contacts and the CSV importer look topics and regions up here; the fellow curates them on
/admin/topics and /admin/regions. Functions take the caller's session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.reference import slugify
from crm.validation import Form

KIND_LABELS = {
    m.OrgKind.VCSE: "Charity or community group (VCSE)",
    m.OrgKind.ACADEMIC: "University or research group",
    m.OrgKind.FUNDER: "Funder",
    m.OrgKind.NHS: "NHS body",
    m.OrgKind.OTHER: "Other",
}
CATEGORY_LABELS = {
    m.VcseCategory.OPEN_CONSULTATIVE: "Open consultative group",
    m.VcseCategory.PROJECT_SPECIFIC: "Project-specific group",
    m.VcseCategory.INSTITUTION_SPECIFIC: "Institution- or initiative-specific group",
    m.VcseCategory.FREE_STANDING: "Free-standing organisation",
}
CAREER_LABELS = {
    m.CareerStage.STUDENT: "Student",
    m.CareerStage.EARLY_CAREER: "Early-career researcher",
    m.CareerStage.ESTABLISHED: "Established researcher",
    m.CareerStage.PRACTITIONER: "Practitioner",
    m.CareerStage.LIVED_EXPERIENCE: "Lived-experience expert",
    m.CareerStage.OTHER: "Other",
}


def topics_by_key(session: Session) -> dict[str, m.Topic]:
    """Topics by slug and by lower-cased name (both are accepted in forms, the API and CSV files)."""
    out: dict[str, m.Topic] = {}
    for t in session.scalars(select(m.Topic)):
        out[t.slug] = t
        out[t.name.lower()] = t
    return out


def regions_by_key(session: Session) -> dict[str, m.Region]:
    out: dict[str, m.Region] = {}
    for r in session.scalars(select(m.Region)):
        out[r.slug] = r
        out[r.name.lower()] = r
        out[r.code.lower()] = r
    return out


# Topics and regions are linked to records through two-column association tables (e.g. ``m.contact_topics``: its
# ``contact_id`` names the record, its ``topic_id`` the topic). ``link_column`` is the column that names the record.


def _vocabulary(link_column: Any) -> tuple[Any, Any]:
    link = link_column.table
    return (m.Topic, link.c.topic_id) if "topic_id" in link.c else (m.Region, link.c.region_id)


def linked_names(session: Session, link_column: Any, owner_id: int, order_by: Any = None) -> list[str]:
    """The names of the topics or regions linked to one record, in the database's order unless ``order_by``."""
    vocabulary, key = _vocabulary(link_column)
    query = select(vocabulary.name).join(link_column.table, key == vocabulary.id).where(link_column == owner_id)
    return list(session.scalars(query if order_by is None else query.order_by(order_by)))


def linked_to(link_column: Any, owner_id_column: Any, slug: str) -> Any:
    """A list filter: the record (``owner_id_column``, correlated) is linked to the topic or region ``slug``."""
    vocabulary, key = _vocabulary(link_column)
    return exists().where(link_column == owner_id_column).where(key == vocabulary.id).where(vocabulary.slug == slug)


def set_links(session: Session, link_column: Any, owner_id: int, ids: Iterable[int]) -> None:
    """Replace the topics or regions linked to one record by ``ids`` (each once)."""
    link = link_column.table
    _, key = _vocabulary(link_column)
    session.execute(delete(link).where(link_column == owner_id))
    rows = [{link_column.name: owner_id, key.name: i} for i in dict.fromkeys(ids)]
    if rows:
        session.execute(link.insert(), rows)


def all_topics(session: Session) -> list[Any]:
    return list(session.execute(select(m.Topic.id, m.Topic.slug, m.Topic.name).order_by(m.Topic.name)))


def all_regions(session: Session) -> list[Any]:
    return list(session.execute(select(m.Region.id, m.Region.slug, m.Region.name).order_by(m.Region.position)))


# ------------------------------------------------------------------------------------------ topics and regions


def topic_usage(session: Session) -> list[Any]:
    orgs = (
        select(func.count())
        .select_from(m.organisation_topics)
        .where(m.organisation_topics.c.topic_id == m.Topic.id)
        .correlate(m.Topic)
        .scalar_subquery()
    )
    return list(
        session.execute(
            select(m.Topic.id, m.Topic.slug, m.Topic.name, m.Topic.description, orgs.label("organisations")).order_by(
                m.Topic.name
            )
        )
    )


def validate_topic(session: Session, data: Mapping[str, Any], exclude_id: int | None = None) -> tuple[dict, Form]:
    form = Form(dict(data))
    name = form.line("name", required=True, max_length=120, label="Name")
    description = form.str("description", max_length=1000, label="Description")
    if name and "name" not in form.errors:
        query = select(m.Topic.id).where(
            or_(func.lower(m.Topic.name) == name.lower(), m.Topic.slug == slugify(name, 120))
        )
        if exclude_id is not None:
            query = query.where(m.Topic.id != exclude_id)
        if session.scalar(query) is not None:
            form.add_error("name", "A topic with this name already exists.")
    return {"name": name, "description": description}, form


def save_topic(
    session: Session, actor: Principal | None, values: dict[str, Any], topic: m.Topic | None = None
) -> m.Topic:
    before = {} if topic is None else {"name": topic.name, "description": topic.description}
    if topic is None:
        topic = m.Topic(name=values["name"], slug=slugify(values["name"], 120), description=values["description"])
        session.add(topic)
    else:
        topic.name = values["name"]
        topic.description = values["description"]
    session.flush()
    after = {"name": topic.name, "description": topic.description}
    action = "updated" if before else "created"
    audit.record_changes(session, actor, "topic", topic.id, before, after, summary=topic.name, action=action)
    return topic


def delete_topic(session: Session, actor: Principal | None, topic: m.Topic) -> None:
    audit.record(session, actor, "deleted", "topic", topic.id, summary=topic.name, changes={"name": [topic.name, None]})
    session.delete(topic)
    session.flush()


def validate_region(session: Session, region: m.Region, data: Mapping[str, Any]) -> tuple[dict[str, Any], Form]:
    """A region's new name (unique) and position (kept when left empty)."""
    form = Form(dict(data))
    name = form.line("name", required=True, max_length=120, label="Name")
    position = form.int("position", minimum=0, label="Position")
    clash = session.scalar(select(m.Region.id).where(m.Region.name == name, m.Region.id != region.id)) if name else None
    if clash:
        form.add_error("name", "Another region has this name.")
    return {"name": name, "position": position if position is not None else region.position}, form


def save_region(session: Session, actor: Principal | None, region: m.Region, name: str, position: int) -> None:
    before = {"name": region.name, "position": region.position}
    region.name = name
    region.position = position
    session.flush()
    after = {"name": name, "position": position}
    audit.record_changes(session, actor, "region", region.id, before, after, summary=name)


def region_usage(session: Session) -> list[Any]:
    orgs = (
        select(func.count())
        .select_from(m.Organisation)
        .where(m.Organisation.region_id == m.Region.id)
        .correlate(m.Region)
        .scalar_subquery()
    )
    return list(
        session.execute(
            select(
                m.Region.id, m.Region.code, m.Region.slug, m.Region.name, m.Region.position, orgs.label("organisations")
            ).order_by(m.Region.position)
        )
    )
