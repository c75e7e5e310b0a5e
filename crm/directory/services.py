"""Directory rules: organisations, contacts, affiliations, topics, regions, self-submitted groups.

Every function takes the caller's session and never commits. Every change made by a person writes an audit entry.
Validation works on plain dicts through ``crm.web.forms.Form`` so HTML forms, the JSON API and the CSV importer
apply exactly the same rules and messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, delete, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session, selectinload

from crm import audit, search
from crm import models as m
from crm.directory.reference import slugify
from crm.web.auth import Principal
from crm.web.forms import Form
from crm.web.listing import ListParams, Page, SortOption, Sorts, keyset_page

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

ORG_FILTERS = ("kind", "category", "topic", "region", "user_led", "lived_experience_led")
ADMIN_ORG_FILTERS = (*ORG_FILTERS, "status", "visibility")
CONTACT_FILTERS = ("organisation", "topic", "region", "career_stage")


class DirectoryError(ValueError):
    """A rule refused the change; the message is for people."""


# ---------------------------------------------------------------------------------------------------- helpers


def normalise_name(name: str) -> str:
    """Matching key for organisation names: case, punctuation, '&'/'and' and a leading 'The' do not matter."""
    value = (name or "").lower().replace("&", " and ")
    value = re.sub(r"[^\w\s]", " ", value)
    value = re.sub(r"\s+", " ", value).strip()
    if value.startswith("the "):
        value = value[4:]
    return value[:300]


def website_domain(url: str) -> str:
    if not url:
        return ""
    netloc = urlsplit(url if "://" in url else f"https://{url}").netloc.lower().split("@")[-1].split(":")[0]
    return netloc[4:] if netloc.startswith("www.") else netloc


def clean_website(form: Form, name: str = "website") -> str:
    value = form.line(name, max_length=500, label="Website")
    if not value or name in form.errors:
        return value
    if not re.match(r"^https?://", value, re.I):
        value = "https://" + value
    parts = urlsplit(value)
    if not parts.netloc or "." not in parts.netloc or " " in value or "<" in value or '"' in value:
        form.add_error(name, "Enter a website address like https://example.org.")
    return value


def unique_slug(session: Session, name: str, *, exclude_id: int | None = None, taken: set[str] | None = None) -> str:
    base = slugify(name, 300)
    query = select(m.Organisation.slug).where(or_(m.Organisation.slug == base, m.Organisation.slug.like(f"{base}-%")))
    if exclude_id is not None:
        query = query.where(m.Organisation.id != exclude_id)
    used = set(session.scalars(query)) | (taken or set())
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


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


def all_topics(session: Session) -> list[Any]:
    return list(session.execute(select(m.Topic.id, m.Topic.slug, m.Topic.name).order_by(m.Topic.name)))


def all_regions(session: Session) -> list[Any]:
    return list(session.execute(select(m.Region.id, m.Region.slug, m.Region.name).order_by(m.Region.position)))


def _names_agg(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.string_agg(column, literal("; "))
    return func.group_concat(column, "; ")


def org_topic_names(session: Session) -> Any:
    """A correlated subquery giving each organisation's topic names in the same statement as the list."""
    return (
        select(_names_agg(session, m.Topic.name))
        .select_from(m.organisation_topics.join(m.Topic, m.Topic.id == m.organisation_topics.c.topic_id))
        .where(m.organisation_topics.c.organisation_id == m.Organisation.id)
        .correlate(m.Organisation)
        .scalar_subquery()
    )


# ------------------------------------------------------------------------------------------- organisations


