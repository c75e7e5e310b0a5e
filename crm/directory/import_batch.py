"""Matching and writing one batch of parsed import rows, with a constant number of statements per batch.

``crm.directory.importer`` parses each CSV row into a ``ParsedRow``; ``BatchWriter.batch`` then looks the batch's
organisations (charity number, website domain, normalised name) and contacts (email) up in one statement each,
decides per row "new", "update", "unchanged" or "same as row N", counts it in the report and, when applying, writes
the good rows with bulk inserts and updates plus one executemany of audit entries and one of batch changes.

A matched record is never silently changed: every field the file would change is planned old → new
(``crm.csvimport.plan_changes``) from one read of the matched records per batch; a field that already has a value
keeps it unless its column is in ``replace``; topics are only ever added. The audit entry and the import batch
(``crm.imports.batches``) record ``[old, new]``, so the old value survives and the batch can be undone.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.csvimport import Field, FieldChange, insert_ignore, plan_changes, show
from crm.directory.reference import free_slug, slugify
from crm.imports import batches
from crm.mailing.suppression import forms_by_key

if TYPE_CHECKING:
    from crm.directory.importer import ImportReport, RowResult


@dataclasses.dataclass(slots=True)
class ParsedRow:
    result: RowResult
    org: dict[str, Any] | None
    topic_ids: list[int]
    org_keys: list[str]
    contact: dict[str, Any] | None
    role: str
    org_target: Any = None  # existing id, or ("row", first row number)
    contact_id: int | None = None
    org_changes: list[FieldChange] = dataclasses.field(default_factory=list)
    contact_changes: list[FieldChange] = dataclasses.field(default_factory=list)


# What an import may change in a matched record, by the column that carries it (``--replace`` names columns).
ORG_FIELDS = (
    Field("kind", "kind", "Kind"),
    Field("vcse_category", "vcse_category", "VCSE category"),
    Field("user_led", "user_led", "User-led"),
    Field("lived_experience_led", "lived_experience_led", "Lived-experience-led"),
    Field("description", "description", "Description"),
    Field("website", "website", "Website"),
    Field("public_email", "public_email", "Public email"),
    Field("region_id", "region", "Region"),
    Field("postcode", "postcode", "Postcode"),
    Field("charity_number", "charity_number", "Charity number"),
)
CONTACT_FIELDS = (
    Field("name", "contact_name", "Name"),
    Field("phone", "contact_phone", "Phone"),
    Field("job_title", "contact_job_title", "Job title"),
    Field("career_stage", "contact_career_stage", "Career stage"),
)
# Plural labels for the preview's choices ("Replace descriptions from the file").
REPLACEABLE = {
    "kind": "kinds",
    "vcse_category": "VCSE categories",
    "user_led": "user-led answers",
    "lived_experience_led": "lived-experience-led answers",
    "description": "descriptions",
    "website": "websites",
    "public_email": "public emails",
    "region": "regions",
    "postcode": "postcodes",
    "charity_number": "charity numbers",
    "contact_name": "contact names",
    "contact_phone": "contact phone numbers",
    "contact_job_title": "contact job titles",
    "contact_career_stage": "contact career stages",
}


class BatchWriter:
    """Keeps what one import has seen across batches (keys of earlier rows, new ids, slugs taken)."""

    def __init__(
        self,
        session: Session,
        report: ImportReport,
        *,
        apply: bool,
        actor: Principal | None,
        replace: Collection[str] = (),
        batch_id: int | None = None,
    ) -> None:
        self.session = session
        self.report = report
        self.apply = apply
        self.replace = frozenset(replace)
        self.batch_id = batch_id
        self.names: dict[str, dict[Any, str]] = {
            "region_id": dict(session.execute(select(m.Region.id, m.Region.name)).all()),
            "topics": dict(session.execute(select(m.Topic.id, m.Topic.name)).all()),
        }
        self.actor_name = actor.email if actor else "import"
        self.actor_id = actor.id if actor and actor.id > 0 else None
        self.org_key_rows: dict[str, int] = {}  # in-file key -> first row number that named the organisation
        self.org_key_ids: dict[str, int] = {}  # in-file key -> organisation id (after insert, apply mode)
        self.used_slugs: set[str] = set()
        self.probed: set[str] = set()
        self.dialect = session.get_bind().dialect.name

    def batch(self, rows: list[ParsedRow]) -> None:
        """Match a batch of parsed rows, count them in the report and (with ``apply``) write the good ones."""
        s = self.session
        good = [p for p in rows if not p.result.errors]
        # 1. Look up existing organisations by any key of the batch (one statement).
        charity = {k[2:] for p in good for k in p.org_keys if k.startswith("c:")}
        domains = {k[2:] for p in good for k in p.org_keys if k.startswith("d:")}
        names = {k[2:] for p in good for k in p.org_keys if k.startswith("n:")}
        found: dict[str, int] = {}
        if names:
            o = m.Organisation
            conds = [o.name_normalised.in_(names)]
            if charity:
                conds.append(o.charity_number.in_(charity))  # stored without spaces, upper-case: indexed
            if domains:
                conds.append(o.website_domain.in_(domains))
            for r in s.execute(select(o.id, o.name_normalised, o.charity_number, o.website_domain).where(or_(*conds))):
                if r.charity_number:
                    found.setdefault("c:" + r.charity_number.replace(" ", "").upper(), r.id)
                if r.website_domain:
                    found.setdefault("d:" + r.website_domain, r.id)
                found.setdefault("n:" + r.name_normalised, r.id)
        # 2. Contacts by email, and suppressed addresses (one statement each).
        emails = {p.contact["email"] for p in good if p.contact and p.contact["email"]}
        contact_ids: dict[str, int] = {}
        suppressed: set[str] = set()
        if emails:
            contact_ids = dict(
                s.execute(select(m.Contact.email, m.Contact.id).where(m.Contact.email.in_(emails))).all()
            )
            keys = forms_by_key(emails)  # erased people stay suppressed under their hashed address
            suppressed = {
                keys[a]
                for a in s.scalars(
                    select(m.Suppression.address).where(
                        m.Suppression.address.in_(list(keys)), m.Suppression.lifted_at.is_(None)
                    )
                )
            }
        # 3. Decide what each row does.
        for p in rows:
            res = p.result
            if p.org is not None and not res.errors:
                existing = next((found[k] for k in p.org_keys if k in found), None)
                earlier = next((self.org_key_rows[k] for k in p.org_keys if k in self.org_key_rows), None)
                if earlier is not None and p.contact is None:
                    res.errors.append(("organisation_name", f"This organisation already appears in row {earlier}."))
                    continue
                if earlier is not None:
                    res.org_action = f"same as row {earlier}"
                    p.org_target = ("row", earlier)
                elif existing is not None:
                    res.org_action = "update"
                    p.org_target = existing
                else:
                    res.org_action = "new"
                    p.org_target = ("row", res.row)
                for k in p.org_keys:
                    self.org_key_rows.setdefault(k, res.row)
                    if existing is not None:
                        self.org_key_ids.setdefault(k, existing)
            if p.contact is not None and not res.errors:
                email = p.contact["email"]
                if email and email in contact_ids:
                    res.contact_action = "update"
                    p.contact_id = contact_ids[email]
                else:
                    res.contact_action = "new"
                if email in suppressed:
                    res.notes.append("This address is suppressed: the contact is imported but never subscribed.")
        # 4. What each matched record would change, old -> new (one read of the matched records per kind).
        self._plan([p for p in rows if not p.result.errors])
        for p in rows:
            self._count(p.result)
        if self.apply:
            self._write([p for p in rows if not p.result.errors])
        else:
            self._preview_links(rows)

    def _text(self, field: str, value: Any) -> str:
        if field in self.names and value not in (None, [], ""):
            names = self.names[field]
            return show([names.get(v, f"#{v}") for v in value] if isinstance(value, list) else names.get(value, value))
        return show(value)

    def _named(self, field: str, value: Any) -> Any:
        """Topics by name for the audit trail, as the form records them (a region stays an id: the history names
        it); anything else as it is."""
        if field != "topics" or value is None:
            return value
        names = self.names[field]
        return [names.get(v, v) for v in value] if isinstance(value, list) else names.get(value, value)

    def _plan(self, rows: list[ParsedRow]) -> None:
        s = self.session
        o, c = m.Organisation, m.Contact
        org_ids = {p.org_target for p in rows if p.result.org_action == "update"}
        contact_ids = {p.contact_id for p in rows if p.result.contact_action == "update"}
        orgs: dict[int, dict[str, Any]] = {}
        topics: dict[int, set[int]] = defaultdict(set)
        if org_ids:
            cols = [getattr(o, f.name) for f in ORG_FIELDS]
            orgs = {
                r.id: r._asdict() for r in s.execute(select(o.id, o.website_domain, *cols).where(o.id.in_(org_ids)))
            }
            links = m.organisation_topics.c
            for oid, tid in s.execute(
                select(links.organisation_id, links.topic_id).where(links.organisation_id.in_(org_ids))
            ):
                topics[oid].add(tid)
        people: dict[int, dict[str, Any]] = {}
        if contact_ids:
            cols = [getattr(c, f.name) for f in CONTACT_FIELDS]
            people = {r.id: r._asdict() for r in s.execute(select(c.id, *cols).where(c.id.in_(contact_ids)))}
        for p in rows:
            res = p.result
            if res.org_action == "update":
                before = orgs[p.org_target]
                p.org_changes = plan_changes(res.organisation, ORG_FIELDS, before, p.org, self.replace, self._text)  # type: ignore[arg-type]
                had = topics[p.org_target]
                if set(p.topic_ids) - had:
                    old, new = sorted(had), sorted(had | set(p.topic_ids))
                    p.org_changes.append(
                        FieldChange(
                            res.organisation, "topics", "topics", "Topics", old, new,
                            self._text("topics", old), self._text("topics", new), True,
                        )
                    )  # fmt: skip
                website = next((ch for ch in p.org_changes if ch.field == "website" and ch.applied), None)
                if website is not None and before["website_domain"] != p.org["website_domain"]:  # type: ignore[index]
                    p.org_changes.append(
                        FieldChange(res.organisation, "website_domain", "website", "", before["website_domain"],
                                    p.org["website_domain"], "", "", True)  # type: ignore[index]
                    )  # fmt: skip
                if not any(ch.applied for ch in p.org_changes):
                    res.org_action = "unchanged"
                # A later row of this batch matching the same record (by another key) plans from what this one writes.
                before.update({ch.field: ch.new for ch in p.org_changes if ch.applied and ch.field != "topics"})
                had.update(p.topic_ids)
            if res.contact_action == "update":
                p.contact_changes = plan_changes(
                    res.contact,
                    CONTACT_FIELDS,
                    people[p.contact_id],
                    p.contact,
                    self.replace,
                    self._text,  # type: ignore[arg-type,index]
                )
                if not any(ch.applied for ch in p.contact_changes):
                    res.contact_action = "unchanged"
            res.changes = [ch for ch in p.org_changes + p.contact_changes if ch.label]

    def _count(self, res: RowResult) -> None:
        rep = self.report
        rep.add(res)
        if not res.errors:
            rep.orgs_new += res.org_action == "new"
            rep.orgs_updated += res.org_action == "update"
            rep.orgs_unchanged += res.org_action == "unchanged"
            rep.contacts_new += res.contact_action == "new"
            rep.contacts_updated += res.contact_action == "update"
            rep.contacts_unchanged += res.contact_action == "unchanged"

    # --------------------------------------------------------------------------------------------- write
    def _slugs(self, names: list[str]) -> list[str]:
        """Unique slugs for a batch: one query for the plain slugs, one more per name that clashes."""
        col = m.Organisation.slug
        bases = [slugify(n, 300) for n in names]
        taken = set(self.session.scalars(select(col).where(col.in_(set(bases)))))
        out = []

        def is_taken(slug: str) -> bool:
            return slug in taken or slug in self.used_slugs

        for base in bases:
            if is_taken(base) and base not in self.probed:
                taken |= set(self.session.scalars(select(col).where(col.like(f"{base}-%"))))
                self.probed.add(base)
            slug = free_slug(base, is_taken)
            self.used_slugs.add(slug)
            out.append(slug)
        return out

    def _write(self, rows: list[ParsedRow]) -> None:
        s = self.session
        now = m.utcnow()
        audit_rows: list[dict[str, Any]] = []
        batch_rows: list[dict[str, Any]] = []

        def audit_row(action: str, entity: str, entity_id: int, summary: str, changes: dict[str, Any]) -> None:
            audit_rows.append(
                {
                    "at": now,
                    "user_id": self.actor_id,
                    "actor": self.actor_name,
                    "action": action,
                    "entity": entity,
                    "entity_id": entity_id,
                    "summary": summary[:500],
                    "changes": changes,
                }
            )

        def batch_row(action: str, entity: str, entity_id: int, label: str, fields: dict[str, Any]) -> None:
            if self.batch_id is not None:
                batch_rows.append(
                    {
                        "batch_id": self.batch_id,
                        "entity": entity,
                        "entity_id": entity_id,
                        "action": action,
                        "label": label,
                        "fields": fields,
                    }
                )

        def update_from(changes: list[FieldChange], entity: str, record_id: int, label: str) -> dict[str, Any] | None:
            """A matched record's update from its applied changes, audited and kept in the batch with the old
            values (topics are links, written separately); None when the row changes nothing."""
            applied = [ch for ch in changes if ch.applied]
            if not applied:
                return None
            shown = {
                ch.field: [self._named(ch.field, ch.old), self._named(ch.field, ch.new)] for ch in applied if ch.label
            }
            audit_row("updated by import", entity, record_id, label, shown)
            batch_row("updated", entity, record_id, label, {ch.field: [ch.old, ch.new] for ch in applied})
            values = {ch.field: ch.new for ch in applied if ch.field != "topics"}
            return {**values, "id": record_id, "updated_at": now} if values else None

        # New organisations (bulk insert, ids back in order).
        new_orgs = [p for p in rows if p.result.org_action == "new"]
        if new_orgs:
            slugs = self._slugs([p.org["name"] for p in new_orgs])  # type: ignore[index]
            values = []
            for p, slug in zip(new_orgs, slugs, strict=True):
                v = dict(p.org)  # type: ignore[arg-type]
                v["kind"] = v.get("kind") or m.OrgKind.VCSE.value  # a blank kind means VCSE for a new organisation
                v.setdefault("user_led", False)
                v.setdefault("region_id", None)
                v.setdefault("lived_experience_led", False)
                v.update(slug=slug, created_at=now, updated_at=now)
                values.append(v)
            # executemany without RETURNING (one statement), then ids by the unique slug (one statement):
            # RETURNING with ordered rows degrades to one INSERT per row on SQLite.
            s.execute(m.Organisation.__table__.insert(), values)
            by_slug = dict(
                s.execute(select(m.Organisation.slug, m.Organisation.id).where(m.Organisation.slug.in_(slugs))).all()
            )
            ids = [by_slug[slug] for slug in slugs]
            for p, org_id in zip(new_orgs, ids, strict=True):
                for k in p.org_keys:
                    self.org_key_ids.setdefault(k, org_id)
                p.org_target = org_id
                name = p.org["name"]  # type: ignore[index]
                audit_row("imported", "organisation", org_id, name, {"name": [None, name]})
                batch_row("created", "organisation", org_id, name, {})
        # Resolve in-file references to organisations created earlier.
        for p in rows:
            if isinstance(p.org_target, tuple):
                p.org_target = next((self.org_key_ids[k] for k in p.org_keys if k in self.org_key_ids), None)
        # Updates of existing organisations: the planned changes only (never the name; a blank never blanks).
        updates = []
        for p in rows:
            if p.result.org_action == "update" and p.org_target:
                v = update_from(p.org_changes, "organisation", p.org_target, p.result.organisation)
                if v:
                    updates.append(v)
        if updates:
            s.execute(update(m.Organisation), updates)
        topic_rows = [
            {"organisation_id": p.org_target, "topic_id": t} for p in rows if p.org_target and p.result.org_action
            in {"new", "update"} for t in p.topic_ids
        ]  # fmt: skip
        if topic_rows:
            s.execute(insert_ignore(self.dialect, m.organisation_topics, ["organisation_id", "topic_id"]), topic_rows)
        # Contacts.
        new_contacts = [p for p in rows if p.result.contact_action == "new"]
        if new_contacts:
            with_email = [p for p in new_contacts if p.contact["email"]]  # type: ignore[index]
            if with_email:
                values = [dict(p.contact, created_at=now, updated_at=now) for p in with_email]  # type: ignore[arg-type]
                s.execute(m.Contact.__table__.insert(), values)
                emails = [p.contact["email"] for p in with_email]  # type: ignore[index]
                by_email = dict(
                    s.execute(select(m.Contact.email, m.Contact.id).where(m.Contact.email.in_(emails))).all()
                )
                for p in with_email:
                    p.contact_id = by_email[p.contact["email"]]  # type: ignore[index]
            for p in new_contacts:
                if p.contact_id is None:  # no email, nothing unique to find it by: one INSERT … RETURNING each
                    p.contact_id = s.scalar(
                        insert(m.Contact).values(**p.contact, created_at=now, updated_at=now).returning(m.Contact.id)  # type: ignore[arg-type]
                    )
            for p in new_contacts:
                cid, name = p.contact_id, p.contact["name"]  # type: ignore[index]
                audit_row("imported", "contact", cid, name, {"name": [None, name]})  # type: ignore[arg-type]
                batch_row("created", "contact", cid, p.result.contact, {})  # type: ignore[arg-type]
        contact_updates = []
        for p in rows:
            if p.result.contact_action == "update" and p.contact_id:
                v = update_from(p.contact_changes, "contact", p.contact_id, p.result.contact)
                if v:
                    contact_updates.append(v)
        if contact_updates:
            s.execute(update(m.Contact), contact_updates)
        # Affiliations: new links only; the first link of a contact without a primary organisation is primary.
        pairs = [(p.contact_id, p.org_target, p.role, p.result) for p in rows if p.contact_id and p.org_target]
        if pairs:
            cids = {c for c, _, _, _ in pairs}
            existing = list(
                s.execute(
                    select(m.Affiliation.contact_id, m.Affiliation.organisation_id, m.Affiliation.is_primary).where(
                        m.Affiliation.contact_id.in_(cids)
                    )
                )
            )
            linked = {(a.contact_id, a.organisation_id) for a in existing}
            has_primary = {a.contact_id for a in existing if a.is_primary}
            new_links = []
            for cid, oid, role, res in pairs:
                if (cid, oid) in linked:
                    continue
                linked.add((cid, oid))
                primary = cid not in has_primary
                has_primary.add(cid)
                new_links.append({"contact_id": cid, "organisation_id": oid, "role": role, "is_primary": primary})
                # On both records, as the form records a link (the history names the other side).
                audit_row(
                    "linked by import",
                    "contact",
                    cid,
                    res.organisation or f"organisation #{oid}",
                    {"organisation_id": [None, oid], "role": [None, role]},
                )
                audit_row(
                    "linked by import",
                    "organisation",
                    oid,
                    res.contact or f"contact #{cid}",
                    {"contact_id": [None, cid], "role": [None, role]},
                )
                batch_row(
                    "created", "affiliation", cid, f"{res.contact} at {res.organisation}",
                    {"organisation_id": [None, oid], "role": [None, role], "is_primary": [None, primary]},
                )  # fmt: skip
            if new_links:
                s.execute(m.Affiliation.__table__.insert(), new_links)
                self.report.affiliations_new += len(new_links)
        if audit_rows:
            s.execute(m.AuditEntry.__table__.insert(), audit_rows)
        batches.add_changes(s, batch_rows)
        s.flush()

    def _preview_links(self, rows: list[ParsedRow]) -> None:
        """Count the links a preview is sure to create (the contact or the organisation is new)."""
        self.report.affiliations_new += sum(
            1
            for p in rows
            if (not p.result.errors and p.contact and p.org and "new" in (p.result.org_action, p.result.contact_action))
            or (p.result.org_action.startswith("same as") and p.result.contact_action == "new")
        )
