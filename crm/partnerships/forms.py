"""The partnership form: HTML values ⇄ ``PartnershipInput`` (member rows: side, organisation, contact, role)."""

from __future__ import annotations

from typing import Any

from crm import models as m
from crm.partnerships import rules
from crm.validation import Form, record_id

MAX_MEMBER_ROWS = 12
TEXTS = ("summary", "academic_brings", "academic_gets", "vcse_brings", "vcse_gets")


def _int(form: Form, name: str, field: str) -> int | None:
    raw = form.str(name, max_length=20)
    if not raw:
        return None
    value = record_id(raw)
    if value is None:
        form.add_error(field, "Choose from the list.")
    return value


def parse_form(form: Form, *, with_stage: bool) -> rules.PartnershipInput:
    members: list[rules.MemberInput] = []
    for i in range(MAX_MEMBER_ROWS):
        side = form.str(f"member_side_{i}", max_length=20)
        org_id = _int(form, f"member_org_{i}", "members")
        contact_id = _int(form, f"member_contact_{i}", "members")
        role = form.line(f"member_role_{i}", max_length=200, label="Role")
        if org_id is None and contact_id is None:
            if role:
                form.add_error("members", f"Member row {i + 1} has a role but no organisation or contact.")
            continue
        if side not in {s.value for s in m.Side}:
            form.add_error("members", f"Choose academic or VCSE for member row {i + 1}.")
            continue
        members.append(rules.MemberInput(m.Side(side), org_id, contact_id, role))
    stage = rules.Stage.IDEA
    if with_stage:
        # ``choice`` records "Choose a valid stage." and returns the unknown value as sent; it must not reach the
        # enum (a ValueError there was a 500 instead of the form again with its message).
        chosen = form.choice("stage", {s.value for s in rules.Stage}, label="Stage")
        stage = rules.Stage(chosen) if chosen in rules.Stage._value2member_map_ else rules.Stage.IDEA
    topic_ids = []
    for value in form.getlist("topic_ids"):
        if (topic_id := record_id(value)) is not None:
            topic_ids.append(topic_id)
        else:
            form.add_error("topic_ids", "Choose topics from the list.")
    return rules.PartnershipInput(
        title=form.line("title", required=True, max_length=300, label="Title"),
        stage=stage,
        funding_call_id=_int(form, "funding_call_id", "funding_call_id"),
        start_date=form.date("start_date", label="Start date"),
        end_date=form.date("end_date", label="End date"),
        next_step=form.line("next_step", max_length=500, label="Next step"),
        next_step_due=form.date("next_step_due", label="Next step due date"),
        members=members,
        topic_ids=topic_ids,
        **{name: form.str(name, max_length=5000) for name in TEXTS},
    )


def form_values(p: m.Partnership) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": p.title,
        "stage": p.stage.value,
        "funding_call_id": "" if p.funding_call_id is None else str(p.funding_call_id),
        "start_date": p.start_date.isoformat() if p.start_date else "",
        "end_date": p.end_date.isoformat() if p.end_date else "",
        "next_step": p.next_step,
        "next_step_due": p.next_step_due.isoformat() if p.next_step_due else "",
        "topic_ids": [str(t.id) for t in p.topics],
        **{name: getattr(p, name) for name in TEXTS},
    }
    for i, mem in enumerate(sorted(p.members, key=lambda x: (x.side.value, x.id))[:MAX_MEMBER_ROWS]):
        values[f"member_side_{i}"] = mem.side.value
        values[f"member_org_{i}"] = "" if mem.organisation_id is None else str(mem.organisation_id)
        values[f"member_contact_{i}"] = "" if mem.contact_id is None else str(mem.contact_id)
        values[f"member_role_{i}"] = mem.role
    return values


def member_rows(data: dict[str, Any]) -> int:
    filled = max(
        (i + 1 for i in range(MAX_MEMBER_ROWS) if data.get(f"member_org_{i}") or data.get(f"member_contact_{i}")),
        default=0,
    )
    return min(MAX_MEMBER_ROWS, max(4, filled + 2))


def default_side(i: int, data: dict[str, Any]) -> str:
    """Blank rows alternate academic / VCSE so the form invites both sides."""
    return str(data.get(f"member_side_{i}") or ("academic" if i % 2 == 0 else "vcse"))
