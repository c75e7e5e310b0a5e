"""The funding digest honours "only calls that suit small user-led groups" (Subscription.filters["funding_digest"],
issue 19) with the same statements per batch as without it. Both databases."""

from __future__ import annotations

from sqlalchemy import delete

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods
from tests import factories
from tests.digests import helpers as h

PERIOD = periods.parse(h.WEEK)
SUITS = {"funding_digest": {"suits_small_user_led": True}}


def _suitable(call: m.FundingCall) -> m.FundingCall:
    call.funding_type = m.FundingType.CORE
    call.application_effort = m.ApplicationEffort.LIGHT
    call.open_to_user_led = True
    return call


def _run(db, settings):
    db.commit()
    return engine.run_period(create_session_factory(db.get_bind()), settings, PERIOD, now=h.NOW)


def _calls_new(db) -> dict[int, list[int]]:
    out = {}
    for row in h.digest_rows(db):
        out[row.subscription_id] = next((ids for k, ids, _ in row.context["sections"] if k == "calls_new"), [])
    return out


def test_only_suitable_calls_reach_subscribers_who_asked(db, settings) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    suited = _suitable(h.call(db, f, "Core costs for peer groups", topic_ids=(ts[0].id,)))
    heavy = _suitable(h.call(db, f, "Core costs, heavy application", topic_ids=(ts[0].id,)))
    heavy.application_effort = m.ApplicationEffort.HEAVY
    silent = h.call(db, f, "Says nothing", topic_ids=(ts[0].id,))
    picky = h.subscription(db, topic_ids=(ts[0].id,), filters=SUITS)
    everyone = h.subscription(db, topic_ids=(ts[0].id,))
    cleared = h.subscription(db, topic_ids=(ts[0].id,), filters={"funding_digest": {}})
    stats = _run(db, settings)
    assert stats.sent == 3
    got = _calls_new(db)
    assert got[picky.id] == [suited.id]
    assert set(got[everyone.id]) == {suited.id, heavy.id, silent.id}
    assert set(got[cleared.id]) == {suited.id, heavy.id, silent.id}


def test_the_choice_costs_no_statement(db, settings, count_queries) -> None:
    ts = h.topics(db)
    f = factories.funder(db)
    for i in range(6):
        call = h.call(db, f, topic_ids=(ts[i % 3].id,))
        if i % 2:
            _suitable(call)
    subs = [h.subscription(db, topic_ids=(ts[i % 3].id,)) for i in range(20)]
    db.commit()
    counts = []
    for filters in ({}, SUITS):
        for sub in subs:
            sub.filters = dict(filters)
        db.execute(delete(m.DigestDelivery))
        db.execute(delete(m.OutboxMessage))
        db.commit()
        with count_queries() as q:
            stats = engine.run_period(create_session_factory(db.get_bind()), settings, PERIOD, now=h.NOW, batch_size=5)
        assert stats.sent == 20
        counts.append(q.count)
    assert counts[0] == counts[1]
