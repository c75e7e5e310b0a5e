"""CSV import of funding calls with a preview: the same behaviour as the directory's import.

``run_import(session, text, apply=False)`` checks every row and says per row "new", "will update" (matched
by ``external_ref``, else by funder + normalised title), "no change" or the errors (column and reason); nothing is
written. For a matched call the preview lists every field the file would change, old → new. By default only empty
fields are filled: a field that already has a value keeps it unless its column is in ``replace`` (the preview's
"Replace summaries from the file", ``crm funding import --replace summary``); a blank cell never blanks a field.
``apply=True`` writes the rows without errors (callers only allow it when the preview had none or the person chose
to skip bad rows) as one import batch (``crm.imports.batches``: who, when, file, counts, each call's old and new
values) that can be undone for 30 days. Every write goes through ``crm.funding.services`` so the rules and the audit
trail (``[old, new]``) are the same as for the form.

Columns (header row required; unknown columns are refused so a typo does not silently drop data):
``external_ref, title, funder, url, summary, eligibility, opens, deadlines, amount_min, amount_max, topics,
regions, requires_vcse_partner, vcse_can_be_co_lead, lead_must_be_academic, lead_must_be_vcse, status``.

* ``funder``: the funder's name or slug in the directory.
* ``deadlines``: ``Label=2027-01-31 17:00`` entries separated by ``;`` (UK time; a bare date means 23:59), or a
  single date/time.
* ``topics`` / ``regions``: names, slugs (or region codes) separated by ``;``.
* flags: yes/no (blank: no for a new call, unchanged for a matched one). ``status``: draft (default for a new call),
  published or closed.
* whom the call suits (``crm.funding.fit``): ``funding_type`` (core, project, capacity-building, small grant,
  fellowship or training, in kind; the words or the stored values), ``application_effort`` (light, standard,
  heavy) and ``open_to_unregistered``, ``open_to_user_led``, ``match_funding_required``,
  ``lived_experience_payment`` as yes/no. Blank or "not stated": not stated for a new call, unchanged for a matched
  one (an import never clears an answer; the form does).

Reading (UTF-8 or Excel's Windows-1252, header names as keys, row numbers as spreadsheets count them), the report,
the old → new plan and yes/no values come from ``crm.csvimport``, shared with the directory's import; the plain
values of a call from ``crm.funding.import_values``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import sys
from collections.abc import Callable, Collection
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import csvimport
from crm import models as m
from crm.accounts.principal import Principal
from crm.csvimport import plan_changes
from crm.funding import fit
from crm.funding import import_values as iv
from crm.funding import services as fs
from crm.imports import batches

COLUMNS = (
    "external_ref",
    "title",
    "funder",
    "url",
    "summary",
    "eligibility",
    "opens",
    "deadlines",
    "amount_min",
    "amount_max",
    "topics",
    "regions",
    "requires_vcse_partner",
    "vcse_can_be_co_lead",
    "lead_must_be_academic",
    "lead_must_be_vcse",
    "status",
    *fit.FIT_FIELDS,
)
REQUIRED = ("title", "funder", "deadlines")
FLAGS = ("requires_vcse_partner", "vcse_can_be_co_lead", "lead_must_be_academic", "lead_must_be_vcse")
MAX_ROWS = 5000
MAX_BYTES = 5_000_000
decode = csvimport.decode  # an upload's text: UTF-8 (BOM or not), else Windows-1252, else an error
# Service field names → the CSV column to blame.
FIELD_TO_COLUMN = {
    "funder_id": "funder",
    "opens_at": "opens",
    "topic_ids": "topics",
    "region_ids": "regions",
}


@dataclasses.dataclass(slots=True)
class RowResult(csvimport.RowResult):
    title: str = ""
    action: str = ""  # "new", "update", "unchanged", "error"
    call_id: int | None = None


@dataclasses.dataclass(slots=True)
class ImportReport(csvimport.Report):
    SHOWN_ROWS: ClassVar[int] = MAX_ROWS  # the preview lists every row
    KEPT_PROBLEMS: ClassVar[int] = sys.maxsize  # and every problem (the file is at most 5 MB)

    @property
    def new(self) -> int:
        return sum(r.action == "new" for r in self.rows)

    @property
    def updates(self) -> int:
        return sum(r.action == "update" for r in self.rows)

    @property
    def unchanged(self) -> int:
        return sum(r.action == "unchanged" for r in self.rows)

    @property
    def errors(self) -> int:
        return sum(r.action == "error" for r in self.rows)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.errors

    def summary(self) -> str:
        if self.applied:
            return f"Imported: {self.new} new, {self.updates} updated, {self.unchanged} unchanged, {self.errors} with errors."
        return (
            f"Preview: {self.new} new, {self.updates} to update, {self.unchanged} unchanged, {self.errors} with errors."
        )


class _Lookups:
    """Name → id maps read once per import (a handful of statements whatever the file size)."""

    def __init__(self, session: Session) -> None:
        self.funders: dict[str, int] = {}
        self.names: dict[str, dict[int, str]] = {"funder": {}, "topics": {}, "regions": {}}
        for oid, name, slug, kind in session.execute(
            select(m.Organisation.id, m.Organisation.name, m.Organisation.slug, m.Organisation.kind)
        ):
            # Funders win when another organisation has the same name.
            if kind == m.OrgKind.FUNDER or name.lower() not in self.funders:
                self.funders[name.lower()] = oid
            self.funders[slug.lower()] = oid
            self.names["funder"][oid] = name
        self.topics: dict[str, int] = {}
        for tid, name, slug in session.execute(select(m.Topic.id, m.Topic.name, m.Topic.slug)):
            self.topics[name.lower()] = tid
            self.topics[slug.lower()] = tid
            self.names["topics"][tid] = name
        self.regions: dict[str, int] = {}
        for rid, name, slug, code in session.execute(select(m.Region.id, m.Region.name, m.Region.slug, m.Region.code)):
            for key in (name, slug, code):
                self.regions[key.lower()] = rid
            self.names["regions"][rid] = name
        self.by_ref: dict[str, int] = {
            ref: cid
            for ref, cid in session.execute(
                select(m.FundingCall.external_ref, m.FundingCall.id).where(m.FundingCall.external_ref.is_not(None))
            )
        }
        self.by_title: dict[tuple[int, str], int] = {
            (fid, t): cid
            for cid, fid, t in session.execute(
                select(m.FundingCall.id, m.FundingCall.funder_id, m.FundingCall.title_normalised)
            )
        }

    def describe(self, field: str, value: Any) -> str:
        return iv.describe(self.names, field, value)

    def checks(self) -> fs.CallLookups:
        """What the services' rules read, from the maps above: no statement a row, in the check or the write.
        Live views: a call the import creates holds its reference for the rows after it, as in the database."""
        return fs.CallLookups(
            funder_ids=self.names["funder"].keys(),
            refs=self.by_ref,
            topic_ids=self.names["topics"].keys(),
            region_ids=self.names["regions"].keys(),
        )


def _parse_row(values: dict[str, str], lookups: _Lookups, result: RowResult) -> dict[str, Any]:
    """The row's non-blank cells as plain values (``crm.funding.import_values``); problems go to ``result``."""

    def err(column: str, reason: str) -> None:
        result.errors.append((column, reason))

    out: dict[str, Any] = {}
    for column in REQUIRED:
        if not values.get(column):
            err(column, "is required")
    for column in ("title", "url", "summary", "eligibility", "external_ref"):
        if values.get(column):
            out[column] = values[column]
    if values.get("funder"):
        out["funder"] = lookups.funders.get(values["funder"].lower())
        if out["funder"] is None:
            err("funder", f"no organisation called “{values['funder']}” in the directory; add it first")
    if values.get("deadlines"):
        try:
            out["deadlines"] = iv.parse_deadlines(values["deadlines"])
        except ValueError:
            err("deadlines", "use Label=2027-01-31 17:00 entries separated by ;")
    if values.get("opens"):
        try:
            out["opens"] = dt.date.fromisoformat(values["opens"]).isoformat()
        except ValueError:
            err("opens", "must be a date like 2026-12-01")
    for column in ("amount_min", "amount_max"):
        raw = values.get(column, "").replace(",", "").replace("£", "").strip()
        if raw:
            try:
                out[column] = int(raw)
            except ValueError:
                err(column, "must be a whole number of pounds")
    for column, table in (("topics", lookups.topics), ("regions", lookups.regions)):
        names = [t.strip() for t in values.get(column, "").split(";") if t.strip()]
        unknown = [n for n in names if n.lower() not in table]
        for name in unknown:
            err(column, f"unknown {column[:-1]} “{name}”")
        if names and not unknown:
            out[column] = sorted({table[n.lower()] for n in names})
    for column in iv.FLAGS:
        if values.get(column, "").strip():
            answer = csvimport.yes_no(values[column])
            if answer is None:
                err(column, "must be yes or no")
            else:
                out[column] = answer
    _parse_fit(values, out, err)
    status = values.get("status", "").lower()
    if status and status not in {s.value for s in m.CallStatus}:
        err("status", "must be draft, published or closed")
    elif status:
        out["status"] = status
    return out


