"""A funding call as its CSV import sees it: one plain value per column, so a file row and a stored call compare
field by field (old → new), a batch stores what it changed, and an undo can put the old values back through the
same rules as the form (``crm.funding.services``).

Values: text as text; ``funder`` the organisation id; ``opens`` an ISO date (UK); ``deadlines`` a list of
``Label=2027-01-31 17:00`` (UK time, ordered by time, the CSV's own syntax); amounts whole pounds; ``topics`` and
``regions`` sorted ids; flags booleans; ``status`` its value; ``funding_type`` and ``application_effort`` their
stored values and the yes/no answers on whom a call suits booleans, each None when not stated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.csvimport import Field, show
from crm.funding import fit
from crm.funding import services as fs
from crm.timefmt import LONDON

FLAGS = ("requires_vcse_partner", "vcse_can_be_co_lead", "lead_must_be_academic", "lead_must_be_vcse")
FIELDS = (
    Field("external_ref", "external_ref", "External reference"),
    Field("title", "title", "Title"),
    Field("funder", "funder", "Funder"),
    Field("url", "url", "Web address"),
    Field("summary", "summary", "Summary"),
    Field("eligibility", "eligibility", "Eligibility"),
    Field("opens", "opens", "Opens"),
    Field("deadlines", "deadlines", "Deadlines"),
    Field("amount_min", "amount_min", "Minimum amount"),
    Field("amount_max", "amount_max", "Maximum amount"),
    Field("topics", "topics", "Topics"),
    Field("regions", "regions", "Regions"),
    Field("requires_vcse_partner", "requires_vcse_partner", "Needs a VCSE partner"),
    Field("vcse_can_be_co_lead", "vcse_can_be_co_lead", "A VCSE may co-lead"),
    Field("lead_must_be_academic", "lead_must_be_academic", "The lead must be academic"),
    Field("lead_must_be_vcse", "lead_must_be_vcse", "The lead must be a VCSE"),
    Field("status", "status", "Status"),
    *(Field(name, name, label) for name, label in fit.FIELD_LABELS.items()),
)
LABELS = {f.name: f.label for f in FIELDS}
REPLACEABLE = {
    "external_ref": "external references",
    "title": "titles",
    "funder": "funders",
    "url": "web addresses",
    "summary": "summaries",
    "eligibility": "eligibility texts",
    "opens": "opening dates",
    "deadlines": "deadlines",
    "amount_min": "minimum amounts",
    "amount_max": "maximum amounts",
    "topics": "topics",
    "regions": "regions",
    "requires_vcse_partner": "'needs a VCSE partner' answers",
    "vcse_can_be_co_lead": "'a VCSE may co-lead' answers",
    "lead_must_be_academic": "'the lead must be academic' answers",
    "lead_must_be_vcse": "'the lead must be a VCSE' answers",
    "status": "statuses",
    "funding_type": "types of funding",
    "application_effort": "application efforts",
    "open_to_unregistered": "'open to unregistered groups' answers",
    "open_to_user_led": "'open to user-led groups' answers",
    "match_funding_required": "'match funding required' answers",
    "lived_experience_payment": "'pays for lived-experience involvement' answers",
}
EMPTY: dict[str, Any] = {
    "external_ref": None, "title": "", "funder": None, "url": "", "summary": "", "eligibility": "", "opens": None,
    "deadlines": [], "amount_min": None, "amount_max": None, "topics": [], "regions": [],
    **dict.fromkeys(FLAGS, False), "status": m.CallStatus.DRAFT.value, **dict.fromkeys(fit.FIT_FIELDS),
}  # fmt: skip


def deadline_entry(label: str, due: dt.datetime) -> str:
    return f"{label}={due.astimezone(LONDON):%Y-%m-%d %H:%M}"


def parse_deadlines(raw: str) -> list[str]:
    """``Outline=2027-01-31 17:00; Full=2027-04-30`` as entries ordered by time; ValueError when a date is bad."""
    parsed = []
    for part in [p.strip() for p in raw.split(";") if p.strip()]:
        label, sep, when = part.rpartition("=")
        if not sep:
            label, when = "Deadline", part
        parsed.append((fs.parse_local_datetime(when), label.strip() or "Deadline"))
    return [deadline_entry(label, due) for due, label in sorted(parsed)]


def call_values(session: Session, call: m.FundingCall) -> dict[str, Any]:
    """A stored call in the import's plain values (three statements)."""
    deadlines = [
        deadline_entry(label, due)
        for label, due in session.execute(
            select(m.FundingCallDeadline.label, m.FundingCallDeadline.due_at)
            .where(m.FundingCallDeadline.call_id == call.id)
            .order_by(m.FundingCallDeadline.due_at, m.FundingCallDeadline.id)
        )
    ]
    topics = session.scalars(select(m.funding_call_topics.c.topic_id).where(m.funding_call_topics.c.call_id == call.id))
    regions = session.scalars(
        select(m.funding_call_regions.c.region_id).where(m.funding_call_regions.c.call_id == call.id)
    )
    return {
        "external_ref": call.external_ref,
        "title": call.title,
        "funder": call.funder_id,
        "url": call.url,
        "summary": call.summary,
        "eligibility": call.eligibility,
        "opens": call.opens_at.astimezone(LONDON).date().isoformat() if call.opens_at else None,
        "deadlines": deadlines,
        "amount_min": call.amount_min,
        "amount_max": call.amount_max,
        "topics": sorted(topics),
        "regions": sorted(regions),
        **{flag: bool(getattr(call, flag)) for flag in FLAGS},
        "status": call.status.value,
        "funding_type": call.funding_type.value if call.funding_type else None,
        "application_effort": call.application_effort.value if call.application_effort else None,
        **{name: getattr(call, name) for name in fit.ANSWERS},
    }


