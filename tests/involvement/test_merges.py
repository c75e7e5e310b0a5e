"""Merging two organisations carries their involvement over; a consultation request sent to both leaves one
recipient row, and never loses a group's answer."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm import models as m
from crm.directory import merge, merge_undo
from crm.directory.errors import DirectoryError
from crm.extensions import Extensions
from crm.involvement import merges
from tests import factories
from tests.involvement import records_builders as b

HOOKED = Extensions(merge_organisations=[merges.merge_organisations])
WHEN = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def _pair(db) -> tuple[m.Organisation, m.Organisation]:
    return factories.organisation(db, "Hearing Voices Leeds"), factories.organisation(db, "Hearing Voices Group Leeds")


def _recipients(db, request_id: int) -> list[m.ConsultationRecipient]:
    db.expire_all()
    return list(db.scalars(select(m.ConsultationRecipient).where(m.ConsultationRecipient.request_id == request_id)))


def test_opportunities_requests_and_records_follow_the_kept_organisation(db) -> None:
    keep, drop = _pair(db)
    opp = b.opportunity(db, organisation_id=drop.id)
    asked = b.consultation(db, organisation_id=drop.id)
    sent = b.consultation(db)
    b.recipient(db, sent, drop, answer=m.ConsultationAnswer.YES)
    record = b.record(db, organisation_id=drop.id)

    merge.merge_organisations(db, HOOKED, None, keep.id, drop.id)
    db.expire_all()
    assert db.get(m.InvolvementOpportunity, opp.id).organisation_id == keep.id
    assert db.get(m.ConsultationRequest, asked.id).organisation_id == keep.id
    assert db.get(m.InvolvementRecord, record.id).organisation_id == keep.id
    [row] = _recipients(db, sent.id)
    assert row.organisation_id == keep.id and row.answer == m.ConsultationAnswer.YES
    assert db.get(m.Organisation, drop.id) is None


def test_without_the_hook_a_request_sent_to_both_stops_the_merge(db) -> None:
    keep, drop = _pair(db)
    sent = b.consultation(db)
    b.recipient(db, sent, keep)
    b.recipient(db, sent, drop)
    with pytest.raises(DirectoryError, match="consultation recipients"):
        merge.merge_organisations(db, Extensions(), None, keep.id, drop.id)


def test_sent_to_both_and_neither_answered_keeps_one_row_nudged_once(db) -> None:
    keep, drop = _pair(db)
    sent = b.consultation(db)
    kept = b.recipient(db, sent, keep)
    other = b.recipient(db, sent, drop, nudged_at=WHEN + dt.timedelta(days=7))
    kept.sent_at, other.sent_at = WHEN, WHEN - dt.timedelta(days=1)
    db.flush()

    merge.merge_organisations(db, HOOKED, None, keep.id, drop.id)
    [row] = _recipients(db, sent.id)
    assert (row.id, row.organisation_id, row.answer) == (kept.id, keep.id, m.ConsultationAnswer.NONE)
    assert row.sent_at == WHEN - dt.timedelta(days=1)  # the earlier sending
    assert row.nudged_at == WHEN + dt.timedelta(days=7)  # already nudged: the job will not nudge the group again
    entry = db.scalar(
        select(m.AuditEntry).where(m.AuditEntry.entity == "consultation", m.AuditEntry.entity_id == sent.id)
    )
    assert entry.summary.startswith("Hearing Voices Group Leeds merged into Hearing Voices Leeds")


def test_only_the_merged_record_answered_so_its_answer_is_kept(db) -> None:
    keep, drop = _pair(db)
    sent = b.consultation(db)
    b.recipient(db, sent, keep)
    answered = b.recipient(
        db, sent, drop, answer=m.ConsultationAnswer.QUESTIONS, answer_note="Who pays travel?", answered_by="Ana"
    )

    merge.merge_organisations(db, HOOKED, None, keep.id, drop.id)
    [row] = _recipients(db, sent.id)
    assert row.id == answered.id and row.organisation_id == keep.id
    assert (row.answer, row.answer_note, row.answered_by) == (m.ConsultationAnswer.QUESTIONS, "Who pays travel?", "Ana")


def test_both_answered_keeps_one_answer_and_writes_the_other_into_its_note(db) -> None:
    keep, drop = _pair(db)
    sent = b.consultation(db)
    b.recipient(db, sent, keep, answer=m.ConsultationAnswer.YES, answer_note="Happy to.", answered_by="Jo")
    b.recipient(
        db, sent, drop, answer=m.ConsultationAnswer.NO, answer_note="Too busy.", answered_by="Ana", answered_at=WHEN
    )

    merge.merge_organisations(db, HOOKED, None, keep.id, drop.id)
    [row] = _recipients(db, sent.id)
    assert row.answer == m.ConsultationAnswer.YES and row.answered_by == "Jo"
    assert row.answer_note == (
        "Happy to.\n\nAlso answered for Hearing Voices Group Leeds on 20 November 2026 by Ana: No, not this time."
        " Too busy."
    )


def test_undoing_the_merge_gives_the_answer_back_to_the_organisation_that_answered(db) -> None:
    keep, drop = _pair(db)
    sent = b.consultation(db)
    b.recipient(db, sent, keep)
    answered = b.recipient(db, sent, drop, answer=m.ConsultationAnswer.YES)
    merge.merge_organisations(db, HOOKED, None, keep.id, drop.id)
    record = db.scalar(select(m.RecordMerge).where(m.RecordMerge.keep_id == keep.id))
    merge_undo.undo_merge(db, None, record.id)
    [row] = _recipients(db, sent.id)
    assert row.id == answered.id and row.organisation_id == drop.id and row.answer == m.ConsultationAnswer.YES
