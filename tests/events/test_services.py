"""Capacity, the sector balance, the waitlist and offers, reminders, updates/cancellation, audience and sending."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.events import attendees, audience, lifecycle, rsvp, sending
from crm.events.audience import AudienceFilter
from tests import factories
from tests.events import factories as f
from tests.events.factories import NOW

S = m.InvitationStatus


def outbox(db, kind=None):
    q = select(m.OutboxMessage).order_by(m.OutboxMessage.id)
    if kind:
        q = q.where(m.OutboxMessage.kind == kind)
    return list(db.scalars(q))


def answer(db, app, e, inv, value, now=NOW, note=None):
    ev = rsvp.lock_event(db, e.id)
    return rsvp.apply_answer(db, f.mailer(app), ev, inv, value, note, now)


def test_full_event_waitlists_and_withdrawal_offers_the_place(app, db):
    e = f.event(db, app, capacity=2)
    people = [factories.contact(db) for _ in range(4)]
    invs = [f.invite(db, e, c) for c in people]
    assert answer(db, app, e, invs[0], "yes").status == S.YES
    assert answer(db, app, e, invs[1], "yes").status == S.YES
    third = answer(db, app, e, invs[2], "yes")
    assert third.status == S.WAITLISTED and third.position == 1 and "position 1" in third.message
    fourth = answer(db, app, e, invs[3], "yes")
    assert fourth.position == 2
    # Same answer again: idempotent.
    again = answer(db, app, e, invs[0], "yes")
    assert again.status == S.YES and not again.changed
    assert db.scalar(select(func.count()).select_from(m.RsvpResponse)) == 4
    # A withdrawal offers the place to the first on the waitlist.
    answer(db, app, e, invs[1], "no")
    offers = outbox(db, "event_offer")
    assert [o.recipient for o in offers] == [people[2].email]
    assert invs[2].offer_expires_at == NOW + dt.timedelta(hours=48)
    # The held place counts as taken: another yes cannot take it.
    assert answer(db, app, e, invs[1], "yes").status == S.WAITLISTED
    # Accepting by the offer link.
    token = offers[0].text_body.split("/waitlist-offer/")[1].split()[0]
    _, outcome = rsvp.accept_offer(db, f.mailer(app), token, NOW + dt.timedelta(hours=1))
    assert outcome.status == S.YES and invs[2].status == S.YES
    # Accepting twice is harmless.
    _, again = rsvp.accept_offer(db, f.mailer(app), token, NOW + dt.timedelta(hours=2))
    assert not again.changed


def test_offer_lapses_and_passes_on_and_stops_before_the_event(app, db):
    e = f.event(db, app, capacity=1, days=10)
    a, b, c = (f.invite(db, e, factories.contact(db)) for _ in range(3))
    answer(db, app, e, a, "yes")
    answer(db, app, e, b, "yes")
    answer(db, app, e, c, "yes")
    answer(db, app, e, a, "no")
    assert b.offer_expires_at is not None and c.offer_expires_at is None
    # Nothing lapses before the hold time.
    assert rsvp.expire_offers(db, f.mailer(app), NOW + dt.timedelta(hours=47)) == 0
    assert rsvp.expire_offers(db, f.mailer(app), NOW + dt.timedelta(hours=49)) == 1
    db.refresh(b)
    db.refresh(c)
    assert b.status == S.LAPSED and c.offer_expires_at is not None
    # An expired offer link is refused and changes nothing.
    offer_b = outbox(db, "event_offer")[0]
    token = offer_b.text_body.split("/waitlist-offer/")[1].split()[0]
    with pytest.raises(rsvp.RsvpProblem, match="no longer open"):
        rsvp.accept_offer(db, f.mailer(app), token, NOW + dt.timedelta(hours=50))
    assert b.status == S.LAPSED
    # Offers stop offers_stop_hours before the start.
    late = e.starts_at - dt.timedelta(hours=12)
    answer(db, app, e, c, "no", now=late - dt.timedelta(hours=1))
    d = f.invite(db, e, factories.contact(db))
    answer(db, app, e, d, "yes", now=late)
    assert d.status == S.YES  # c withdrew, the place is free


def test_sector_balance_keeps_places_for_vcse(app, db):
    e = f.event(db, app, capacity=5, vcse_min_percent=40)  # non-VCSE at most 3
    academics = [f.invite(db, e, factories.contact(db), is_vcse=False) for _ in range(4)]
    results = [answer(db, app, e, inv, "yes").status for inv in academics]
    assert results == [S.YES, S.YES, S.YES, S.WAITLISTED]
    vcse = [f.invite(db, e, factories.contact(db), is_vcse=True) for _ in range(3)]
    assert [answer(db, app, e, inv, "yes").status for inv in vcse] == [S.YES, S.YES, S.WAITLISTED]


def test_capacity_cannot_drop_below_yes_and_end_before_start(app, db):
    e = f.event(db, app, capacity=3)
    for _ in range(3):
        answer(db, app, e, f.invite(db, e, factories.contact(db)), "yes")
    with pytest.raises(lifecycle.EventProblem, match="3 people have already said yes"):
        lifecycle.update_event(db, f.mailer(app), None, e, {"capacity": 2}, NOW)
    db.refresh(e)
    assert e.capacity == 3


def test_update_time_bumps_sequence_and_notifies_all_but_decliners(app, db):
    e = f.event(db, app)
    yes, no, maybe = (f.invite(db, e, factories.contact(db)) for _ in range(3))
    answer(db, app, e, yes, "yes")
    answer(db, app, e, no, "no")
    answer(db, app, e, maybe, "maybe")
    lifecycle.update_event(db, f.mailer(app), None, e, {"description": "New words"}, NOW)
    assert e.sequence == 0 and outbox(db, "event_update") == []
    result = lifecycle.update_event(db, f.mailer(app), None, e, {"starts_at": e.starts_at + dt.timedelta(hours=1)}, NOW)
    assert e.sequence == 1 and result.notified == 2
    updates = outbox(db, "event_update")
    assert {u.idempotency_key for u in updates} == {
        f"invite:{e.id}:{yes.contact_id}:1",
        f"invite:{e.id}:{maybe.contact_id}:1",
    }
    cal = updates[0].attachments[0]
    assert cal["kind"] == "calendar" and cal["method"] == "REQUEST" and "SEQUENCE:1" in cal["content"]
    assert "PARTSTAT=NEEDS-ACTION" in cal["content"].replace("\r\n ", "")


def test_reminders_only_to_yes_and_cancelled_on_decline_or_cancel(app, db):
    e = f.event(db, app, days=10)
    yes1, yes2, maybe = (f.invite(db, e, factories.contact(db)) for _ in range(3))
    for inv, a in ((yes1, "yes"), (yes2, "yes"), (maybe, "maybe")):
        answer(db, app, e, inv, a)
    mailer = f.mailer(app)
    assert sending.queue_reminders(db, mailer, NOW) == 0  # 10 days before: nothing due
    week = e.starts_at - dt.timedelta(hours=167)
    assert sending.queue_reminders(db, mailer, week) == 2
    assert sending.queue_reminders(db, mailer, week + dt.timedelta(minutes=5)) == 0  # idempotent
    reminders = outbox(db, "event_reminder")
    assert all(r.attachments == [] for r in reminders) and all(
        "BEGIN:VCALENDAR" not in (r.text_body or "") for r in reminders
    )
    # yes2 declines before dispatch: their queued reminder is cancelled, not sent.
    answer(db, app, e, yes2, "no", now=week + dt.timedelta(minutes=10))
    statuses = {r.contact_id: r.status for r in outbox(db, "event_reminder")}
    assert statuses == {yes1.contact_id: m.OutboxStatus.QUEUED, yes2.contact_id: m.OutboxStatus.CANCELLED}
    # Cancelling the event cancels the rest and sends METHOD:CANCEL to all but decliners.
    sent = lifecycle.cancel_event(db, mailer, None, e, week + dt.timedelta(hours=1))
    assert sent == 2 and e.status == m.EventStatus.CANCELLED and e.sequence == 1
    assert {r.status for r in outbox(db, "event_reminder")} == {m.OutboxStatus.CANCELLED}
    cancel = outbox(db, "event_cancel")[0].attachments[0]
    assert cancel["method"] == "CANCEL" and "STATUS:CANCELLED" in cancel["content"]
    # And the reminder job does not queue reminders for a cancelled event.
    assert sending.queue_reminders(db, mailer, e.starts_at - dt.timedelta(hours=23)) == 0


def test_answers_refused_after_deadline_and_for_cancelled(app, db):
    e = f.event(db, app, rsvp_deadline=NOW + dt.timedelta(days=1))
    inv = f.invite(db, e, factories.contact(db))
    with pytest.raises(rsvp.RsvpProblem, match="deadline"):
        answer(db, app, e, inv, "yes", now=NOW + dt.timedelta(days=2))
    assert inv.status == S.INVITED


def test_audience_preview_counts_exclusions_and_names_the_people_in_two_statements(app, db, count_queries):
    e = f.event(db, app)
    vcse = factories.organisation(db, kind=m.OrgKind.VCSE)
    uni = factories.organisation(db, kind=m.OrgKind.ACADEMIC)
    people = [factories.contact(db, organisation=vcse) for _ in range(6)] + [
        factories.contact(db, organisation=uni) for _ in range(2)
    ]
    db.add(m.Suppression(address=people[0].email, reason="bounce"))
    db.add(m.Suppression(address=people[1].email, reason="unsubscribe"))
    db.add(m.Suppression(address=people[2].email, reason="unsubscribe", lifted_at=NOW))
    f.invite(db, e, people[3])
    factories.contact(db, organisation=vcse, email=None)
    db.commit()
    flt = AudienceFilter(org_kinds=("vcse",))
    with count_queries() as q:
        p = audience.preview(db, e, flt)
    assert q.count == 2  # the counts, then the names
    assert p.to_invite == 3 and p.excluded == {"bounced": 1, "unsubscribed": 1, "already-invited": 1, "no-email": 1}
    # The count can be expanded to the names: those to be invited first, then each exclusion with its reason.
    assert [x.reason for x in p.people][:3] == ["", "", ""] and len(p.people) == 7
    assert {x.email for x in p.people if not x.reason} == {people[2].email, people[4].email, people[5].email}
    bounced = next(x for x in p.people if x.email == people[0].email)
    assert bounced.outcome == "Not invited: bounced" and bounced.is_vcse
    assert p.sentence().startswith("3 people will be invited; 4 excluded:")
    # Sending invites exactly those 3, with the calendar attached; sending again reaches nobody new.
    result = audience.send(db, f.mailer(app), None, e, flt, NOW)
    assert result.invited == 3
    invites = outbox(db, "event_invitation")
    assert len(invites) == 3 and all(i.attachments[0]["method"] == "REQUEST" for i in invites)
    assert all(i.idempotency_key.startswith(f"invite:{e.id}:") and i.idempotency_key.endswith(":0") for i in invites)
    assert all("List-Unsubscribe" in i.headers for i in invites)
    assert audience.send(db, f.mailer(app), None, e, flt, NOW).invited == 0
    assert len(outbox(db, "event_invitation")) == 3
    # The academics: vcse flag snapshot.
    audience.send(db, f.mailer(app), None, e, AudienceFilter(org_kinds=("academic",)), NOW)
    flags = dict(db.execute(select(m.Invitation.contact_id, m.Invitation.is_vcse)).all())
    assert flags[people[6].id] is False and flags[people[4].id] is True
    # Zero audience: a clear sentence.
    empty = audience.preview(db, e, AudienceFilter(org_kinds=("funder",)))
    assert empty.matched == 0 and "Nobody matches" in empty.sentence()


def test_preview_statement_count_does_not_grow_with_audience(app, db, count_queries):
    e = f.event(db, app)
    o = factories.organisation(db)
    for _ in range(40):
        factories.contact(db, organisation=o)
    db.commit()
    with count_queries() as small:
        audience.preview(db, e, AudienceFilter(everyone=True))
    for _ in range(audience.PREVIEW_NAMES + 10):
        factories.contact(db, organisation=o)
    db.commit()
    with count_queries() as large:
        big = audience.preview(db, e, AudienceFilter(everyone=True))
    assert small.count == large.count == 2
    assert len(big.people) == audience.PREVIEW_NAMES and big.matched == audience.PREVIEW_NAMES + 50


def test_preview_excludes_subscribers_who_left_event_news(app, db):
    from crm.mailing import consent, subscriptions

    e = f.event(db, app)
    o = factories.organisation(db)
    stays, leaves, closed = (factories.contact(db, organisation=o) for _ in range(3))
    for c, mailings, status in (
        (stays, ["funding_digest"], m.SubscriptionStatus.ACTIVE),
        (leaves, ["funding_digest", "event_news"], m.SubscriptionStatus.ACTIVE),
        (closed, ["event_news"], m.SubscriptionStatus.UNSUBSCRIBED),
    ):
        db.add(m.Subscription(email=c.email, contact_id=c.id, mailings=mailings, status=status))
    db.flush()
    how = consent.How(mechanism="one-click header")
    subscriptions.unsubscribe(db, leaves.email, "event_news", how)
    db.flush()
    p = audience.preview(db, e, AudienceFilter(everyone=True))
    assert p.to_invite == 1 and p.excluded == {"unsubscribed": 2}


def test_answers_table_lists_yes_then_waitlist_then_others(app, db):
    e = f.event(db, app, capacity=1)
    invs = [f.invite(db, e, factories.contact(db)) for _ in range(4)]
    for inv, a in zip(invs, ["no", "yes", "yes", ""], strict=True):
        if a:
            answer(db, app, e, inv, a)
    statuses = [r.status for r in attendees.attendee_rows(db, e.id)]
    assert statuses == [S.YES, S.WAITLISTED, S.NO, S.INVITED]
    assert len(attendees.attendee_rows(db, e.id, limit=2)) == 2
