"""Likely duplicates, and merging two records into one.

Merging keeps the surviving record's values and fills its empty fields from the other; moves affiliations,
topics, regions and the audit history; re-points every other table that refers to the merged record (found from
the models' foreign keys, so subscriptions, funding calls, events… follow without the directory knowing them);
then deletes the merged record and records a "merged" audit entry on the survivor.

A domain that needs more than re-pointing a foreign key (for example to resolve a uniqueness clash) declares
``merge_contacts`` and/or ``merge_organisations`` hooks ``(session, keep_id, drop_id)`` in the manifest; they arrive
as ``Extensions`` and run before the generic re-pointing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory import contacts, organisations
from crm.directory.errors import DirectoryError
from crm.extensions import Extensions, MergeHook

T = TypeVar("T")

# Tables the directory moves itself (with de-duplication); everything else is re-pointed generically.
_OWN = {"affiliations", "organisation_topics", "contact_topics", "contact_regions", "audit_entries"}

_NOISE = {"the", "ltd", "limited", "cic", "uk", "and", "of", "charity", "cio", "inc", "org"}


def _repoint(session: Session, target_table: str, keep_id: int, drop_id: int) -> None:
    for table in m.Base.metadata.sorted_tables:
        if table.name in _OWN:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == target_table and fk.column.name == "id":
                col = fk.parent
                session.execute(update(table).where(col == drop_id).values({col.name: keep_id}))


def _the_pair(session: Session, model: type[T], keep_id: int, drop_id: int, noun: str) -> tuple[T, T]:
    """The survivor and the record merged into it, or the refusal people see."""
    if keep_id == drop_id:
        raise DirectoryError(f"{'An' if noun[0] in 'aeiou' else 'A'} {noun} cannot be merged into itself.")
    keep, drop = session.get(model, keep_id), session.get(model, drop_id)
    if keep is None or drop is None:
        raise DirectoryError(f"One of the {noun}s no longer exists.")
    return keep, drop


def _move_the_rest(session: Session, hooks: Sequence[MergeHook], model: Any, entity: str, keep: Any, drop: Any) -> None:
    """After the record's own links moved: other domains' hooks, every foreign key, the audit history; then the
    merged record goes and the survivor is re-read."""
    keep_id, drop_id = keep.id, drop.id
    for hook in hooks:
        hook(session, keep_id, drop_id)
    _repoint(session, model.__tablename__, keep_id, drop_id)
    session.execute(
        update(m.AuditEntry)
        .where(m.AuditEntry.entity == entity, m.AuditEntry.entity_id == drop_id)
        .values(entity_id=keep_id)
    )
    session.expunge(drop)
    session.execute(delete(model).where(model.id == drop_id))
    session.flush()
    session.refresh(keep)


def _name_key(name: str) -> str:
    words = [w for w in re.findall(r"\w+", organisations.normalise_name(name)) if w not in _NOISE]
    return " ".join(words)


# -------------------------------------------------------------------------------------------------- duplicates


def duplicate_organisations(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Pairs that look like the same organisation: same charity number, same website domain or similar names."""
    rows = list(
        session.execute(
            select(
                m.Organisation.id,
                m.Organisation.name,
                m.Organisation.charity_number,
                m.Organisation.website_domain,
                m.Organisation.review_status,
            ).order_by(m.Organisation.id)
        )
    )
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rows:
        if r.charity_number:
            groups[("same charity number", r.charity_number.replace(" ", "").upper())].append(r)
        if r.website_domain:
            groups[("same website", r.website_domain)].append(r)
        key = _name_key(r.name)
        if key:
            groups[("similar name", key)].append(r)
    seen: set[tuple[int, int]] = set()
    pairs: list[dict[str, Any]] = []
    for (reason, value), members in groups.items():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if (a.id, b.id) in seen:
                    continue
                seen.add((a.id, b.id))
                pairs.append({"reason": reason, "value": value, "a": a, "b": b})
                if len(pairs) >= limit:
                    return pairs
    return pairs


