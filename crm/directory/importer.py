"""CSV import of organisations and contacts (one file may carry both), streamed in batches.

One function, ``run_import``, serves the web preview, the web confirm and ``crm import organisations``:

* ``apply=False`` (preview / ``--dry-run``): every row is checked and matched against the database; nothing is
  written. The report says per row "new", "matches existing (will update)" or the errors (row, column, reason).
* ``apply=True``: rows without errors are written; rows with errors are skipped (the callers only allow this when
  the preview had no errors or the person chose to skip bad rows).

The file is read as a stream and handled ``BATCH`` rows at a time with a constant number of SQL statements per
batch (one lookup per kind of key, bulk inserts/updates, one executemany of audit entries), so memory does not
grow with the file: a 50,000-row file is fine (see bench/import.py). Only small per-key sets (which row first
named an organisation or an email) are kept for the duplicate checks.

Matching: organisations by charity number, then website domain, then normalised name; contacts by lower-cased
email. Imports create and update contacts only; they never create subscriptions, so a suppressed address is
never re-subscribed (the preview notes such rows).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import organisations, taxonomy
from crm.directory.reference import slugify
from crm.mailing.suppression import forms_by_key
from crm.web.auth import Principal
from crm.web.forms import Form

BATCH = 1000
MAX_ERRORS = 10_000
MAX_SHOWN_ROWS = 1000

ORG_COLUMNS = (
    "organisation_name",
    "kind",
    "vcse_category",
    "user_led",
    "lived_experience_led",
    "description",
    "website",
    "public_email",
    "region",
    "postcode",
    "charity_number",
    "topics",
)
CONTACT_COLUMNS = (
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_job_title",
    "contact_career_stage",
    "contact_role",
)
ALL_COLUMNS = ORG_COLUMNS + CONTACT_COLUMNS
# Shared hosting or social sites say nothing about which organisation a website belongs to.
GENERIC_DOMAINS = {
    "facebook.com", "twitter.com", "x.com", "instagram.com", "linkedin.com", "wordpress.com", "wix.com",
    "wixsite.com", "blogspot.com", "google.com", "sites.google.com", "gov.uk", "nhs.uk", "ac.uk", "org.uk",
    "linktr.ee", "eventbrite.co.uk", "justgiving.com",
}  # fmt: skip
TRUE = {"yes", "y", "true", "1"}
FALSE = {"no", "n", "false", "0", ""}


@dataclasses.dataclass(slots=True)
class RowResult:
    row: int
    organisation: str = ""
    contact: str = ""
    org_action: str = ""  # "new", "update", "same as row N", ""
    contact_action: str = ""  # "new", "update", ""
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def status(self) -> str:
        if self.errors:
            return "error"
        if "new" in (self.org_action, self.contact_action):
            return "new"
        return "update"


@dataclasses.dataclass(slots=True)
class ImportReport:
    file_errors: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    rows: list[RowResult] = dataclasses.field(default_factory=list)  # the first MAX_SHOWN_ROWS rows
    errors: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)  # every error (capped)
    total_rows: int = 0
    error_rows: int = 0
    orgs_new: int = 0
    orgs_updated: int = 0
    contacts_new: int = 0
    contacts_updated: int = 0
    affiliations_new: int = 0
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.file_errors

    def summary(self) -> str:
        verb = "Imported" if self.applied else "Would import"
        return (
            f"{verb}: {self.orgs_new} new and {self.orgs_updated} updated organisations, {self.contacts_new} new and "
            f"{self.contacts_updated} updated contacts, {self.affiliations_new} new links. "
            f"{self.total_rows} rows read, {self.error_rows} with errors"
            + (" (skipped)." if self.applied and self.error_rows else ".")
        )


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: Any, progress: Callable[[int], None] | None) -> None:
        self.raw, self.progress = raw, progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        if self.progress and data:
            self.progress(len(data))
        return len(data)


def check_utf8(path: Path) -> str | None:
    """Read the whole file once in 1 MB blocks; an error message if it is not UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line += block[: exc.start].count(b"\n")
                return (
                    f"The file is not UTF-8 text (first bad byte on line {line}). Save it as "
                    "'CSV UTF-8' and upload it again."
                )
            line += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "The file is not UTF-8 text (it ends in the middle of a character)."
    return None


def _header_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


