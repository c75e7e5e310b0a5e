"""Partnership rules: both sides, dates, stage moves with reasons, activity, health thresholds, weekly nudges."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm import models as m
from crm.listing import ListParams
from crm.mailing.render import EmailRenderer
from crm.partnerships import changes, nudges, queries, rules
from tests import factories
from tests.funding.helpers import NOW

DAY = dt.timedelta(days=1)


def sides(db):
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    charity = factories.organisation(db, "Aster Voices")
    return [
        rules.MemberInput(m.Side.ACADEMIC, uni.id, role="Lead"),
        rules.MemberInput(m.Side.VCSE, charity.id, role="Co-lead"),
    ]


def make(db, title="Peer support study", *, now=NOW, **kwargs):
    members = kwargs.pop("members", None) or sides(db)
    return changes.create_partnership(db, None, rules.PartnershipInput(title=title, members=members, **kwargs), now=now)


def test_both_sides_are_required(db):
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    charity = factories.organisation(db, "Aster Voices")
    with pytest.raises(rules.PartnershipError) as err:
        changes.create_partnership(
            db, None, rules.PartnershipInput("X", members=[rules.MemberInput(m.Side.ACADEMIC, uni.id)]), now=NOW
        )
    assert err.value.errors["members"] == "Add at least one member on the VCSE side."
    with pytest.raises(rules.PartnershipError) as err:
        changes.create_partnership(
            db, None, rules.PartnershipInput("X", members=[rules.MemberInput(m.Side.VCSE, charity.id)]), now=NOW
        )
    assert err.value.errors["members"] == "Add at least one member on the academic side."


def test_end_before_start_is_refused(db):
    with pytest.raises(rules.PartnershipError) as err:
        make(db, start_date=dt.date(2027, 3, 1), end_date=dt.date(2027, 1, 1))
    assert "end_date" in err.value.errors


def test_stage_moves_need_a_reason_when_unusual_and_record_it(db):
    p = make(db)
    changes.move_stage(db, None, p, m.PartnershipStage.EXPLORING, now=NOW)
    for stage in (
        m.PartnershipStage.PROPOSAL,
        m.PartnershipStage.FUNDED,
        m.PartnershipStage.ACTIVE,
        m.PartnershipStage.COMPLETED,
    ):
        changes.move_stage(db, None, p, stage, now=NOW)
    with pytest.raises(rules.PartnershipError) as err:
        changes.move_stage(db, None, p, m.PartnershipStage.IDEA, now=NOW)
    assert "reason" in err.value.errors and p.stage == m.PartnershipStage.COMPLETED
    changes.move_stage(db, None, p, m.PartnershipStage.IDEA, reason="Follow-on idea from the final report", now=NOW)
    assert p.stage == m.PartnershipStage.IDEA
    db.flush()
    last = db.scalars(
        select(m.AuditEntry).where(m.AuditEntry.entity == "partnership").order_by(m.AuditEntry.id.desc())
    ).first()
    assert "Follow-on idea from the final report" in last.summary and last.changes == {"stage": ["completed", "idea"]}


def test_activity_updates_last_activity_and_records_who(db, settings):
    p = make(db)
    changes.add_activity(
        db, None, p, kind=m.ActivityKind.MEETING, occurred_at=NOW - 3 * DAY, summary="Kick-off", now=NOW
    )
    changes.add_activity(
        db, None, p, kind=m.ActivityKind.NOTE, occurred_at=NOW - 10 * DAY, summary="Older note", now=NOW
    )
    assert p.last_activity_at == NOW - 3 * DAY  # the latest, not the last recorded
    with pytest.raises(rules.PartnershipError):
        changes.add_activity(
            db, None, p, kind=m.ActivityKind.CALL, occurred_at=NOW + 5 * DAY, summary="Future", now=NOW
        )
    latest = queries.activities(db, p.id)[0]
    changes.delete_activity(db, None, p, latest, now=NOW)
    assert p.last_activity_at == NOW - 10 * DAY


@pytest.mark.parametrize(
    ("days", "health"),
    [(0, "active"), (29, "active"), (30, "quiet"), (89, "quiet"), (90, "dormant"), (400, "dormant")],
)
def test_health_thresholds_from_settings(db, settings, days, health):
    assert settings.partnership_quiet_days == 30 and settings.partnership_dormant_days == 90
    p = make(db, now=NOW - 500 * DAY)
    changes.add_activity(db, None, p, kind=m.ActivityKind.CALL, occurred_at=NOW - days * DAY, summary="Call", now=NOW)
    assert rules.health_of(p.last_activity_at, p.created_at, NOW, settings).value == health
    db.flush()
    page = queries.list_partnerships(db, ListParams(filters={"health": health}), now=NOW, settings=settings, actor=None)
    assert [r.id for r in page.items] == [p.id]  # the SQL filter agrees with the Python rule
    custom = settings.replace(partnership_quiet_days=7, partnership_dormant_days=14)
    expected = "active" if days < 7 else "quiet" if days < 14 else "dormant"
    assert rules.health_of(p.last_activity_at, p.created_at, NOW, custom).value == expected


def test_list_filters_and_one_statement_per_page(db, settings, count_queries):
    a = make(db, "Alpha", next_step="Send draft", next_step_due=dt.date(2026, 11, 1))
    b = make(db, "Beta", stage=m.PartnershipStage.ACTIVE)
    db.commit()

    def f(**kw):
        return [
            r.title
            for r in queries.list_partnerships(db, ListParams(filters=kw), now=NOW, settings=settings, actor=None).items
        ]

    assert f(overdue="1") == ["Alpha"]
    assert f(stage="active") == ["Beta"]
    member_org = db.scalar(
        select(m.PartnershipMember.organisation_id).where(m.PartnershipMember.partnership_id == a.id)
    )
    assert f(organisation=str(member_org)) == ["Alpha"]
    assert b.id
    with count_queries() as q:
        queries.list_partnerships(db, ListParams(page_size=50), now=NOW, settings=settings, actor=None)
    assert q.count == 1


def _outbox(db):
    return list(db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "partnership_nudge")))


def test_nudge_empty_sends_nothing(db, settings):
    factories.organisation(db, "Unused", m.OrgKind.ACADEMIC)
    db.add(m.User(email="fellow@example.org", role=m.Role.ADMIN, name="Fellow"))
    make(db, now=NOW - DAY)  # active
    db.flush()
    assert nudges.send_weekly_nudge(db, EmailRenderer(settings), settings, now=NOW) == 0
    assert _outbox(db) == []


def test_nudge_lists_turned_quiet_dormant_and_overdue_once_per_week(db, settings, count_queries):
    db.add_all(
        [
            m.User(email="fellow@example.org", role=m.Role.ADMIN, name="Fellow"),
            m.User(email="editor@example.org", role=m.Role.EDITOR, name="Editor"),
        ]
    )
    quiet = make(db, "Quiet one", now=NOW - 40 * DAY)
    dormant = make(db, "Dormant one", now=NOW - 100 * DAY)
    make(db, "Completed long ago", now=NOW - 300 * DAY, stage=m.PartnershipStage.COMPLETED)
    make(db, "Overdue step", now=NOW - DAY, next_step="Book the room", next_step_due=dt.date(2026, 11, 20))
    db.commit()
    renderer = EmailRenderer(settings)
    with count_queries() as q:
        assert nudges.send_weekly_nudge(db, renderer, settings, now=NOW) == 1
    assert q.count <= 8
    [mail] = _outbox(db)
    assert mail.recipient == "fellow@example.org" and mail.idempotency_key == "partnership-nudge:2026-W48:" + str(
        db.scalar(select(m.User.id).where(m.User.email == "fellow@example.org"))
    )
    assert "Quiet one" in mail.text_body and "Dormant one" in mail.text_body and "Book the room" in mail.text_body
    assert "Completed long ago" not in mail.text_body
    assert "Quiet one" in mail.html_body and "<script" not in mail.html_body
    # Same week again: nothing new queued (idempotent), and the quiet/dormant ones are not news any more.
    assert nudges.send_weekly_nudge(db, renderer, settings, now=NOW + DAY) == 0
    assert len(_outbox(db)) == 1
    # Next week: only the overdue step is still listed; the quiet one has since turned dormant.
    db.commit()
    next_week = NOW + 7 * DAY
    nudge = nudges.collect_nudges(db, now=next_week, settings=settings)
    assert [r.title for r in nudge.turned_quiet] == []
    assert [r.title for r in nudge.overdue] == ["Overdue step"]
    much_later = NOW + 60 * DAY
    assert [r.id for r in nudges.collect_nudges(db, now=much_later, settings=settings).turned_dormant] == [quiet.id]
    assert dormant.id not in [r.id for r in nudges.collect_nudges(db, now=much_later, settings=settings).turned_dormant]
