"""The admin call form: HTML form values ⇄ ``CallInput`` (deadline rows entered in Europe/London)."""

from __future__ import annotations

from typing import Any

from crm import models as m
from crm.funding import fit
from crm.funding import services as fs
from crm.timefmt import LONDON, local_input
from crm.validation import Form, rows_shown

MAX_DEADLINE_ROWS = 10
FLAGS = ("requires_vcse_partner", "vcse_can_be_co_lead", "lead_must_be_academic", "lead_must_be_vcse")


def parse_call_form(form: Form) -> fs.CallInput:
    title = form.line("title", required=True, max_length=300, label="Title")
    funder_id = form.int("funder_id", required=True, label="Funder")
    url = form.line("url", max_length=500, label="Web address")
    opens = form.date("opens_on", label="Opening date")
    deadlines: list[fs.DeadlineInput] = []
    for i in range(MAX_DEADLINE_ROWS):
        label = form.line(f"deadline_label_{i}", max_length=120, label="Deadline label")
        raw = form.str(f"deadline_at_{i}", max_length=40)
        if not raw:
            if label:
                form.add_error("deadlines", f"Give a date and time for the deadline “{label}”.")
            continue
        try:
            due = fs.parse_local_datetime(raw)
        except ValueError:
            form.add_error("deadlines", f"“{raw}” is not a date and time like 2027-01-31 17:00.")
            continue
        deadlines.append(fs.DeadlineInput(label=label or "Deadline", due_at=due))
    data = fs.CallInput(
        title=title,
        funder_id=funder_id,
        url=url,
        summary=form.str("summary", max_length=5000, label="Summary"),
        eligibility=form.str("eligibility", max_length=5000, label="Eligibility"),
        opens_at=fs.london_midnight(opens) if opens else None,
        deadlines=deadlines,
        amount_min=form.int("amount_min", minimum=0, label="Minimum amount"),
        amount_max=form.int("amount_max", minimum=0, label="Maximum amount"),
        topic_ids=form.ids("topic_ids"),
        region_ids=form.ids("region_ids"),
        external_ref=form.line("external_ref", max_length=200, label="External reference") or None,
        **{flag: form.bool(flag) for flag in FLAGS},
        funding_type=form.choice("funding_type", {t.value for t in m.FundingType}, label="type of funding") or None,
        application_effort=form.choice(
            "application_effort", {e.value for e in m.ApplicationEffort}, label="application effort"
        )
        or None,
        **{name: _answer(form, name) for name in fit.ANSWERS},
    )
    return data


def _answer(form: Form, name: str) -> bool | None:
    """A yes / no / not-stated select (blank = not stated)."""
    return fit.answer_from_form(form.choice(name, {"yes", "no"}, label=fit.ANSWER_LABELS[name]))


def form_values(call: m.FundingCall) -> dict[str, Any]:
    """The form's initial values for an existing call (loaded with deadlines, topics and regions)."""
    values: dict[str, Any] = {
        "title": call.title,
        "funder_id": str(call.funder_id),
        "url": call.url,
        "summary": call.summary,
        "eligibility": call.eligibility,
        "opens_on": call.opens_at.astimezone(LONDON).date().isoformat() if call.opens_at else "",
        "amount_min": "" if call.amount_min is None else str(call.amount_min),
        "amount_max": "" if call.amount_max is None else str(call.amount_max),
        "external_ref": call.external_ref or "",
        "topic_ids": [str(t.id) for t in call.topics],
        "region_ids": [str(r.id) for r in call.regions],
    }
    for flag in FLAGS:
        values[flag] = "1" if getattr(call, flag) else ""
    values["funding_type"] = call.funding_type.value if call.funding_type else ""
    values["application_effort"] = call.application_effort.value if call.application_effort else ""
    for name in fit.ANSWERS:
        values[name] = fit.answer_for_form(getattr(call, name))
    for i, d in enumerate(call.deadlines[:MAX_DEADLINE_ROWS]):
        values[f"deadline_label_{i}"] = d.label
        values[f"deadline_at_{i}"] = local_input(d.due_at)
    return values


def deadline_rows(data: dict[str, Any]) -> int:
    """How many deadline rows the form shows: the filled ones plus two blank, at least three."""
    return rows_shown(data, ("deadline_at", "deadline_label"), most=MAX_DEADLINE_ROWS, least=3)


def selected(data: dict[str, Any], name: str) -> set[str]:
    value = data.get(name) or []
    values = value if isinstance(value, list) else [value]
    return {str(v) for v in values}
