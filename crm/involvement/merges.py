"""Merging two organisations: the one thing the directory's generic re-pointing cannot do for involvement.

``crm.directory.merge`` re-points every foreign key to the kept organisation itself (opportunities, consultation
requests, records of involvement). But a consultation request sent to both records of one group has a recipient
row for each, and ``(request_id, organisation_id)`` is unique: left alone, the directory refuses the merge. This
hook (``merge_organisations`` in the manifest, run before the re-pointing) leaves one row per request:

* the row with an answer stays (the group's answer is never lost); when only the merged record's row was answered,
  the kept record's unanswered row goes and the answered one is re-pointed (so undoing the merge moves it back);
* when both answered, the kept record's answer stays and the other is written into its note, word for word;
* when neither answered, the kept record's row stays; it takes the earlier sending and the nudge, so the group is
  not nudged twice. The link in the removed row's email stops working; the kept row's link still answers.

Each joined pair is written in the consultation request's history.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from crm import audit
from crm import models as m
from crm.timefmt import format_date

R = m.ConsultationRecipient
NONE = m.ConsultationAnswer.NONE


def merge_organisations(session: Session, keep_id: int, drop_id: int) -> None:
    """Resolve the consultation recipients both organisations have for one request (see the module docstring)."""
    kept = aliased(R)
    pairs = list(
        session.execute(
            select(R, kept)
            .join(kept, (kept.request_id == R.request_id) & (kept.organisation_id == keep_id))
            .where(R.organisation_id == drop_id)
            .order_by(R.request_id)
        )
    )
    if not pairs:
        return
    orgs = select(m.Organisation.id, m.Organisation.name).where(m.Organisation.id.in_((keep_id, drop_id)))
    names = {org_id: name for org_id, name in session.execute(orgs)}
    gone: list[m.ConsultationRecipient] = []
    for dropped, keep in pairs:
        if dropped.answer != NONE and keep.answer == NONE:
            outcome = f"the answer from {names[drop_id]} is kept"
            gone.append(keep)
        else:
            if dropped.answer != NONE:
                keep.answer_note = _joined_note(keep.answer_note, names[drop_id], dropped)
                outcome = f"both answered: the answer from {names[keep_id]} is kept, the other added to its note"
            else:
                outcome = f"the request to {names[keep_id]} is kept"
            keep.sent_at = min((t for t in (keep.sent_at, dropped.sent_at) if t is not None), default=None)
            keep.nudged_at = keep.nudged_at or dropped.nudged_at
            gone.append(dropped)
        audit.record(
            session,
            None,
            "groups merged",
            "consultation",
            keep.request_id,
            summary=f"{names[drop_id]} merged into {names[keep_id]}, which were both sent this request: {outcome}",
        )
    for row in gone:
        session.delete(row)
    session.flush()


def _joined_note(note: str, name: str, other: m.ConsultationRecipient) -> str:
    """The kept answer's note, then the other answer as it was given."""
    when = f" on {format_date(other.answered_at)}" if other.answered_at else ""
    by = f" by {other.answered_by}" if other.answered_by else ""
    said = f"Also answered for {name}{when}{by}: {m.ConsultationAnswer(other.answer).label}."
    if other.answer_note:
        said += f" {other.answer_note}"
    return f"{note}\n\n{said}" if note else said
