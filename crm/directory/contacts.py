"""Contacts (people) and their affiliations to organisations: validation, create/update/delete, the admin list.

Every function takes the caller's session and never commits. Every change made by a person writes an audit entry.
Contacts appear only under /admin and in the admin-only contacts API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory.errors import DirectoryFieldErrors
from crm.directory.organisations import find_organisation
from crm.directory.taxonomy import linked_names, linked_to, regions_by_key, set_links, topics_by_key
from crm.listing import ListParams, Page, SortOption, Sorts, archive_filter, keyset_page
from crm.validation import Form

CONTACT_FILTERS = ("organisation", "topic", "region", "career_stage", "archived")


# -------------------------------------------------------------------------------------------------- contacts


def validate_contact(
    session: Session, data: Mapping[str, Any], *, exclude_id: int | None = None
) -> tuple[dict[str, Any], Form]:
    form = Form(dict(data))
    values: dict[str, Any] = {}
    values["name"] = form.line("name", required=True, max_length=200, label="Name")
    email = form.email("email", required=False)
    values["email"] = email or None
    if email and "email" not in form.errors:
        query = select(m.Contact.id).where(m.Contact.email == email)
        if exclude_id is not None:
            query = query.where(m.Contact.id != exclude_id)
        if session.scalar(query) is not None:
            form.add_error("email", "Another contact already has this email address.")
    values["phone"] = form.line("phone", max_length=40, label="Phone")
    values["job_title"] = form.line("job_title", max_length=200, label="Job title")
    values["career_stage"] = form.choice("career_stage", [c.value for c in m.CareerStage], label="Career stage") or None
    if values["career_stage"] in m.CareerStage._value2member_map_:
        values["career_stage"] = m.CareerStage(values["career_stage"])
    else:
        values["career_stage"] = None
    values["notes"] = form.str("notes", max_length=10000, label="Notes")
    topics = topics_by_key(session)
    regions = regions_by_key(session)
    values["topic_ids"] = []
    for key in form.getlist("topics"):
        t = topics.get(key.strip().lower()) or topics.get(key.strip())
        if t is None:
            form.add_error("topics", f"Unknown topic: {key[:100]}.")
        elif t.id not in values["topic_ids"]:
            values["topic_ids"].append(t.id)
    values["region_ids"] = []
    for key in form.getlist("regions"):
        r = regions.get(key.strip().lower())
        if r is None:
            form.add_error("regions", f"Unknown region: {key[:100]}.")
        elif r.id not in values["region_ids"]:
            values["region_ids"].append(r.id)
    return values, form


def contact_snapshot(session: Session, contact: m.Contact) -> dict[str, Any]:
    snap = {f: getattr(contact, f) for f in ("name", "email", "phone", "job_title", "career_stage", "notes")}
    snap["topics"] = sorted(linked_names(session, m.contact_topics.c.contact_id, contact.id))
    snap["regions"] = sorted(linked_names(session, m.contact_regions.c.contact_id, contact.id))
    return snap


def _set_contact_links(session: Session, contact_id: int, topic_ids: list[int] | None, region_ids: list[int] | None):
    if topic_ids is not None:
        set_links(session, m.contact_topics.c.contact_id, contact_id, topic_ids)
    if region_ids is not None:
        set_links(session, m.contact_regions.c.contact_id, contact_id, region_ids)


def create_contact(session: Session, actor: Principal | None, values: dict[str, Any]) -> m.Contact:
    values = dict(values)
    topic_ids = values.pop("topic_ids", [])
    region_ids = values.pop("region_ids", [])
    contact = m.Contact(**values)
    session.add(contact)
    session.flush()
    _set_contact_links(session, contact.id, topic_ids, region_ids)
    snap = contact_snapshot(session, contact)
    audit.record_changes(session, actor, "contact", contact.id, {}, snap, summary=contact.name, action="created")
    return contact


def update_contact(session: Session, actor: Principal | None, contact: m.Contact, values: dict[str, Any]) -> dict:
    before = contact_snapshot(session, contact)
    values = dict(values)
    topic_ids = values.pop("topic_ids", None)
    region_ids = values.pop("region_ids", None)
    for key, value in values.items():
        setattr(contact, key, value)
    session.flush()
    _set_contact_links(session, contact.id, topic_ids, region_ids)
    after = contact_snapshot(session, contact)
    return audit.record_changes(session, actor, "contact", contact.id, before, after, summary=contact.name)


def delete_contact(session: Session, actor: Principal | None, contact: m.Contact) -> None:
    snap = contact_snapshot(session, contact)
    audit.record_changes(session, actor, "contact", contact.id, snap, {}, summary=contact.name, action="deleted")
    session.delete(contact)
    session.flush()


def get_contact(session: Session, contact_id: int) -> m.Contact | None:
    return session.scalar(
        select(m.Contact)
        .where(m.Contact.id == contact_id)
        .options(
            selectinload(m.Contact.topics),
            selectinload(m.Contact.regions),
            selectinload(m.Contact.affiliations).selectinload(m.Affiliation.organisation),
        )
    )


def contact_form_data(contact: m.Contact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "email": contact.email or "",
        "phone": contact.phone,
        "job_title": contact.job_title,
        "career_stage": contact.career_stage.value if contact.career_stage else "",
        "notes": contact.notes,
        "topics": [t.slug for t in contact.topics],
        "regions": [r.slug for r in contact.regions],
    }


def contact_list_query(session: Session, params: ListParams) -> tuple[Select[Any], Sorts]:
    c = m.Contact
    primary_org = (
        select(m.Organisation.name)
        .join(m.Affiliation, m.Affiliation.organisation_id == m.Organisation.id)
        .where(m.Affiliation.contact_id == c.id, m.Affiliation.is_primary.is_(True))
        .correlate(c)
        .limit(1)
        .scalar_subquery()
    )
    query = select(
        c.id,
        c.name,
        c.email,
        c.phone,
        c.job_title,
        c.career_stage,
        c.created_at,
        primary_org.label("organisation_name"),
    ).where(c.erased_at.is_(None))
    f = params.filters
    query = archive_filter(query, c.archived_at, f.get("archived"))
    if params.q:
        like = f"%{params.q.lower()}%"
        query = query.where(or_(func.lower(c.name).like(like), c.email.like(like), func.lower(c.job_title).like(like)))
    if f.get("organisation"):
        query = query.where(
            exists()
            .where(m.Affiliation.contact_id == c.id)
            .where(m.Affiliation.organisation_id == m.Organisation.id)
            .where(m.Organisation.slug == f["organisation"])
        )
    if f.get("topic"):
        query = query.where(linked_to(m.contact_topics.c.contact_id, c.id, f["topic"]))
    if f.get("region"):
        query = query.where(linked_to(m.contact_regions.c.contact_id, c.id, f["region"]))
    if f.get("career_stage") in {s.value for s in m.CareerStage}:
        query = query.where(c.career_stage == f["career_stage"])
    sorts = Sorts(
        SortOption("name", "Name, A to Z", c.name),
        SortOption("-name", "Name, Z to A", c.name, descending=True),
        SortOption("newest", "Newest first", c.created_at, descending=True),
    )
    return query, sorts


def list_contacts(session: Session, params: ListParams, *, count: bool = False) -> Page:
    query, sorts = contact_list_query(session, params)
    return keyset_page(
        session,
        query,
        sort=sorts.pick(params.sort),
        id_column=m.Contact.id,
        cursor=params.cursor,
        page_size=params.page_size,
        count=count,
    )


def contact_subscriptions(session: Session, contact_id: int) -> list[Any] | None:
    """The contact's mailing subscriptions, or None when the mailing domain has no Subscription model yet."""
    if not hasattr(m, "Subscription"):
        return None
    sub = m.Subscription
    contact_email = select(m.Contact.email).where(m.Contact.id == contact_id).scalar_subquery()
    return list(
        session.scalars(
            select(sub).where(or_(sub.contact_id == contact_id, sub.email == contact_email)).order_by(sub.id)
        )
    )


