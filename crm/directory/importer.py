"""CSV import of organisations and contacts (one file may carry both), streamed in batches.

One function, ``run_import``, serves the web preview, the web confirm and ``crm import organisations``:

* ``apply=False`` (preview / ``--dry-run``): every row is checked and matched against the database; nothing is
  written. The report says per row "new", "matches existing (will update)", "matches existing (no change)" or the
  errors (row, column, reason), and for every matched record each field the file would change, old → new.
* ``apply=True``: rows without errors are written as one import batch (``crm.imports.batches``) that can be undone
  for 30 days; rows with errors are skipped (the callers only allow this when the preview had no errors or the
  person chose to skip bad rows).

A matched record is never silently changed: only its empty fields are filled, unless the column is in ``replace``
(the preview's "Replace descriptions from the file", ``--replace description``); a blank cell never blanks a field.

The file (UTF-8, or Excel's Windows-1252, with or without a BOM: ``crm.csvimport.sniff``) is read as a stream and
handled ``BATCH`` rows at a time with a constant number of SQL statements per batch (one lookup per kind of key, one
read of the matched records, bulk inserts/updates, one executemany of audit entries and one of batch changes), so
memory does not grow with the file: a 50,000-row file is fine (see bench/import.py). Only small per-key sets (which
row first named an organisation or an email) are kept for the duplicate checks.

Reading, row numbers, the report, the old → new plan and yes/no values come from ``crm.csvimport`` (shared with the
funding import); matching and writing a batch live in ``crm.directory.import_batch``.

Matching: organisations by charity number, then website domain, then normalised name; contacts by lower-cased
email. Imports create and update contacts only; they never create subscriptions, so a suppressed address is
never re-subscribed (the preview notes such rows).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crm import csvimport
from crm import models as m
from crm.accounts.principal import Principal
from crm.directory import organisations, taxonomy
from crm.directory.import_batch import REPLACEABLE, BatchWriter, ParsedRow
from crm.imports import batches
from crm.validation import Form

BATCH = 1000

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


@dataclasses.dataclass(slots=True)
class RowResult(csvimport.RowResult):
    organisation: str = ""
    contact: str = ""
    org_action: str = ""  # "new", "update", "unchanged", "same as row N", ""
    contact_action: str = ""  # "new", "update", "unchanged", ""

    @property
    def status(self) -> str:
        if self.errors:
            return "error"
        if "new" in (self.org_action, self.contact_action):
            return "new"
        return "update" if "update" in (self.org_action, self.contact_action) else "unchanged"


@dataclasses.dataclass(slots=True)
class ImportReport(csvimport.Report):
    orgs_new: int = 0
    orgs_updated: int = 0
    orgs_unchanged: int = 0
    contacts_new: int = 0
    contacts_updated: int = 0
    contacts_unchanged: int = 0
    affiliations_new: int = 0

    @property
    def errors(self) -> list[tuple[int, str, str]]:
        """Every error: (row, column, message), capped at ``csvimport.MAX_PROBLEMS``."""
        return self.problems

    @property
    def ok(self) -> bool:
        return not self.file_errors

    def summary(self) -> str:
        verb = "Imported" if self.applied else "Would import"
        return (
            f"{verb}: {self.orgs_new} new and {self.orgs_updated} updated organisations, {self.contacts_new} new and "
            f"{self.contacts_updated} updated contacts, {self.affiliations_new} new links; "
            f"{self.orgs_unchanged + self.contacts_unchanged} matched records unchanged. "
            f"{self.total_rows} rows read, {self.error_rows} with errors"
            + (" (skipped)." if self.applied and self.error_rows else ".")
        )


class _RowParser:
    """Checks one row at a time; remembers what earlier rows held (repeated rows, emails already used)."""

    def __init__(self, session: Session) -> None:
        self.topics = taxonomy.topics_by_key(session)
        self.regions = taxonomy.regions_by_key(session)
        self.email_rows: dict[str, int] = {}
        self.row_hashes: dict[int, int] = {}

    def parse(self, number: int, raw: dict[str, str], columns: set[str]) -> ParsedRow:
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
            given_kind = (raw.get("kind") or "").strip().lower()
            kind = given_kind or m.OrgKind.VCSE.value
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
                "kind": given_kind or None,  # blank: VCSE for a new organisation, no change for a matched one
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
                value = (raw.get(flag) or "").strip()
                answer = csvimport.yes_no(value)
                if answer is None:
                    form.add_error(flag, f"Use yes or no (found '{value.lower()[:20]}').")
                if value:
                    org[flag] = bool(answer)
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
            organisations.clean_identifiers(form, org, self.regions)  # postcode, charity number; region from postcode
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
        return ParsedRow(res, org, topic_ids, keys, contact, role)


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
    replace: Collection[str] = (),
    filename: str = "",
) -> ImportReport:
    """Check (and with ``apply`` write, as one import batch) a CSV file; see the module docstring. ``replace``: the
    columns whose values overwrite a matched record's (otherwise only its empty fields are filled). The caller owns
    the transaction."""
    report = ImportReport(applied=apply)
    encoding, problem = csvimport.sniff(path)
    if encoding is None:
        report.file_errors.append(problem)
        return report
    report.read_as(encoding)
    with csvimport.open_text(path, encoding, progress) as text:
        reader = csvimport.CsvRows(text, report)
        if not reader.read_header():
            return report
        header, columns = reader.header, reader.columns
        present = set(columns)
        if "organisation_name" not in present and not {"contact_name", "contact_email"} <= present:
            report.file_errors.append(
                "Missing required column: organisation_name (or contact_name and contact_email for a contacts-only "
                f"file). Found: {', '.join(h for h in header if h)[:300] or 'no column names'}."
            )
            return report
        dupes = reader.duplicates()
        if dupes:
            report.file_errors.append(f"These columns appear more than once: {', '.join(dupes)}.")
            return report
        unused = [h for h, c in zip(header, columns, strict=True) if c and c not in ALL_COLUMNS]
        if unused:
            report.notes.append(f"These columns are not used and will be ignored: {', '.join(unused)[:300]}.")
        parser = _RowParser(session)

        def parsed() -> Iterator[ParsedRow]:
            for number, values in reader.rows():
                unreadable = reader.too_many_values(values) or reader.unclosed_quote(values)
                if unreadable:
                    yield ParsedRow(RowResult(row=number, errors=[("", unreadable)]), None, [], [], None, "")
                    continue
                try:
                    yield parser.parse(number, dict(zip(columns, values, strict=False)), present)
                except ValueError as exc:  # a value no check foresaw: this row is reported, the others go on
                    reason = f"This row could not be read: {str(exc)[:200] or type(exc).__name__}."
                    yield ParsedRow(RowResult(row=number, errors=[("", reason)]), None, [], [], None, "")

        replace = frozenset(replace) & set(columns) & set(REPLACEABLE)  # only columns a matched record has
        batch_id = None
        if apply:
            batch_id = batches.start(
                session, "organisations", actor=actor, filename=filename or path.name, encoding=encoding.name,
                replaced=replace,
            )  # fmt: skip
        writer = BatchWriter(session, report, apply=apply, actor=actor, replace=replace, batch_id=batch_id)
        for batch in csvimport.batches(parsed(), BATCH):
            writer.batch(batch)
    if batch_id is not None:
        report.batch_id = batch_id
        batches.finish(
            session,
            batch_id,
            actor,
            created=report.orgs_new + report.contacts_new,
            updated=report.orgs_updated + report.contacts_updated,
            unchanged=report.orgs_unchanged + report.contacts_unchanged,
            errors=report.error_rows,
            problems=report.problems,
            summary=report.summary(),
            analyze=("organisations", "contacts"),
        )
    return report


def import_dir() -> Path:
    from crm.settings import PROJECT_ROOT

    path = PROJECT_ROOT / "var" / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path
