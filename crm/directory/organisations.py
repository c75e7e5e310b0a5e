"""Organisations: validation, create/update/delete, the public and admin lists, an editor's own entry.

Every function takes the caller's session and never commits. Every change made by a person writes an audit entry.
Validation works on plain dicts through ``crm.validation.Form`` so HTML forms, the JSON API and the CSV importer
apply exactly the same rules and messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, literal, or_, select, update
from sqlalchemy.orm import Session, selectinload

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory import postcode_regions
from crm.directory.errors import DirectoryError
from crm.directory.reference import free_slug, slugify
from crm.directory.references import organisation_references
from crm.directory.taxonomy import linked_names, regions_by_key, set_links, topics_by_key
from crm.extensions import Extensions
from crm.validation import (
    Form,
    normalise_charity_number,
    normalise_company_number,
    normalise_postcode,
    postcode_area,
    split_url,
)

ORG_FILTERS = ("kind", "category", "topic", "region", "user_led", "lived_experience_led")
ADMIN_ORG_FILTERS = (*ORG_FILTERS, "status", "visibility", "archived")


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
    """The host a website lives on, for matching (``''`` for an address that cannot be read)."""
    if not url:
        return ""
    parts = split_url(url if "://" in url else f"https://{url}")
    netloc = parts.netloc.lower().split("@")[-1].split(":")[0] if parts else ""
    return netloc[4:] if netloc.startswith("www.") else netloc


def clean_website(form: Form, name: str = "website") -> str:
    """The one website check for forms, the API and the import: an address ``urlsplit`` cannot read (``http://[bad``)
    is a field error like any other, never an exception."""
    value = form.line(name, max_length=500, label="Website")
    if not value or name in form.errors:
        return value
    if not re.match(r"^https?://", value, re.I):
        value = "https://" + value
    parts = split_url(value)
    if parts is None or not parts.netloc or "." not in parts.netloc or any(c in value for c in ' <"[]'):
        form.add_error(name, "Enter a website address like https://example.org.")
    return value


def clean_identifiers(form: Form, values: dict[str, Any], regions: Mapping[str, m.Region]) -> None:
    """Postcode and charity number, shared by the forms, the API and the CSV import: checked by format, stored in one
    spelling (``SW1A 1AA``, ``SC012345``) so imports and merges match them; an organisation without a region takes
    the one its postcode area lies in (``postcode_regions``, looked up in ``regions``, keyed by lower-case code)."""
    postcode = form.checked("postcode", normalise_postcode, max_length=16, label="Postcode")
    area = postcode_area(postcode) if postcode and "postcode" not in form.errors else ""
    if area and not postcode_regions.is_known_area(area):
        form.add_error("postcode", f"No UK postcode starts with {area}: check the first letters.")
        area = ""
    values["postcode"] = postcode
    values["charity_number"] = form.checked(
        "charity_number", normalise_charity_number, max_length=40, label="Charity number"
    )
    code = postcode_regions.region_for_postcode(postcode) if area else None
    if code and not values.get("region_id") and "region" not in form.errors and code.lower() in regions:
        values["region_id"] = regions[code.lower()].id


def unique_slug(session: Session, name: str, *, exclude_id: int | None = None, taken: set[str] | None = None) -> str:
    base = slugify(name, 300)
    query = select(m.Organisation.slug).where(or_(m.Organisation.slug == base, m.Organisation.slug.like(f"{base}-%")))
    if exclude_id is not None:
        query = query.where(m.Organisation.id != exclude_id)
    used = set(session.scalars(query)) | (taken or set())
    return free_slug(base, used.__contains__)


def _names_agg(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.string_agg(column, literal("; "))
    return func.group_concat(column, "; ")


def org_topic_names(session: Session, org_id: Any = m.Organisation.id) -> Any:
    """A correlated subquery giving each organisation's topic names in the same statement as the list (``org_id``:
    the id column of the rows listed, the table's by default)."""
    return (
        select(_names_agg(session, m.Topic.name))
        .select_from(m.organisation_topics.join(m.Topic, m.Topic.id == m.organisation_topics.c.topic_id))
        .where(m.organisation_topics.c.organisation_id == org_id)
        .scalar_subquery()
    )


# ------------------------------------------------------------------------------------------- organisations


def validate_organisation(
    session: Session, data: Mapping[str, Any], *, public_form: bool = False, exclude_id: int | None = None
) -> tuple[dict[str, Any], Form]:
    """Check an organisation's fields; returns cleaned values (with ``topic_ids``) and the form with messages."""
    form = Form(dict(data))
    values: dict[str, Any] = {}
    values["name"] = form.line("name", required=True, max_length=300, label="Organisation name")
    values["kind"] = form.choice("kind", [k.value for k in m.OrgKind], required=True, label="Kind") or None
    values["vcse_category"] = form.choice("vcse_category", [c.value for c in m.VcseCategory], label="Category") or None
    values["user_led"] = form.bool("user_led")
    values["lived_experience_led"] = form.bool("lived_experience_led")
    values["description"] = form.str("description", max_length=5000, label="Description")
    values["website"] = clean_website(form)
    values["website_domain"] = website_domain(values["website"])
    values["public_email"] = form.email("public_email", required=False)
    values["company_number"] = form.checked(
        "company_number", normalise_company_number, max_length=12, label="Company number"
    )
    region_key = form.line("region", max_length=120, label="Region").lower()
    values["region_id"] = None
    regions = regions_by_key(session)
    if region_key:
        region = regions.get(region_key)
        if region is None:
            form.add_error("region", "Choose a region from the list.")
        else:
            values["region_id"] = region.id
    clean_identifiers(form, values, regions)
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
    topics = sorted(linked_names(session, m.organisation_topics.c.organisation_id, org.id))
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
        "company_number",
        "visibility",
        "review_status",
        "region_id",
        "parent_id",
    ]
    snap = {f: getattr(org, f) for f in fields}
    snap["topics"] = topics
    return snap


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
    set_links(session, m.organisation_topics.c.organisation_id, org.id, topic_ids)
    audit.record_changes(
        session, actor, "organisation", org.id, {}, org_snapshot(session, org), summary=org.name, action=action
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
        set_links(session, m.organisation_topics.c.organisation_id, org.id, topic_ids)
    return audit.record_changes(
        session, actor, "organisation", org.id, before, org_snapshot(session, org), summary=org.name
    )


def delete_organisation(session: Session, ext: Extensions, actor: Principal | None, org: m.Organisation) -> None:
    """Refused while other records use the organisation (``ext.references`` says which, per domain)."""
    refs = organisation_references(session, org.id, ext)
    if refs:
        raise DirectoryError("This organisation cannot be deleted while other records use it: " + "; ".join(refs))
    audit.record_changes(
        session, actor, "organisation", org.id, org_snapshot(session, org), {}, summary=org.name, action="deleted"
    )
    session.execute(update(m.Organisation).where(m.Organisation.parent_id == org.id).values(parent_id=None))
    session.delete(org)
    session.flush()


def find_or_submit(session: Session, name: str, values: dict[str, Any]) -> m.Organisation:
    """The directory's organisation of that name (approved first, never a rejected one), or a new one made from
    ``values`` (kind, website, submitter) waiting in the directory's review: how a public form names its organisation
    (internship hosts, involvement posters) without creating a second one for a name the directory knows."""
    o = m.Organisation
    found = session.scalar(
        select(o)
        .where(o.name_normalised == normalise_name(name), o.review_status != m.ReviewStatus.REJECTED)
        .order_by(case((o.review_status == m.ReviewStatus.APPROVED, 0), else_=1), o.id)
        .limit(1)
    )
    if found is not None:
        return found
    return create_organisation(
        session,
        None,
        {"name": name, "review_status": m.ReviewStatus.SUBMITTED, "visibility": m.Visibility.PUBLIC, **values},
        action="submitted",
    )


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
        .where(m.Organisation.slug == slug, public_condition())
        .options(
            selectinload(m.Organisation.topics),
            selectinload(m.Organisation.region),
            selectinload(m.Organisation.parent),
        )
    )


def find_organisation(session: Session, key: str) -> m.Organisation | None:
    """By web address (slug) or by name, however it is spelt (``normalise_name``)."""
    key = (key or "").strip()
    if not key:
        return None
    return session.scalar(
        select(m.Organisation)
        .where(or_(m.Organisation.slug == key, m.Organisation.name_normalised == normalise_name(key)))
        .order_by(m.Organisation.id)
        .limit(1)
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
        "company_number": org.company_number,
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


def is_public(org: m.Organisation) -> bool:
    """``public_condition`` for a loaded organisation: whether the public directory shows it."""
    return (
        org.review_status == m.ReviewStatus.APPROVED
        and org.visibility == m.Visibility.PUBLIC
        and org.archived_at is None
    )


def public_condition(o: Any = m.Organisation) -> Any:
    """Whether the public directory shows a row of ``o`` (the table, or the search page's lookup by id)."""
    return (
        (o.review_status == m.ReviewStatus.APPROVED) & (o.visibility == m.Visibility.PUBLIC) & o.archived_at.is_(None)
    )