# ------------------------------------------------------------------------------------------------ affiliations


def ensure_one_primary(session: Session, contact_id: int) -> None:
    """Exactly one of a contact's affiliations is primary (the primary one, else the oldest); merge uses it too."""
    rows = list(
        session.execute(
            select(m.Affiliation.id, m.Affiliation.is_primary)
            .where(m.Affiliation.contact_id == contact_id)
            .order_by(m.Affiliation.is_primary.desc(), m.Affiliation.id)
        )
    )
    if not rows:
        return
    keep = rows[0].id
    session.execute(
        update(m.Affiliation)
        .where(m.Affiliation.contact_id == contact_id)
        .values(is_primary=m.Affiliation.id == keep)
        .execution_options(synchronize_session=False)
    )


def validate_affiliation(session: Session, data: Mapping[str, Any]) -> tuple[dict[str, Any], Form]:
    """The link form: an organisation by name or web address (``find_organisation``), a role, and whether it is the
    contact's primary organisation."""
    form = Form(dict(data))
    key = form.line("organisation", required=True, max_length=320, label="Organisation")
    role = form.line("role", max_length=200, label="Role")
    org = find_organisation(session, key) if key else None
    if key and org is None:
        form.add_error("organisation", "No organisation with that name or web address.")
    return {"org": org, "role": role, "primary": form.bool("is_primary")}, form