def validate_organisation(
    session: Session, data: Mapping[str, Any], *, public_form: bool = False, exclude_id: int | None = None
) -> tuple[dict[str, Any], Form]:
    """Check an organisation's fields; returns cleaned values (with ``topic_ids``) and the form with messages."""
    form = Form(dict(data))
    values: dict[str, Any] = {}
    values["name"] = form.line("name", required=True, max_length=300, label="Name")
    values["kind"] = form.choice("kind", [k.value for k in m.OrgKind], required=True, label="Kind") or None
    values["vcse_category"] = form.choice("vcse_category", [c.value for c in m.VcseCategory], label="Category") or None
    values["user_led"] = form.bool("user_led")
    values["lived_experience_led"] = form.bool("lived_experience_led")
    values["description"] = form.str("description", max_length=5000, label="Description")
    values["website"] = clean_website(form)
    values["website_domain"] = website_domain(values["website"])
    values["public_email"] = form.email("public_email", required=False)
    values["postcode"] = form.line("postcode", max_length=16, label="Postcode").upper()
    values["charity_number"] = form.line("charity_number", max_length=40, label="Charity number")
    if values["charity_number"] and not re.fullmatch(r"[A-Za-z0-9 \-/]+", values["charity_number"]):
        form.add_error("charity_number", "Use only letters, numbers, spaces and dashes in a charity number.")
    values["charity_number"] = re.sub(r"\s+", "", values["charity_number"]).upper()  # one spelling, so it matches
    region_key = form.line("region", max_length=120, label="Region").lower()
    values["region_id"] = None
    if region_key:
        region = regions_by_key(session).get(region_key)
        if region is None:
            form.add_error("region", "Choose a region from the list.")
        else:
            values["region_id"] = region.id
    topics = topics_by_key(session)
    topic_ids: list[int] = []
    unknown = []
    for key in form.getlist("topics"):
        topic = topics.get(key.strip().lower()) or topics.get(key.strip())
        if topic is None:
            unknown.append(key)
        elif topic.id not in topic_ids:
            topic_ids.append(topic.id)
    if unknown:
        form.add_error("topics", f"Unknown topic: {', '.join(unknown)[:200]}.")
    values["topic_ids"] = topic_ids
    values["kind"] = m.OrgKind(values["kind"]) if values["kind"] in m.OrgKind._value2member_map_ else None
    if values["vcse_category"] not in m.VcseCategory._value2member_map_:
        values["vcse_category"] = None
    else:
        values["vcse_category"] = m.VcseCategory(values["vcse_category"])
    if not public_form:
        values["visibility"] = (
            form.choice("visibility", [v.value for v in m.Visibility], label="Visibility") or m.Visibility.PUBLIC.value
        )
        if values["visibility"] in m.Visibility._value2member_map_:
            values["visibility"] = m.Visibility(values["visibility"])
        parent_key = form.line("parent", max_length=320, label="Parent organisation")
        values["parent_id"] = None
        if parent_key:
            parent_id = session.scalar(
                select(m.Organisation.id).where(
                    or_(m.Organisation.slug == parent_key, m.Organisation.name_normalised == normalise_name(parent_key))
                )
            )
            if parent_id is None:
                form.add_error("parent", "No organisation with that name or web address.")
            elif parent_id == exclude_id:
                form.add_error("parent", "An organisation cannot be its own parent.")
            values["parent_id"] = parent_id
    return values, form


def org_snapshot(session: Session, org: m.Organisation) -> dict[str, Any]:
    """Audit view of an organisation: its fields plus topic and region names."""
    topics = sorted(
        session.scalars(
            select(m.Topic.name)
            .join(m.organisation_topics, m.organisation_topics.c.topic_id == m.Topic.id)
            .where(m.organisation_topics.c.organisation_id == org.id)
        )
    )
    fields = [
        "name",
        "kind",
        "vcse_category",
        "user_led",
        "lived_experience_led",
        "description",
        "website",
        "public_email",
        "postcode",
        "charity_number",
        "visibility",
        "review_status",
        "region_id",
        "parent_id",
    ]
    snap = {f: getattr(org, f) for f in fields}
    snap["topics"] = topics
    return snap


def _set_org_topics(session: Session, org_id: int, topic_ids: Iterable[int]) -> None:
    session.execute(delete(m.organisation_topics).where(m.organisation_topics.c.organisation_id == org_id))
    rows = [{"organisation_id": org_id, "topic_id": t} for t in dict.fromkeys(topic_ids)]
    if rows:
        session.execute(m.organisation_topics.insert(), rows)