@dataclasses.dataclass(slots=True)
class _Parsed:
    result: RowResult
    org: dict[str, Any] | None
    topic_ids: list[int]
    org_keys: list[str]
    contact: dict[str, Any] | None
    role: str
    org_target: Any = None  # existing id, or ("new", first row number)
    contact_id: int | None = None


class _Importer:
    def __init__(self, session: Session, *, apply: bool, actor: Principal | None) -> None:
        self.session = session
        self.apply = apply
        self.actor_name = actor.email if actor else "import"
        self.actor_id = actor.id if actor and actor.id > 0 else None
        self.topics = taxonomy.topics_by_key(session)
        self.regions = taxonomy.regions_by_key(session)
        self.report = ImportReport(applied=apply)
        self.org_key_rows: dict[str, int] = {}  # in-file key -> first row number that named the organisation
        self.org_key_ids: dict[str, int] = {}  # in-file key -> organisation id (after insert, apply mode)
        self.email_rows: dict[str, int] = {}
        self.row_hashes: dict[int, int] = {}
        self.used_slugs: set[str] = set()
        self.probed: set[str] = set()
        self.dialect = session.get_bind().dialect.name

    # ------------------------------------------------------------------------------------------ parsing
    def parse(self, number: int, raw: dict[str, str], columns: set[str]) -> _Parsed:
        res = RowResult(row=number)
        form = Form({k: (v or "") for k, v in raw.items()})
        org: dict[str, Any] | None = None
        contact: dict[str, Any] | None = None
        topic_ids: list[int] = []
        name = (
            form.line("organisation_name", max_length=300, label="Organisation name")
            if "organisation_name" in columns
            else ""
        )
        has_contact = any((raw.get(c) or "").strip() for c in CONTACT_COLUMNS)
        if not name and not has_contact:
            res.errors.append(("organisation_name", "The row has neither an organisation nor a contact."))
        if name:
            res.organisation = name
            kind = (raw.get("kind") or "").strip().lower() or m.OrgKind.VCSE.value
            if kind not in {k.value for k in m.OrgKind}:
                form.add_error(
                    "kind", f"Unknown kind '{kind[:40]}' (use one of: {', '.join(k.value for k in m.OrgKind)})."
                )
            cat = (raw.get("vcse_category") or "").strip().lower()
            if cat and cat not in {c.value for c in m.VcseCategory}:
                by_label = {v.lower(): k.value for k, v in taxonomy.CATEGORY_LABELS.items()}
                if cat in by_label:
                    cat = by_label[cat]
                else:
                    form.add_error("vcse_category", f"Unknown VCSE category '{cat[:60]}'.")
            org = {
                "name": name,
                "kind": kind,
                "vcse_category": cat or None,
                "description": form.str("description", max_length=5000, label="Description"),
                "website": organisations.clean_website(form, "website") if (raw.get("website") or "").strip() else "",
                "public_email": form.email("public_email", required=False),
                "postcode": form.line("postcode", max_length=16, label="Postcode").upper(),
                "charity_number": re.sub(
                    r"\s+", "", form.line("charity_number", max_length=40, label="Charity number")
                ).upper(),
            }
            for flag in ("user_led", "lived_experience_led"):
                value = (raw.get(flag) or "").strip().lower()
                if value not in TRUE | FALSE:
                    form.add_error(flag, f"Use yes or no (found '{value[:20]}').")
                if value:
                    org[flag] = value in TRUE
            region = (raw.get("region") or "").strip().lower()
            if region:
                if region in self.regions:
                    org["region_id"] = self.regions[region].id
                else:
                    form.add_error("region", f"Unknown region '{region[:60]}'.")
            unknown = []
            for key in (raw.get("topics") or "").replace("|", ";").split(";"):
                key = key.strip().lower()
                if not key:
                    continue
                topic = self.topics.get(key)
                if topic is None:
                    unknown.append(key)
                elif topic.id not in topic_ids:
                    topic_ids.append(topic.id)
            if unknown:
                form.add_error("topics", f"Unknown topic(s): {', '.join(unknown)[:200]}.")
            org["name_normalised"] = organisations.normalise_name(name)
            org["website_domain"] = organisations.website_domain(org["website"])
        if has_contact:
            cname = form.line("contact_name", required=True, max_length=200, label="Contact name")
            email = _fast_email(form, "contact_email")
            stage = (raw.get("contact_career_stage") or "").strip().lower()
            if stage and stage not in {s.value for s in m.CareerStage}:
                form.add_error("contact_career_stage", f"Unknown career stage '{stage[:40]}'.")
            contact = {
                "name": cname,
                "email": email or None,
                "phone": form.line("contact_phone", max_length=40, label="Contact phone"),
                "job_title": form.line("contact_job_title", max_length=200, label="Contact job title"),
                "career_stage": stage or None,
            }
            res.contact = f"{cname} <{email}>" if email else cname
        role = form.line("contact_role", max_length=200, label="Contact role") if has_contact else ""
        for field, message in form.errors.items():
            res.errors.append((field, message))
        keys: list[str] = []
        if org is not None:
            if org["charity_number"]:
                keys.append("c:" + org["charity_number"].replace(" ", "").upper())
            if org["website_domain"] and org["website_domain"] not in GENERIC_DOMAINS:
                keys.append("d:" + org["website_domain"])
            keys.append("n:" + org["name_normalised"])
        # In-file duplicates.
        fingerprint = hash(tuple(sorted((k, (v or "").strip()) for k, v in raw.items() if k in ALL_COLUMNS)))
        if fingerprint in self.row_hashes:
            res.errors.append(("", f"This row repeats row {self.row_hashes[fingerprint]}."))
        else:
            self.row_hashes[fingerprint] = number
        if contact and contact["email"] and "contact_email" not in form.errors:
            first = self.email_rows.get(contact["email"])
            if first is not None and not any(c == "" for c, _ in res.errors):
                res.errors.append(("contact_email", f"This email address is already used in row {first}."))
            elif first is None:
                self.email_rows[contact["email"]] = number
        return _Parsed(res, org, topic_ids, keys, contact, role)

    # --------------------------------------------------------------------------------------------- batch
    def batch(self, rows: list[_Parsed]) -> None:
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

    def _count(self, res: RowResult) -> None:
        rep = self.report
        rep.total_rows += 1
        if res.errors:
            rep.error_rows += 1
            for column, message in res.errors:
                if len(rep.errors) < MAX_ERRORS:
                    rep.errors.append((res.row, column, message))
        else:
            rep.orgs_new += res.org_action == "new"
            rep.orgs_updated += res.org_action == "update"
            rep.contacts_new += res.contact_action == "new"
            rep.contacts_updated += res.contact_action == "update"
        if len(rep.rows) < MAX_SHOWN_ROWS:
            rep.rows.append(res)

    # --------------------------------------------------------------------------------------------- write
    def _slugs(self, names: list[str]) -> list[str]:
        """Unique slugs for a batch: one query for the plain slugs, one more per name that clashes."""
        col = m.Organisation.slug
        bases = [slugify(n, 300) for n in names]
        taken = set(self.session.scalars(select(col).where(col.in_(set(bases)))))
        out = []
        for base in bases:
            slug = base
            if base in taken or base in self.used_slugs:
                if base not in self.probed:
                    taken |= set(self.session.scalars(select(col).where(col.like(f"{base}-%"))))
                    self.probed.add(base)
                n = 2
                while f"{base}-{n}" in taken or f"{base}-{n}" in self.used_slugs:
                    n += 1
                slug = f"{base}-{n}"
            self.used_slugs.add(slug)
            out.append(slug)
        return out

    def _insert_ignore(self, table: Any, index_elements: list[str]) -> Any:
        if self.dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
        if self.dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)
        return insert(table)

    def _write(self, rows: list[_Parsed]) -> None:
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
                v = {
                    k: val
                    for k, val in p.org.items()  # type: ignore[union-attr]
                    if k not in {"name", "name_normalised"} and val not in ("", None)
                }
                if v:
                    v["id"] = p.org_target
                    v["updated_at"] = now
                    updates.append(v)
                    audit_row(
                        "updated by import",
                        "organisation",
                        p.org_target,
                        p.org["name"],  # type: ignore[index]
                        {k: [None, str(val)[:200]] for k, val in v.items() if k not in {"id", "updated_at"}},
                    )
        if updates:
            s.execute(update(m.Organisation), updates)
        topic_rows = [
            {"organisation_id": p.org_target, "topic_id": t} for p in rows if p.org_target and p.result.org_action
            in {"new", "update"} for t in p.topic_ids
        ]  # fmt: skip
        if topic_rows:
            s.execute(self._insert_ignore(m.organisation_topics, ["organisation_id", "topic_id"]), topic_rows)
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
                v = {k: val for k, val in p.contact.items() if k != "email" and val not in ("", None)}  # type: ignore[union-attr]
                if v:
                    v.update(id=p.contact_id, updated_at=now)
                    contact_updates.append(v)
                    audit_row(
                        "updated by import",
                        "contact",
                        p.contact_id,
                        p.contact["name"],  # type: ignore[index]
                        {k: [None, str(val)[:200]] for k, val in v.items() if k not in {"id", "updated_at"}},
                    )
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

    def preview_links(self, rows: list[_Parsed]) -> None:
        """Count the links a preview is sure to create (the contact or the organisation is new)."""
        self.report.affiliations_new += sum(
            1
            for p in rows
            if (not p.result.errors and p.contact and p.org and "new" in (p.result.org_action, p.result.contact_action))
            or (p.result.org_action.startswith("same as") and p.result.contact_action == "new")
        )