def add_affiliation(
    session: Session, actor: Principal | None, contact: m.Contact, org: m.Organisation, role: str, primary: bool
) -> m.Affiliation:
    existing = session.scalar(
        select(m.Affiliation).where(m.Affiliation.contact_id == contact.id, m.Affiliation.organisation_id == org.id)
    )
    if existing is not None:
        raise DirectoryFieldErrors({"organisation": f"{contact.name} is already linked to {org.name}."})
    if primary:
        session.execute(
            update(m.Affiliation)
            .where(m.Affiliation.contact_id == contact.id)
            .values(is_primary=False)
            .execution_options(synchronize_session=False)
        )
    aff = m.Affiliation(contact_id=contact.id, organisation_id=org.id, role=role, is_primary=primary)
    session.add(aff)
    session.flush()
    ensure_one_primary(session, contact.id)
    change = {"organisation": [None, org.name], "role": [None, role]}
    audit.record(session, actor, "linked", "contact", contact.id, summary=f"to {org.name}", changes=change)
    org_change = {"contact": [None, contact.name], "role": [None, role]}
    audit.record(session, actor, "linked", "organisation", org.id, summary=contact.name, changes=org_change)
    return aff


def update_affiliation(session: Session, actor: Principal | None, aff: m.Affiliation, role: str, primary: bool) -> None:
    before = {"role": aff.role, "primary": aff.is_primary}
    if primary and not aff.is_primary:
        session.execute(
            update(m.Affiliation)
            .where(m.Affiliation.contact_id == aff.contact_id)
            .values(is_primary=False)
            .execution_options(synchronize_session=False)
        )
    aff.role = role
    aff.is_primary = primary or aff.is_primary
    session.flush()
    ensure_one_primary(session, aff.contact_id)
    session.refresh(aff)
    after = {"role": aff.role, "primary": aff.is_primary}
    org = session.get(m.Organisation, aff.organisation_id)
    summary = org.name if org else f"organisation #{aff.organisation_id}"
    audit.record_changes(
        session, actor, "contact", aff.contact_id, before, after, summary=summary, action="updated link"
    )


def remove_affiliation(session: Session, actor: Principal | None, aff: m.Affiliation) -> None:
    contact_id, org_id, role = aff.contact_id, aff.organisation_id, aff.role
    org, contact = session.get(m.Organisation, org_id), session.get(m.Contact, contact_id)
    org_name = org.name if org else f"organisation #{org_id}"
    contact_name = contact.name if contact else f"contact #{contact_id}"
    session.delete(aff)
    session.flush()
    ensure_one_primary(session, contact_id)
    audit.record(
        session, actor, "unlinked", "contact", contact_id, summary=f"from {org_name}",
        changes={"organisation": [org_name, None], "role": [role or None, None]},
    )  # fmt: skip
    audit.record(
        session, actor, "unlinked", "organisation", org_id, summary=contact_name,
        changes={"contact": [contact_name, None], "role": [role or None, None]},
    )  # fmt: skip


def organisation_contacts(session: Session, org_id: int) -> list[Any]:
    return list(
        session.execute(
            select(m.Contact.id, m.Contact.name, m.Contact.email, m.Affiliation.role, m.Affiliation.is_primary)
            .join(m.Affiliation, m.Affiliation.contact_id == m.Contact.id)
            .where(m.Affiliation.organisation_id == org_id)
            .order_by(m.Contact.name, m.Contact.id)
        )
    )