def create_organisation(
    session: Session, actor: Principal | None, values: dict[str, Any], *, action: str = "created"
) -> m.Organisation:
    values = dict(values)
    topic_ids = values.pop("topic_ids", [])
    org = m.Organisation(
        **values,
        name_normalised=normalise_name(values["name"]),
        slug=unique_slug(session, values["name"]),
    )
    session.add(org)
    session.flush()
    _set_org_topics(session, org.id, topic_ids)
    audit.record(
        session,
        actor,
        action,
        "organisation",
        org.id,
        summary=org.name,
        changes=audit.diff({}, org_snapshot(session, org)),
    )
    return org


def update_organisation(session: Session, actor: Principal | None, org: m.Organisation, values: dict[str, Any]) -> dict:
    before = org_snapshot(session, org)
    values = dict(values)
    topic_ids = values.pop("topic_ids", None)
    for key, value in values.items():
        setattr(org, key, value)
    if "name" in values:
        org.name_normalised = normalise_name(org.name)
    session.flush()
    if topic_ids is not None:
        _set_org_topics(session, org.id, topic_ids)
    changes = audit.diff(before, org_snapshot(session, org))
    if changes:
        audit.record(session, actor, "updated", "organisation", org.id, summary=org.name, changes=changes)
    return changes


def delete_organisation(session: Session, actor: Principal | None, org: m.Organisation) -> None:
    from crm.directory.references import organisation_references

    refs = organisation_references(session, org.id)
    if refs:
        raise DirectoryError("This organisation cannot be deleted while other records use it: " + "; ".join(refs))
    snap = org_snapshot(session, org)
    audit.record(session, actor, "deleted", "organisation", org.id, summary=org.name, changes=audit.diff(snap, {}))
    session.execute(update(m.Organisation).where(m.Organisation.parent_id == org.id).values(parent_id=None))
    session.delete(org)
    session.flush()


def get_organisation(session: Session, org_id: int) -> m.Organisation | None:
    return session.scalar(
        select(m.Organisation)
        .where(m.Organisation.id == org_id)
        .options(
            selectinload(m.Organisation.topics),
            selectinload(m.Organisation.region),
            selectinload(m.Organisation.parent),
        )
    )


def get_public_organisation(session: Session, slug: str) -> m.Organisation | None:
    return session.scalar(
        select(m.Organisation)
        .where(
            m.Organisation.slug == slug,
            m.Organisation.review_status == m.ReviewStatus.APPROVED,
            m.Organisation.visibility == m.Visibility.PUBLIC,
        )
        .options(
            selectinload(m.Organisation.topics),
            selectinload(m.Organisation.region),
            selectinload(m.Organisation.parent),
        )
    )


def organisation_form_data(org: m.Organisation) -> dict[str, Any]:
    """An organisation as form values (for the edit form and for API partial updates)."""
    return {
        "name": org.name,
        "kind": org.kind.value,
        "vcse_category": org.vcse_category.value if org.vcse_category else "",
        "user_led": org.user_led,
        "lived_experience_led": org.lived_experience_led,
        "description": org.description,
        "website": org.website,
        "public_email": org.public_email,
        "postcode": org.postcode,
        "charity_number": org.charity_number,
        "region": org.region.slug if org.region else "",
        "topics": [t.slug for t in org.topics],
        "visibility": org.visibility.value,
        "parent": org.parent.slug if org.parent else "",
    }


EDITOR_LOCKED = ("visibility", "parent")  # the fellow's decisions about a record, not its owner's


def update_own_organisation(session: Session, actor: Principal, org: m.Organisation, data: Mapping[str, Any]) -> Form:
    """An editor changes their own organisation's profile from the whole public form (every field of
    /add-your-group); visibility and the parent link stay as the fellow set them. Returns the form (with messages
    when nothing was saved)."""
    if not actor.is_admin and actor.organisation_id != org.id:
        raise DirectoryError("Editors may change only their own organisation.")
    current = organisation_form_data(org)
    merged = {**{k: v for k, v in data.items() if k not in EDITOR_LOCKED}, **{k: current[k] for k in EDITOR_LOCKED}}
    values, form = validate_organisation(session, merged, exclude_id=org.id)
    if form.ok:
        update_organisation(session, actor, org, values)
    return form


