"""Matching and writing one batch of parsed import rows, with a constant number of statements per batch.

``crm.directory.importer`` parses each CSV row into a ``ParsedRow``; ``BatchWriter.batch`` then looks the batch's
organisations (charity number, website domain, normalised name) and contacts (email) up in one statement each,
decides per row "new", "update" or "same as row N", counts it in the report and, when applying, writes the good rows
with bulk inserts and updates plus one executemany of audit entries.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.csvimport import insert_ignore
from crm.directory.reference import free_slug, slugify
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


class BatchWriter:
    """Keeps what one import has seen across batches (keys of earlier rows, new ids, slugs taken)."""

    def __init__(self, session: Session, report: ImportReport, *, apply: bool, actor: Principal | None) -> None:
        self.session = session
        self.report = report
        self.apply = apply
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
                    self._count(res)
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
            self._count(res)
        if self.apply:
            self._write([p for p in rows if not p.result.errors])
        else:
            self._preview_links(rows)

    def _count(self, res: RowResult) -> None:
        rep = self.report
        rep.add(res)
        if not res.errors:
            rep.orgs_new += res.org_action == "new"
            rep.orgs_updated += res.org_action == "update"
            rep.contacts_new += res.contact_action == "new"
            rep.contacts_updated += res.contact_action == "update"

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

        def update_from(values: dict[str, Any], keep: set[str], entity: str, record_id: int) -> dict[str, Any] | None:
            """An existing record's update from a row's non-empty columns (an import never blanks a field, and
            never changes the columns in ``keep``), audited; None when the row changes nothing."""
            changed = {k: val for k, val in values.items() if k not in keep and val not in ("", None)}
            if not changed:
                return None
            diff = {k: [None, str(val)[:200]] for k, val in changed.items()}
            audit_row("updated by import", entity, record_id, values["name"], diff)
            return {**changed, "id": record_id, "updated_at": now}

        # New organisations (bulk insert, ids back in order).
        new_orgs = [p for p in rows if p.result.org_action == "new"]
        if new_orgs:
            slugs = self._slugs([p.org["name"] for p in new_orgs])  # type: ignore[index]
            values = []
            for p, slug in zip(new_orgs, slugs, strict=True):
                v = dict(p.org)  # type: ignore[arg-type]
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
                audit_row("imported", "organisation", org_id, p.org["name"], {"name": [None, p.org["name"]]})  # type: ignore[index]
        # Resolve in-file references to organisations created earlier.
        for p in rows:
            if isinstance(p.org_target, tuple):
                p.org_target = next((self.org_key_ids[k] for k in p.org_keys if k in self.org_key_ids), None)
        # Updates of existing organisations: non-empty columns only; the name stays as it is.
        updates = []
        for p in rows:
            if p.result.org_action == "update" and p.org_target:
                v = update_from(p.org, {"name", "name_normalised"}, "organisation", p.org_target)  # type: ignore[arg-type]
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
                cid = p.contact_id
                audit_row("imported", "contact", cid, p.contact["name"], {"name": [None, p.contact["name"]]})  # type: ignore[index]
        contact_updates = []
        for p in rows:
            if p.result.contact_action == "update" and p.contact_id:
                v = update_from(p.contact, {"email"}, "contact", p.contact_id)  # type: ignore[arg-type]
                if v:
                    contact_updates.append(v)
        if contact_updates:
            s.execute(update(m.Contact), contact_updates)
        # Affiliations: new links only; the first link of a contact without a primary organisation is primary.
        pairs = [(p.contact_id, p.org_target, p.role) for p in rows if p.contact_id and p.org_target]
        if pairs:
            cids = {c for c, _, _ in pairs}
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
            for cid, oid, role in pairs:
                if (cid, oid) in linked:
                    continue
                linked.add((cid, oid))
                primary = cid not in has_primary
                has_primary.add(cid)
                new_links.append({"contact_id": cid, "organisation_id": oid, "role": role, "is_primary": primary})
                audit_row("linked by import", "contact", cid, f"to organisation #{oid}", {"role": [None, role]})
            if new_links:
                s.execute(m.Affiliation.__table__.insert(), new_links)
                self.report.affiliations_new += len(new_links)
        if audit_rows:
            s.execute(m.AuditEntry.__table__.insert(), audit_rows)
        s.flush()

    def _preview_links(self, rows: list[ParsedRow]) -> None:
        """Count the links a preview is sure to create (the contact or the organisation is new)."""
        self.report.affiliations_new += sum(
            1
            for p in rows
            if (not p.result.errors and p.contact and p.org and "new" in (p.result.org_action, p.result.contact_action))
            or (p.result.org_action.startswith("same as") and p.result.contact_action == "new")
        )
