"""The involvement demo data shows every part of the domain (issue 18 must-have 4)."""

from __future__ import annotations

from sqlalchemy import func, select

from crm import models as m
from crm.demo import seed_demo
from crm.involvement import demo


def _count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_shows_every_part_of_involvement(db, settings):
    seed_demo(db, settings)
    db.commit()
    opps = list(db.scalars(select(m.InvolvementOpportunity)))
    published = [o for o in opps if o.status == m.OpportunityStatus.PUBLISHED]
    assert {o.kind for o in published} == set(m.InvolvementKind)  # every kind is open to browse
    assert [o.status for o in opps].count(m.OpportunityStatus.CLOSED) == 1
    waiting = [o for o in opps if o.status == m.OpportunityStatus.SUBMITTED]
    assert len(waiting) == 1 and waiting[0].public_posted
    assert any(o.paid for o in published) and any(not o.paid for o in published)
    assert any(o.online for o in published) and any(o.region_id for o in published)
    # Published ones count as alerted: starting the demo emails nobody.
    assert all(o.alerted_at is not None for o in published)
    assert _count(db, m.involvement_opportunity_topics) >= len(opps)

    members = list(db.scalars(select(m.NetworkMember)))
    assert 5 <= len(members) <= 8 and {x.status for x in members} == {m.NetworkMemberStatus.ACTIVE}
    assert all(x.consent_wording and x.confirmed_at for x in members)
    assert all(x.email.endswith("@example.org") for x in members)
    subs = db.scalars(select(m.Subscription).where(m.Subscription.id.in_([x.subscription_id for x in members])))
    assert all(s.wants(m.Mailing.INVOLVEMENT.value) for s in subs)
    assert {p for x in members for p in x.payment_preferences} == {p.value for p in m.PaymentPreference}

    statuses = set(db.scalars(select(m.InvolvementInterest.status)))
    assert statuses == set(m.InvolvementInterestStatus)
    assert _count(db, m.InvolvementInterest, m.InvolvementInterest.member_id.is_not(None)) >= 3
    assert _count(db, m.InvolvementInterest, m.InvolvementInterest.source == "invited") == 1

    sent = db.scalar(select(m.ConsultationRequest).where(m.ConsultationRequest.status == m.ConsultationStatus.SENT))
    recipients = list(db.scalars(select(m.ConsultationRecipient).where(m.ConsultationRecipient.request_id == sent.id)))
    assert 3 <= len(recipients) <= 4 and all(r.email for r in recipients)
    groups = db.scalars(select(m.Organisation).where(m.Organisation.id.in_([r.organisation_id for r in recipients])))
    assert {g.vcse_category for g in groups} == {m.VcseCategory.OPEN_CONSULTATIVE}
    answered = [r.answer for r in recipients if r.answer != m.ConsultationAnswer.NONE]
    assert len(answered) >= 3 and m.ConsultationAnswer.YES in answered
    closed = db.scalar(select(m.ConsultationRequest).where(m.ConsultationRequest.status == m.ConsultationStatus.CLOSED))
    assert closed.outcome and closed.what_changed

    records = list(db.scalars(select(m.InvolvementRecord)))
    assert len(records) >= 8
    assert {r.recognition for r in records} == set(m.Recognition)
    assert any(r.organisation_id for r in records) and any(r.member_id for r in records)
    assert any(r.partnership_id for r in records) and any(r.consultation_request_id for r in records)
    assert sum(r.minutes for r in records) > 0 and sum(r.payment_pence for r in records) > 0
    assert len({(r.took_part_on.year, (r.took_part_on.month - 1) // 3) for r in records}) >= 3  # quarters


def test_demo_runs_once(db, settings):
    seed_demo(db, settings)
    before = _count(db, m.InvolvementRecord), _count(db, m.NetworkMember), _count(db, m.InvolvementOpportunity)
    demo.seed(db, settings)
    assert (
        _count(db, m.InvolvementRecord),
        _count(db, m.NetworkMember),
        _count(db, m.InvolvementOpportunity),
    ) == before


def test_demo_on_an_empty_directory_makes_its_own_groups(db, settings):
    """Without the directory's demo the involvement demo still has open consultative groups to ask."""
    demo.seed(db, settings)
    db.flush()
    recipients = _count(db, m.ConsultationRecipient)
    assert recipients == 7  # four on the open request, three on the closed one
    assert _count(db, m.Organisation, m.Organisation.vcse_category == m.VcseCategory.OPEN_CONSULTATIVE) == 4