def public_condition() -> Any:
    return (m.Organisation.review_status == m.ReviewStatus.APPROVED) & (
        m.Organisation.visibility == m.Visibility.PUBLIC
    )


def organisation_list_query(
    session: Session, params: ListParams, *, public: bool, extra_columns: Iterable[Any] = ()
) -> tuple[Select[Any], Sorts]:
    """The filtered (not yet sorted or paged) organisation list and the sort options that apply to it."""
    o = m.Organisation
    query = select(
        o.id,
        o.name,
        o.slug,
        o.kind,
        o.vcse_category,
        o.user_led,
        o.lived_experience_led,
        o.description,
        o.website,
        o.review_status,
        o.visibility,
        o.created_at,
        m.Region.name.label("region_name"),
        org_topic_names(session).label("topic_names"),
        *extra_columns,
    ).outerjoin(m.Region, m.Region.id == o.region_id)
    f = params.filters
    if public:
        query = query.where(public_condition())
    else:
        if f.get("status") in {s.value for s in m.ReviewStatus}:
            query = query.where(o.review_status == f["status"])
        if f.get("visibility") in {v.value for v in m.Visibility}:
            query = query.where(o.visibility == f["visibility"])
    if f.get("kind") in {k.value for k in m.OrgKind}:
        query = query.where(o.kind == f["kind"])
    if f.get("category") in {c.value for c in m.VcseCategory}:
        query = query.where(o.vcse_category == f["category"])
    if f.get("topic"):
        query = query.where(
            exists()
            .where(m.organisation_topics.c.organisation_id == o.id)
            .where(m.organisation_topics.c.topic_id == m.Topic.id)
            .where(m.Topic.slug == f["topic"])
        )
    if f.get("region"):
        query = query.where(m.Region.slug == f["region"])
    if f.get("user_led"):
        query = query.where(o.user_led.is_(True))
    if f.get("lived_experience_led"):
        query = query.where(o.lived_experience_led.is_(True))
    options = [
        SortOption("name", "Name, A to Z", o.name_normalised),
        SortOption("-name", "Name, Z to A", o.name_normalised, descending=True),
        SortOption("newest", "Newest first", o.created_at, descending=True),
        SortOption("updated", "Recently updated", o.updated_at, descending=True),
    ]
    found = search.matches(session, search.ORGANISATIONS, params.q)
    if found is not None:
        query = query.join(found, found.c.id == o.id)
        options.insert(0, SortOption("relevance", "Best match", found.c.score, descending=True))
    return query, Sorts(*options)


def list_organisations(session: Session, params: ListParams, *, public: bool) -> Page:
    """One statement per page whatever the page size (topics and region come in the same statement)."""
    query, sorts = organisation_list_query(session, params, public=public)
    return keyset_page(
        session,
        query,
        sort=sorts.pick(params.sort),
        id_column=m.Organisation.id,
        cursor=params.cursor,
        page_size=params.page_size,
    )


def organisation_sorts(session: Session, params: ListParams) -> Sorts:
    return organisation_list_query(session, params, public=True)[1]


# ---------------------------------------------------------------------------------------- self-submission


def submit_group(session: Session, values: dict[str, Any], submitter_name: str, submitter_email: str) -> m.Organisation:
    values = dict(values)
    values.update(
        review_status=m.ReviewStatus.SUBMITTED,
        visibility=m.Visibility.PUBLIC,
        submitter_name=submitter_name,
        submitter_email=submitter_email,
    )
    return create_organisation(session, None, values, action="submitted")


def review_queue(session: Session) -> list[Any]:
    o = m.Organisation
    return list(
        session.execute(
            select(o.id, o.name, o.kind, o.submitter_name, o.submitter_email, o.created_at, o.description)
            .where(o.review_status == m.ReviewStatus.SUBMITTED)
            .order_by(o.created_at, o.id)
            .limit(200)
        )
    )


