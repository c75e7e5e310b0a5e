"""CSV import of funding calls with a preview: the same behaviour as the directory's import.

``run_import(session, text, apply=False)`` checks every row and says per row "new", "will update" (matched
by ``external_ref``, else by funder + normalised title) or the errors (column and reason); nothing is
written. ``apply=True`` writes the rows without errors (callers only allow it when the preview had none or the
person chose to skip bad rows). Every write goes through ``crm.funding.services`` so the rules and the audit
trail are the same as for the form.

Columns (header row required; unknown columns are refused so a typo does not silently drop data):
``external_ref, title, funder, url, summary, eligibility, opens, deadlines, amount_min, amount_max, topics,
regions, requires_vcse_partner, vcse_can_be_co_lead, lead_must_be_academic, lead_must_be_vcse, status``.

* ``funder``: the funder's name or slug in the directory.
* ``deadlines``: ``Label=2027-01-31 17:00`` entries separated by ``;`` (UK time; a bare date means 23:59), or a
  single date/time.
* ``topics`` / ``regions``: names, slugs (or region codes) separated by ``;``.
* flags: yes/no. ``status``: draft (default), published or closed.

Reading (header names as keys, row numbers as spreadsheets count them), the report and yes/no values come from
``crm.csvimport``, shared with the directory's import.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import sys
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import csvimport
from crm import models as m
from crm.accounts.principal import Principal
from crm.funding import services as fs

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
)
REQUIRED = ("title", "funder", "deadlines")
FLAGS = ("requires_vcse_partner", "vcse_can_be_co_lead", "lead_must_be_academic", "lead_must_be_vcse")
MAX_ROWS = 5000
MAX_BYTES = 5_000_000
decode = csvimport.decode  # an upload's text: UTF-8 with or without a BOM, else Windows-1252
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
    action: str = ""  # "new", "update", "error"
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
    def errors(self) -> int:
        return sum(r.action == "error" for r in self.rows)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.errors

    def summary(self) -> str:
        verb = "Imported" if self.applied else "Preview"
        return f"{verb}: {self.new} new, {self.updates} to update, {self.errors} with errors."


class _Lookups:
    """Name → id maps read once per import (a handful of statements whatever the file size)."""

    def __init__(self, session: Session) -> None:
        self.funders: dict[str, int] = {}
        for oid, name, slug, kind in session.execute(
            select(m.Organisation.id, m.Organisation.name, m.Organisation.slug, m.Organisation.kind)
        ):
            # Funders win when another organisation has the same name.
            if kind == m.OrgKind.FUNDER or name.lower() not in self.funders:
                self.funders[name.lower()] = oid
            self.funders[slug.lower()] = oid
        self.topics: dict[str, int] = {}
        for tid, name, slug in session.execute(select(m.Topic.id, m.Topic.name, m.Topic.slug)):
            self.topics[name.lower()] = tid
            self.topics[slug.lower()] = tid
        self.regions: dict[str, int] = {}
        for rid, name, slug, code in session.execute(select(m.Region.id, m.Region.name, m.Region.slug, m.Region.code)):
            for key in (name, slug, code):
                self.regions[key.lower()] = rid
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


def _parse_deadlines(raw: str) -> list[fs.DeadlineInput]:
    out: list[fs.DeadlineInput] = []
    for part in [p.strip() for p in raw.split(";") if p.strip()]:
        label, sep, when = part.rpartition("=")
        if not sep:
            label, when = "Deadline", part
        out.append(fs.DeadlineInput(label=label.strip() or "Deadline", due_at=fs.parse_local_datetime(when)))
    return out


def _parse_row(values: dict[str, str], lookups: _Lookups, result: RowResult) -> tuple[fs.CallInput | None, str]:
    def err(column: str, reason: str) -> None:
        result.errors.append((column, reason))

    for column in REQUIRED:
        if not values.get(column):
            err(column, "is required")
    funder_id = lookups.funders.get(values.get("funder", "").lower()) if values.get("funder") else None
    if values.get("funder") and funder_id is None:
        err("funder", f"no organisation called “{values['funder']}” in the directory; add it first")
    deadlines: list[fs.DeadlineInput] = []
    if values.get("deadlines"):
        try:
            deadlines = _parse_deadlines(values["deadlines"])
        except ValueError:
            err("deadlines", "use Label=2027-01-31 17:00 entries separated by ;")
    opens_at = None
    if values.get("opens"):
        try:
            opens_at = fs.london_midnight(dt.date.fromisoformat(values["opens"]))
        except ValueError:
            err("opens", "must be a date like 2026-12-01")
    amounts: dict[str, int | None] = {}
    for column in ("amount_min", "amount_max"):
        raw = values.get(column, "").replace(",", "").replace("£", "").strip()
        amounts[column] = None
        if raw:
            try:
                amounts[column] = int(raw)
            except ValueError:
                err(column, "must be a whole number of pounds")
    topic_ids, region_ids = [], []
    for name in [t.strip() for t in values.get("topics", "").split(";") if t.strip()]:
        if name.lower() in lookups.topics:
            topic_ids.append(lookups.topics[name.lower()])
        else:
            err("topics", f"unknown topic “{name}”")
    for name in [t.strip() for t in values.get("regions", "").split(";") if t.strip()]:
        if name.lower() in lookups.regions:
            region_ids.append(lookups.regions[name.lower()])
        else:
            err("regions", f"unknown region “{name}”")
    flags: dict[str, bool] = {}
    for column in FLAGS:
        answer = csvimport.yes_no(values.get(column, ""))
        if answer is None:
            err(column, "must be yes or no")
        else:
            flags[column] = answer
    status = values.get("status", "").lower() or "draft"
    if status not in {s.value for s in m.CallStatus}:
        err("status", "must be draft, published or closed")
    if result.errors:
        return None, status
    return (
        fs.CallInput(
            title=values["title"],
            funder_id=funder_id,
            url=values.get("url", ""),
            summary=values.get("summary", ""),
            eligibility=values.get("eligibility", ""),
            opens_at=opens_at,
            deadlines=deadlines,
            amount_min=amounts["amount_min"],
            amount_max=amounts["amount_max"],
            topic_ids=topic_ids,
            region_ids=region_ids,
            external_ref=values.get("external_ref") or None,
            **flags,
        ),
        status,
    )


def run_import(
    session: Session, text: str, *, apply: bool, actor: Principal | None = None, now: dt.datetime
) -> ImportReport:
    report = ImportReport(applied=apply)
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
    rows = _Rows(session, _Lookups(session), apply=apply, actor=actor, now=now)
    for number, raw in reader.rows():
        if number - 1 > MAX_ROWS:
            report.file_errors.append(f"Only the first {MAX_ROWS} rows were read; split the file.")
            break
        values = {c: raw[i].strip() if i < len(raw) else "" for i, c in enumerate(header) if c}
        if any(values.values()):
            report.add(rows.one(number, values))
    return report


class _Rows:
    """Checks and (with ``apply``) writes one row at a time through ``crm.funding.services``; remembers the
    references and titles of earlier rows (in-file duplicates) and the calls it created (later rows update them)."""

    def __init__(
        self, session: Session, lookups: _Lookups, *, apply: bool, actor: Principal | None, now: dt.datetime
    ) -> None:
        self.session, self.lookups, self.apply, self.actor, self.now = session, lookups, apply, actor, now
        self.seen_refs: dict[str, int] = {}
        self.seen_titles: dict[tuple[int, str], int] = {}

    def one(self, number: int, values: dict[str, str]) -> RowResult:
        result = RowResult(row=number, title=values.get("title", ""))
        data, status = _parse_row(values, self.lookups, result)
        if data is None:
            result.action = "error"
            return result
        key = (data.funder_id or 0, fs.normalise_title(data.title))
        if data.external_ref and data.external_ref in self.seen_refs:
            result.errors.append(("external_ref", f"the same reference as row {self.seen_refs[data.external_ref]}"))
        elif not data.external_ref and key in self.seen_titles:
            result.errors.append(("title", f"the same funder and title as row {self.seen_titles[key]}"))
        if data.external_ref:
            self.seen_refs.setdefault(data.external_ref, number)
        self.seen_titles.setdefault(key, number)
        existing = self.lookups.by_ref.get(data.external_ref) if data.external_ref else None
        if existing is None:
            existing = self.lookups.by_title.get(key)
        errors = fs.validate_call(self.session, data, is_new=existing is None, now=self.now, call_id=existing)
        if existing is None and status == "closed" and data.deadlines:
            errors.pop("deadlines", None)  # a call that has already closed is a record, not a mistake
        for field, message in errors.items():
            result.errors.append((FIELD_TO_COLUMN.get(field, field), message))
        if result.errors:
            result.action = "error"
            return result
        result.action = "update" if existing else "new"
        result.call_id = existing
        if self.apply:
            self._write(result, data, status, key)
        return result

    def _write(self, result: RowResult, data: fs.CallInput, status: str, key: tuple[int, str]) -> None:
        session, actor, now = self.session, self.actor, self.now
        if result.call_id:
            call = session.get(m.FundingCall, result.call_id)
            assert call is not None
            fs.update_call(session, actor, call, data, now=now, source="CSV import")
            if status != call.status.value:
                try:
                    fs.set_status(session, actor, call, m.CallStatus(status), now=now)
                except fs.CallError as exc:
                    result.errors.append(("status", exc.errors["status"]))
        else:
            call = fs.create_call(session, actor, data, now=now, status=m.CallStatus(status), source="CSV import")
            result.call_id = call.id
            self.lookups.by_title[key] = call.id
            if data.external_ref:
                self.lookups.by_ref[data.external_ref] = call.id


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
        ]
    )
    return out.getvalue()
