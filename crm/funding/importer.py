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
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.funding import services as fs
from crm.web.auth import Principal

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
TRUE = {"yes", "y", "true", "1"}
FALSE = {"no", "n", "false", "0", ""}
MAX_ROWS = 5000
MAX_BYTES = 5_000_000
# Service field names → the CSV column to blame.
FIELD_TO_COLUMN = {
    "funder_id": "funder",
    "opens_at": "opens",
    "topic_ids": "topics",
    "region_ids": "regions",
}


@dataclasses.dataclass(slots=True)
class RowResult:
    row: int  # 2 = the first data row (the header is row 1), as spreadsheets number them
    title: str
    action: str = ""  # "new", "update", "error"
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    call_id: int | None = None


@dataclasses.dataclass(slots=True)
class ImportReport:
    rows: list[RowResult] = dataclasses.field(default_factory=list)
    file_errors: list[str] = dataclasses.field(default_factory=list)
    applied: bool = False

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


def decode(raw: bytes) -> str:
    """UTF-8 (with or without a BOM, as Excel writes it), falling back to Windows-1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


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
        raw = values.get(column, "").lower()
        if raw in TRUE:
            flags[column] = True
        elif raw in FALSE:
            flags[column] = False
        else:
            err(column, "must be yes or no")
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
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
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
    reader.fieldnames = header
    lookups = _Lookups(session)
    seen_refs: dict[str, int] = {}
    seen_titles: dict[tuple[int, str], int] = {}
    for index, raw_row in enumerate(reader, start=2):
        if index - 1 > MAX_ROWS:
            report.file_errors.append(f"Only the first {MAX_ROWS} rows were read; split the file.")
            break
        values = {k: (v or "").strip() for k, v in raw_row.items() if k}
        if not any(values.values()):
            continue
        result = RowResult(row=index, title=values.get("title", ""))
        report.rows.append(result)
        data, status = _parse_row(values, lookups, result)
        if data is None:
            result.action = "error"
            continue
        key = (data.funder_id or 0, fs.normalise_title(data.title))
        if data.external_ref and data.external_ref in seen_refs:
            result.errors.append(("external_ref", f"the same reference as row {seen_refs[data.external_ref]}"))
        elif not data.external_ref and key in seen_titles:
            result.errors.append(("title", f"the same funder and title as row {seen_titles[key]}"))
        if data.external_ref:
            seen_refs.setdefault(data.external_ref, index)
        seen_titles.setdefault(key, index)
        existing = lookups.by_ref.get(data.external_ref) if data.external_ref else None
        if existing is None:
            existing = lookups.by_title.get(key)
        errors = fs.validate_call(session, data, is_new=existing is None, now=now, call_id=existing)
        if existing is None and status == "closed" and data.deadlines:
            errors.pop("deadlines", None)  # a call that has already closed is a record, not a mistake
        for field, message in errors.items():
            result.errors.append((FIELD_TO_COLUMN.get(field, field), message))
        if result.errors:
            result.action = "error"
            continue
        result.action = "update" if existing else "new"
        result.call_id = existing
        if apply:
            if existing:
                call = session.get(m.FundingCall, existing)
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
                lookups.by_title[key] = call.id
                if data.external_ref:
                    lookups.by_ref[data.external_ref] = call.id
    return report


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


def count_calls(session: Session) -> int:
    return session.scalar(select(func.count(m.FundingCall.id))) or 0


def summary_line(report: ImportReport) -> str:
    verb = "Imported" if report.applied else "Preview"
    return f"{verb}: {report.new} new, {report.updates} to update, {report.errors} with errors."


def as_dict(report: ImportReport) -> dict[str, Any]:
    return {
        "new": report.new,
        "updates": report.updates,
        "errors": report.errors,
        "rows": [dataclasses.asdict(r) for r in report.rows],
        "file_errors": report.file_errors,
    }