def duplicate_contacts(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Pairs of contacts with the same name (case-insensitive); flagged more strongly when they share an organisation."""
    c = m.Contact
    lname = func.lower(func.trim(c.name))
    dupe_names = (
        select(lname.label("n")).where(c.erased_at.is_(None)).group_by(lname).having(func.count() > 1).subquery()
    )
    rows = list(
        session.execute(
            select(c.id, c.name, c.email)
            .where(lname.in_(select(dupe_names.c.n)), c.erased_at.is_(None))
            .order_by(lname, c.id)
            .limit(limit * 4)
        )
    )
    orgs: dict[int, set[int]] = defaultdict(set)
    ids = [r.id for r in rows]
    if ids:
        for a in session.execute(
            select(m.Affiliation.contact_id, m.Affiliation.organisation_id).where(m.Affiliation.contact_id.in_(ids))
        ):
            orgs[a.contact_id].add(a.organisation_id)
    by_name: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_name[r.name.strip().lower()].append(r)
    pairs: list[dict[str, Any]] = []
    for members in by_name.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                shared = orgs[a.id] & orgs[b.id]
                reason = "same name and organisation" if shared else "same name"
                pairs.append({"reason": reason, "a": a, "b": b})
    pairs.sort(key=lambda p: p["reason"] != "same name and organisation")
    return pairs[:limit]


# -------------------------------------------------------------------------------------------------------- merge

ORG_FILL = [
    "vcse_category",
    "description",
    "website",
    "website_domain",
    "public_email",
    "region_id",
    "postcode",
    "charity_number",
    "company_number",
    "parent_id",
]


def merge_organisations(
    session: Session, ext: Extensions, actor: Principal | None, keep_id: int, drop_id: int
) -> m.Organisation:
    keep, drop = _the_pair(session, m.Organisation, keep_id, drop_id, "organisation")
    before = organisations.org_snapshot(session, keep)
    for field in ORG_FILL:
        if (
            not getattr(keep, field)
            and getattr(drop, field)
            and not (field == "parent_id" and drop.parent_id == keep.id)
        ):
            setattr(keep, field, getattr(drop, field))
    keep.user_led = keep.user_led or drop.user_led
    keep.lived_experience_led = keep.lived_experience_led or drop.lived_experience_led
    if drop.review_status == m.ReviewStatus.APPROVED and keep.review_status != m.ReviewStatus.APPROVED:
        keep.review_status = m.ReviewStatus.APPROVED
    drop_name = drop.name
    session.flush()
    # Topics: union.
    ot = m.organisation_topics
    have = set(session.scalars(select(ot.c.topic_id).where(ot.c.organisation_id == keep_id)))
    extra = [t for t in session.scalars(select(ot.c.topic_id).where(ot.c.organisation_id == drop_id)) if t not in have]
    if extra:
        session.execute(ot.insert(), [{"organisation_id": keep_id, "topic_id": t} for t in extra])
    # Affiliations: move those whose contact is not already linked to the survivor.
    linked = select(m.Affiliation.contact_id).where(m.Affiliation.organisation_id == keep_id)
    session.execute(
        update(m.Affiliation)
        .where(m.Affiliation.organisation_id == drop_id, m.Affiliation.contact_id.not_in(linked))
        .values(organisation_id=keep_id)
        .execution_options(synchronize_session=False)
    )
    _move_the_rest(session, ext.merge_organisations, m.Organisation, "organisation", keep, drop)
    changes = audit.diff(before, organisations.org_snapshot(session, keep))
    audit.record(
        session, actor, "merged", "organisation", keep_id, summary=f"merged in #{drop_id} {drop_name}", changes=changes
    )
    return keep


CONTACT_FILL = ("phone", "job_title", "career_stage", "notes")


def merge_contacts(session: Session, ext: Extensions, actor: Principal | None, keep_id: int, drop_id: int) -> m.Contact:
    keep, drop = _the_pair(session, m.Contact, keep_id, drop_id, "contact")
    before = contacts.contact_snapshot(session, keep)
    for field in CONTACT_FILL:
        if not getattr(keep, field) and getattr(drop, field):
            setattr(keep, field, getattr(drop, field))
    drop_email, drop_name = drop.email, drop.name
    if drop.notes and keep.notes and drop.notes not in keep.notes:
        keep.notes = f"{keep.notes}\n\n{drop.notes}"
    if not keep.email and drop_email:
        drop.email = None
        session.flush()
        keep.email = drop_email
    session.flush()
    for table, col in ((m.contact_topics, "topic_id"), (m.contact_regions, "region_id")):
        have = set(session.scalars(select(table.c[col]).where(table.c.contact_id == keep_id)))
        extra = [v for v in session.scalars(select(table.c[col]).where(table.c.contact_id == drop_id)) if v not in have]
        if extra:
            session.execute(table.insert(), [{"contact_id": keep_id, col: v} for v in extra])
    keep_has_primary = session.scalar(
        select(m.Affiliation.id).where(m.Affiliation.contact_id == keep_id, m.Affiliation.is_primary.is_(True))
    )
    linked = select(m.Affiliation.organisation_id).where(m.Affiliation.contact_id == keep_id)
    moved = update(m.Affiliation).where(
        and_(m.Affiliation.contact_id == drop_id, m.Affiliation.organisation_id.not_in(linked))
    )
    values: dict[str, Any] = {"contact_id": keep_id}
    if keep_has_primary:
        values["is_primary"] = False
    session.execute(moved.values(values).execution_options(synchronize_session=False))
    contacts.ensure_one_primary(session, keep_id)
    _move_the_rest(session, ext.merge_contacts, m.Contact, "contact", keep, drop)
    changes = audit.diff(before, contacts.contact_snapshot(session, keep))
    summary = f"merged in #{drop_id} {drop_name}" + (f" <{drop_email}>" if drop_email else "")
    audit.record(session, actor, "merged", "contact", keep_id, summary=summary, changes=changes)
    return keep