def review_submission(
    session: Session, renderer: Any, settings: Any, actor: Principal, org: m.Organisation, *, approve: bool, note: str
) -> None:
    """Approve or reject a submitted group and email the submitter (outbox, same transaction)."""
    from crm.mailing.outbox import enqueue

    if org.review_status != m.ReviewStatus.SUBMITTED:
        raise DirectoryError("This organisation has already been reviewed.")
    before = org_snapshot(session, org)
    org.review_status = m.ReviewStatus.APPROVED if approve else m.ReviewStatus.REJECTED
    org.reviewed_at = m.utcnow()
    org.review_note = note[:1000]
    session.flush()
    audit.record(
        session,
        actor,
        "approved" if approve else "rejected",
        "organisation",
        org.id,
        summary=org.name + (f" ({note[:200]})" if note else ""),
        changes=audit.diff(before, org_snapshot(session, org)),
    )
    if org.submitter_email:
        outcome = "approved" if approve else "rejected"
        enqueue(
            session,
            renderer,
            key=f"submission:{org.id}:{outcome}",
            kind=f"submission_{outcome}",
            to=org.submitter_email,
            to_name=org.submitter_name,
            template=f"submission_{outcome}",
            context={
                "name": org.submitter_name,
                "organisation": org.name,
                "note": note,
                "link": f"{settings.base_url.rstrip('/')}/organisations/{org.slug}",
            },
        )


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
    snap["topics"] = sorted(
        session.scalars(
            select(m.Topic.name)
            .join(m.contact_topics, m.contact_topics.c.topic_id == m.Topic.id)
            .where(m.contact_topics.c.contact_id == contact.id)
        )
    )
    snap["regions"] = sorted(
        session.scalars(
            select(m.Region.name)
            .join(m.contact_regions, m.contact_regions.c.region_id == m.Region.id)
            .where(m.contact_regions.c.contact_id == contact.id)
        )
    )
    return snap


def _set_contact_links(session: Session, contact_id: int, topic_ids: list[int] | None, region_ids: list[int] | None):
    if topic_ids is not None:
        session.execute(delete(m.contact_topics).where(m.contact_topics.c.contact_id == contact_id))
        if topic_ids:
            session.execute(m.contact_topics.insert(), [{"contact_id": contact_id, "topic_id": t} for t in topic_ids])
    if region_ids is not None:
        session.execute(delete(m.contact_regions).where(m.contact_regions.c.contact_id == contact_id))
        if region_ids:
            session.execute(
                m.contact_regions.insert(), [{"contact_id": contact_id, "region_id": r} for r in region_ids]
            )


def create_contact(session: Session, actor: Principal | None, values: dict[str, Any]) -> m.Contact:
    values = dict(values)
    topic_ids = values.pop("topic_ids", [])
    region_ids = values.pop("region_ids", [])
    contact = m.Contact(**values)
    session.add(contact)
    session.flush()
    _set_contact_links(session, contact.id, topic_ids, region_ids)
    audit.record(
        session,
        actor,
        "created",
        "contact",
        contact.id,
        summary=contact.name,
        changes=audit.diff({}, contact_snapshot(session, contact)),
    )
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
    changes = audit.diff(before, contact_snapshot(session, contact))
    if changes:
        audit.record(session, actor, "updated", "contact", contact.id, summary=contact.name, changes=changes)
    return changes


def delete_contact(session: Session, actor: Principal | None, contact: m.Contact) -> None:
    snap = contact_snapshot(session, contact)
    audit.record(session, actor, "deleted", "contact", contact.id, summary=contact.name, changes=audit.diff(snap, {}))
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
        query = query.where(
            exists()
            .where(m.contact_topics.c.contact_id == c.id)
            .where(m.contact_topics.c.topic_id == m.Topic.id)
            .where(m.Topic.slug == f["topic"])
        )
    if f.get("region"):
        query = query.where(
            exists()
            .where(m.contact_regions.c.contact_id == c.id)
            .where(m.contact_regions.c.region_id == m.Region.id)
            .where(m.Region.slug == f["region"])
        )
    if f.get("career_stage") in {s.value for s in m.CareerStage}:
        query = query.where(c.career_stage == f["career_stage"])
    sorts = Sorts(
        SortOption("name", "Name, A to Z", c.name),
        SortOption("-name", "Name, Z to A", c.name, descending=True),
        SortOption("newest", "Newest first", c.created_at, descending=True),
    )
    return query, sorts