def to_input(values: Mapping[str, Any]) -> fs.CallInput:
    """The service's input from plain values (``EMPTY`` fills what is missing)."""
    v = {**EMPTY, **values}
    deadlines = []
    for entry in v["deadlines"]:
        label, _, when = entry.rpartition("=")
        deadlines.append(fs.DeadlineInput(label=label, due_at=fs.parse_local_datetime(when)))
    return fs.CallInput(
        title=v["title"],
        funder_id=v["funder"],
        url=v["url"] or "",
        summary=v["summary"] or "",
        eligibility=v["eligibility"] or "",
        opens_at=fs.london_midnight(dt.date.fromisoformat(v["opens"])) if v["opens"] else None,
        deadlines=deadlines,
        amount_min=v["amount_min"],
        amount_max=v["amount_max"],
        topic_ids=list(v["topics"]),
        region_ids=list(v["regions"]),
        external_ref=v["external_ref"] or None,
        **{flag: bool(v[flag]) for flag in FLAGS},
        funding_type=v["funding_type"],
        application_effort=v["application_effort"],
        **{name: v[name] for name in fit.ANSWERS},
    )


def describe(names: Mapping[str, Mapping[int, str]], field: str, value: Any) -> str:
    """A value as the preview shows it: the funder, topics and regions by name, amounts in pounds."""
    if field in names and value not in (None, []):
        table = names[field]
        return show([table.get(v, f"#{v}") for v in value] if isinstance(value, list) else table.get(value, value))
    if field.startswith("amount_") and isinstance(value, int):
        return f"£{value:,}"
    if field == "funding_type" and value:
        return fit.type_words(value)
    if field == "application_effort" and value:
        return fit.effort_words(value)
    return show(value)


def restore_call(
    session: Session,
    actor: Principal | None,
    call_id: int,
    fields: Mapping[str, list[Any]],
    *,
    now: dt.datetime,
    source: str,
) -> list[str] | None:
    """Put back the fields an import changed in a call while they still hold what it wrote, through the services
    (validated and audited like a form edit). Returns what was left and why; None when the call is gone."""
    call = session.get(m.FundingCall, call_id)
    if call is None:
        return None
    current = call_values(session, call)
    merged, left, status = dict(current), [], None
    for field, (old, new) in fields.items():
        if current.get(field) != new:
            left.append(f"{LABELS.get(field, field)} was changed after the import; left as it is.")
        elif field == "status":
            status = old
        else:
            merged[field] = old
    if merged != current:
        try:
            fs.update_call(session, actor, call, to_input(merged), now=now, source=source)
        except fs.CallError as exc:
            return [*left, "could not be put back: " + "; ".join(exc.errors.values())]
    if status is not None:
        try:
            fs.set_status(session, actor, call, m.CallStatus(status), now=now)
        except fs.CallError as exc:
            left.append(f"Status could not go back to {status}: {exc.errors.get('status', exc)}")
    return left