SIMPLE_EMAIL = re.compile(r"^[a-z0-9_%+-]+(\.[a-z0-9_%+-]+)*@[a-z0-9-]+(\.[a-z0-9-]+)+$", re.IGNORECASE)


def _fast_email(form: Form, name: str) -> str:
    """Plain ASCII addresses skip the full validator (its IDNA checks cost ~150 µs a row); others go through it."""
    raw = (form.data.get(name) or "").strip()
    if (
        raw
        and len(raw) <= 254
        and SIMPLE_EMAIL.match(raw)
        and not any(part.startswith("-") or part.endswith("-") for part in raw.split("@")[1].split("."))
    ):
        return raw.lower()
    return form.email(name, required=False)


def run_import(
    session: Session,
    path: Path,
    *,
    apply: bool,
    actor: Principal | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check (and with ``apply`` write) a CSV file; see the module docstring. The caller owns the transaction."""
    importer = _Importer(session, apply=apply, actor=actor)
    report = importer.report
    problem = check_utf8(path)
    if problem:
        report.file_errors.append(problem)
        return report
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(io.BufferedReader(_CountingReader(raw, progress)), encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            report.file_errors.append("The file is empty.")
            return report
        except csv.Error as exc:
            report.file_errors.append(f"The file is not a readable CSV file ({exc}).")
            return report
        columns = [_header_key(h) for h in header]
        present = set(columns)
        if "organisation_name" not in present and not {"contact_name", "contact_email"} <= present:
            report.file_errors.append(
                "Missing required column: organisation_name (or contact_name and contact_email for a contacts-only "
                f"file). Found: {', '.join(h for h in header if h)[:300] or 'no column names'}."
            )
            return report
        dupes = sorted({c for c in columns if columns.count(c) > 1 and c})
        if dupes:
            report.file_errors.append(f"These columns appear more than once: {', '.join(dupes)}.")
            return report
        unused = [h for h, c in zip(header, columns, strict=True) if c and c not in ALL_COLUMNS]
        if unused:
            report.notes.append(f"These columns are not used and will be ignored: {', '.join(unused)[:300]}.")
        batch: list[_Parsed] = []
        for number, values in _rows(reader, report):
            if len(values) > len(columns) and any(v.strip() for v in values[len(columns) :]):
                parsed = _Parsed(RowResult(row=number), None, [], [], None, "")
                parsed.result.errors.append(
                    ("", f"The row has {len(values)} values but the header has {len(columns)}.")
                )
            else:
                parsed = importer.parse(number, dict(zip(columns, values, strict=False)), present)
            batch.append(parsed)
            if len(batch) >= BATCH:
                _flush(importer, batch)
                batch = []
        if batch:
            _flush(importer, batch)
    return report


def _flush(importer: _Importer, batch: list[_Parsed]) -> None:
    importer.batch(batch)
    if not importer.apply:
        importer.preview_links(batch)


def _rows(reader: Any, report: ImportReport) -> Iterator[tuple[int, list[str]]]:
    """Data rows with their row number in the file (the header is row 1), skipping blank lines."""
    number = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            report.file_errors.append(f"Row {number}: the CSV is malformed ({exc}).")
            return
        number += 1
        if not any(v.strip() for v in values):
            continue
        yield number, values


def import_dir() -> Path:
    from crm.settings import PROJECT_ROOT

    path = PROJECT_ROOT / "var" / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path