def _parse_fit(values: dict[str, str], out: dict[str, Any], err: Callable[[str, str], None]) -> None:
    """The columns on whom a call suits: words or stored values; blank / "not stated" leave them out."""
    for column, read, expected in (
        ("funding_type", fit.funding_type_from_text, "core, project, capacity building, small grant, "
         "fellowship or training, in kind or not stated"),
        ("application_effort", fit.effort_from_text, "light, standard, heavy or not stated"),
    ):  # fmt: skip
        raw = values.get(column, "")
        try:
            value = read(raw)
        except ValueError:
            err(column, f"“{raw[:60]}” is not a choice: use {expected}")
            continue
        if value is not None:
            out[column] = value
    for column in fit.ANSWERS:
        raw = values.get(column, "").strip()
        if raw.lower() in fit.NOT_STATED_WORDS:
            continue
        answer = csvimport.yes_no(raw)
        if answer is None:
            err(column, "must be yes, no or not stated")
        else:
            out[column] = answer


def run_import(
    session: Session,
    text: str,
    *,
    apply: bool,
    actor: Principal | None = None,
    now: dt.datetime,
    replace: Collection[str] = (),
    filename: str = "",
    encoding: csvimport.Encoding | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check (and with ``apply`` write, as one import batch) the CSV ``text``; see the module docstring.
    ``progress(1)`` is called after each row."""
    report = ImportReport(applied=apply)
    report.read_as(encoding or csvimport.Encoding())
    if len(text.encode("utf-8")) > MAX_BYTES:
        report.file_errors.append("The file is larger than 5 MB; split it into smaller files.")
        return report
    reader = csvimport.CsvRows(io.StringIO(text), report)
    if not reader.read_header():
        return report
    header = reader.columns
    if not header:
        report.file_errors.append("The file is empty or has no header row.")
        return report
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown:
        report.file_errors.append("Unknown column(s): " + ", ".join(unknown) + ". Allowed: " + ", ".join(COLUMNS) + ".")
    if missing:
        report.file_errors.append("Missing column(s): " + ", ".join(missing) + ".")
    if report.file_errors:
        return report
    replace = frozenset(replace) & set(header) & set(iv.REPLACEABLE)
    batch_id = None
    if apply:
        batch_id = batches.start(
            session, "funding_calls", actor=actor, filename=filename, encoding=report.encoding.name, replaced=replace
        )
    rows = _Rows(session, _Lookups(session), apply=apply, actor=actor, now=now, replace=replace, batch_id=batch_id)
    for number, raw in reader.rows():
        if number - 1 > MAX_ROWS:
            report.file_errors.append(f"Only the first {MAX_ROWS} rows were read; split the file.")
            break
        values = {c: raw[i].strip() if i < len(raw) else "" for i, c in enumerate(header) if c}
        if unclosed := reader.unclosed_quote(raw):  # a quote that ran into later rows: none of them is read
            report.add(RowResult(row=number, errors=[("", unclosed)], action="error"))
        elif any(values.values()):
            report.add(rows.one(number, values))
        if progress:
            progress(1)
    if batch_id is not None:
        report.batch_id = batch_id
        batches.finish(
            session, batch_id, actor, created=report.new, updated=report.updates, unchanged=report.unchanged,
            errors=report.errors, problems=report.problems, summary=report.summary(), analyze=("funding_calls",),
        )  # fmt: skip
    return report


class _Rows:
    """Checks and (with ``apply``) writes one row at a time through ``crm.funding.services``; remembers the
    references and titles of earlier rows (in-file duplicates) and the calls it created (later rows update them)."""

    def __init__(
        self,
        session: Session,
        lookups: _Lookups,
        *,
        apply: bool,
        actor: Principal | None,
        now: dt.datetime,
        replace: frozenset[str],
        batch_id: int | None,
    ) -> None:
        self.session, self.lookups, self.apply, self.actor, self.now = session, lookups, apply, actor, now
        self.replace, self.batch_id = replace, batch_id
        self.checks = lookups.checks()
        self.seen_refs: dict[str, int] = {}
        self.seen_titles: dict[tuple[int, str], int] = {}

    def one(self, number: int, values: dict[str, str]) -> RowResult:
        result = RowResult(row=number, title=values.get("title", ""))
        try:
            incoming = _parse_row(values, self.lookups, result)
        except ValueError as exc:  # a value no check foresaw: this row is reported, the others go on
            result.errors.append(("", f"This row could not be read: {str(exc)[:200] or type(exc).__name__}."))
        if result.errors:
            result.action = "error"
            return result
        key = (incoming["funder"], fs.normalise_title(incoming["title"]))
        ref = incoming.get("external_ref")
        if ref and ref in self.seen_refs:
            result.errors.append(("external_ref", f"the same reference as row {self.seen_refs[ref]}"))
        elif not ref and key in self.seen_titles:
            result.errors.append(("title", f"the same funder and title as row {self.seen_titles[key]}"))
        if ref:
            self.seen_refs.setdefault(ref, number)
        self.seen_titles.setdefault(key, number)
        existing = self.lookups.by_ref.get(ref) if ref else None
        if existing is None:
            existing = self.lookups.by_title.get(key)
        if existing is None:
            planned = {**iv.EMPTY, **incoming}
        else:
            call = self.session.get(m.FundingCall, existing)
            assert call is not None
            current = iv.call_values(self.session, call)
            result.changes = plan_changes(call.title, iv.FIELDS, current, incoming, self.replace, self.lookups.describe)
            planned = {**current, **{c.field: c.new for c in result.changes if c.applied}}
        status = planned["status"]
        data = iv.to_input(planned)
        errors = fs.validate_call(
            self.session, data, is_new=existing is None, now=self.now, call_id=existing, lookups=self.checks
        )
        if existing is None and status == "closed" and data.deadlines:
            errors.pop("deadlines", None)  # a call that has already closed is a record, not a mistake
        for field, message in errors.items():
            result.errors.append((FIELD_TO_COLUMN.get(field, field), message))
        if result.errors:
            result.action = "error"
            return result
        if existing is None:
            result.action = "new"
        else:
            result.action = "update" if any(c.applied for c in result.changes) else "unchanged"
        result.call_id = existing
        if existing is not None:
            self._follow_reference(existing, result.changes)
        if self.apply and result.action != "unchanged":
            self._write(result, data, status, key)
        return result

    def _follow_reference(self, call_id: int, changes: list[Any]) -> None:
        """A row that gives a call a new reference moves the call in the reference map, in the check as in the write:
        a later row of the file with the old reference is then a new call (the check said it updates this one, and
        the write updated it, though it no longer had that reference), and one with the new reference clashes."""
        for change in changes:
            if change.applied and change.field == "external_ref":
                if change.old and self.lookups.by_ref.get(change.old) == call_id:
                    del self.lookups.by_ref[change.old]
                if change.new:
                    self.lookups.by_ref[change.new] = call_id

    def _write(self, result: RowResult, data: fs.CallInput, status: str, key: tuple[int, str]) -> None:
        session, actor, now = self.session, self.actor, self.now
        if result.call_id:
            call = session.get(m.FundingCall, result.call_id)
            assert call is not None
            fs.update_call(session, actor, call, data, now=now, source="CSV import", lookups=self.checks)
            if status != call.status.value:
                try:
                    fs.set_status(session, actor, call, m.CallStatus(status), now=now)
                except fs.CallError as exc:
                    result.errors.append(("status", exc.errors["status"]))
            fields = {c.field: [c.old, c.new] for c in result.changes if c.applied}
            if "status" in fields and call.status.value != status:
                del fields["status"]  # refused above: nothing to undo
            self._record("updated", call, fields)
        else:
            call = fs.create_call(
                session, actor, data, now=now, status=m.CallStatus(status), source="CSV import", lookups=self.checks
            )
            result.call_id = call.id
            self.lookups.by_title[key] = call.id
            if data.external_ref:
                self.lookups.by_ref[data.external_ref] = call.id
            self._record("created", call, {})

    def _record(self, action: str, call: m.FundingCall, fields: dict[str, Any]) -> None:
        if self.batch_id is not None:
            batches.add_changes(
                self.session,
                [{"batch_id": self.batch_id, "entity": "funding_call", "entity_id": call.id, "action": action,
                  "label": call.title, "fields": fields}],
            )  # fmt: skip


def template_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerow(
        [
            "EX-2027-01",
            "Community mental health research awards",
            "Northfield Trust",
            "https://funder.example.org/calls/community",
            "Funding for research co-produced with community groups.",
            "UK universities with a VCSE partner.",
            "2026-12-01",
            "Outline=2027-01-31 17:00; Full application=2027-04-30 12:00",
            "50000",
            "250000",
            "Peer support; Carers",
            "UK-wide",
            "yes",
            "yes",
            "no",
            "no",
            "published",
            "project",
            "standard",
            "yes",
            "yes",
            "no",
            "not stated",
        ]
    )
    return out.getvalue()