def list_contacts(session: Session, params: ListParams) -> Page:
    query, sorts = contact_list_query(session, params)
    return keyset_page(
        session,
        query,
        sort=sorts.pick(params.sort),
        id_column=m.Contact.id,
        cursor=params.cursor,
        page_size=params.page_size,
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


def _ensure_one_primary(session: Session, contact_id: int) -> None:
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


def find_organisation(session: Session, key: str) -> m.Organisation | None:
    key = (key or "").strip()
    if not key:
        return None
    return session.scalar(
        select(m.Organisation)
        .where(or_(m.Organisation.slug == key, m.Organisation.name_normalised == normalise_name(key)))
        .order_by(m.Organisation.id)
        .limit(1)
    )


def add_affiliation(
    session: Session, actor: Principal | None, contact: m.Contact, org: m.Organisation, role: str, primary: bool
) -> m.Affiliation:
    existing = session.scalar(
        select(m.Affiliation).where(m.Affiliation.contact_id == contact.id, m.Affiliation.organisation_id == org.id)
    )
    if existing is not None:
        raise DirectoryError(f"{contact.name} is already linked to {org.name}.")
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
    _ensure_one_primary(session, contact.id)
    change = {"organisation": [None, org.name], "role": [None, role]}
    audit.record(session, actor, "linked", "contact", contact.id, summary=f"to {org.name}", changes=change)
    audit.record(session, actor, "linked", "organisation", org.id, summary=f"contact #{contact.id}", changes={})
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
    _ensure_one_primary(session, aff.contact_id)
    session.refresh(aff)
    changes = audit.diff(before, {"role": aff.role, "primary": aff.is_primary})
    if changes:
        audit.record(
            session,
            actor,
            "updated link",
            "contact",
            aff.contact_id,
            summary=f"organisation #{aff.organisation_id}",
            changes=changes,
        )


def remove_affiliation(session: Session, actor: Principal | None, aff: m.Affiliation) -> None:
    contact_id, org_id = aff.contact_id, aff.organisation_id
    session.delete(aff)
    session.flush()
    _ensure_one_primary(session, contact_id)
    audit.record(session, actor, "unlinked", "contact", contact_id, summary=f"from organisation #{org_id}", changes={})
    audit.record(session, actor, "unlinked", "organisation", org_id, summary=f"contact #{contact_id}", changes={})


def organisation_contacts(session: Session, org_id: int) -> list[Any]:
    return list(
        session.execute(
            select(m.Contact.id, m.Contact.name, m.Contact.email, m.Affiliation.role, m.Affiliation.is_primary)
            .join(m.Affiliation, m.Affiliation.contact_id == m.Contact.id)
            .where(m.Affiliation.organisation_id == org_id)
            .order_by(m.Contact.name, m.Contact.id)
        )
    )


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
    changes = audit.diff(before, {"name": topic.name, "description": topic.description})
    if changes:
        audit.record(
            session, actor, "updated" if before else "created", "topic", topic.id, summary=topic.name, changes=changes
        )
    return topic


def delete_topic(session: Session, actor: Principal | None, topic: m.Topic) -> None:
    audit.record(session, actor, "deleted", "topic", topic.id, summary=topic.name, changes={"name": [topic.name, None]})
    session.delete(topic)
    session.flush()


def save_region(session: Session, actor: Principal | None, region: m.Region, name: str, position: int) -> None:
    before = {"name": region.name, "position": region.position}
    region.name = name
    region.position = position
    session.flush()
    changes = audit.diff(before, {"name": name, "position": position})
    if changes:
        audit.record(session, actor, "updated", "region", region.id, summary=name, changes=changes)


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
