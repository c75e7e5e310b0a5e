"""What the faster pipeline must not change (issue 15.5): funding-call matching by bit masks picks exactly what the
rule says, in order; claims share one catalogue of open items, yet an item closed between two claims drops out of
the second; a digest dispatched in claims of one is the same email as in one claim."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import update

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods, render
from crm.digests.sections.base import SubscriberView
from crm.digests.sections.funding import CallItem, Calls
from crm.domains import EXTENSIONS
from crm.mailing.dispatch import drain
from crm.mailing.transports.base import SendOutcome, SendResult
from tests import factories
from tests.digests import helpers as h

PERIOD = periods.parse(h.WEEK)
NOW = h.NOW


class Capture:
    name = "capture"

    def __init__(self) -> None:
        self.sent = []

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"x{e.outbox_id}") for e in emails]


def _matches(call: CallItem, sub: SubscriberView, only_suits: bool) -> bool:
    """The matching rule as crm/digests/sections/funding.py states it, one call at a time."""
    if sub.topics and call.topics and not (call.topics & sub.topics):
        return False
    if sub.topics and not call.topics:
        pass  # a call without topics matches any topic
    if sub.regions and call.regions and not call.uk_wide and not (call.regions & sub.regions):
        return False
    if sub.funders and call.funder_id not in sub.funders:
        return False
    if sub.only_vcse and not call.needs_vcse:
        return False
    return not (only_suits and not call.suits)


def test_call_matching_by_masks_is_the_rule_in_order() -> None:
    rng = random.Random(15)
    calls = {}
    for i in range(1, 201):
        calls[i] = CallItem(
            id=i,
            topics=frozenset(rng.sample(range(1, 30), rng.randint(0, 3))),
            regions=frozenset(rng.sample(range(1, 12), rng.randint(0, 2))),
            uk_wide=rng.random() < 0.1,
            funder_id=rng.choice([None, 1, 2, 3]),
            needs_vcse=rng.random() < 0.3,
            suits=rng.random() < 0.5,
            published_at=NOW - dt.timedelta(days=rng.randint(0, 40), minutes=i),
            deadline=NOW + dt.timedelta(days=rng.randint(1, 60), minutes=i),
        )
    index = Calls(calls, NOW)
    for n in range(400):
        suits = rng.random() < 0.2
        sub = SubscriberView(
            id=n,
            email="reader@example.org",
            name="",
            mailings=frozenset({"funding_digest"}),
            topics=frozenset(rng.sample(range(1, 32), rng.randint(0, 3))),
            regions=frozenset(rng.sample(range(1, 13), rng.randint(0, 2))),
            funders=frozenset(rng.sample(range(1, 5), rng.choice([0, 0, 1, 2]))),
            only_vcse=rng.random() < 0.2,
            filters={"funding_digest": {"suits_small_user_led": True}} if suits else {},
            sent={},
            hidden={},
        )
        newest = sorted(calls.values(), key=lambda c: (c.published_at, c.id), reverse=True)
        soonest = sorted(
            (c for c in calls.values() if c.deadline <= NOW + dt.timedelta(weeks=3)), key=lambda c: (c.deadline, c.id)
        )
        assert [c.id for c in index.matching(sub)] == [c.id for c in newest if _matches(c, sub, suits)]
        assert [c.id for c in index.matching(sub, closing=True)] == [c.id for c in soonest if _matches(c, sub, suits)]


def _queue(db, settings, n: int = 3) -> tuple[list[m.FundingCall], list[m.Subscription]]:
    ts = h.topics(db)
    funder = factories.funder(db, "Invented Claims Trust")
    calls = [h.call(db, funder, f"Invented claims call {i}", topic_ids=(ts[0].id,)) for i in range(2)]
    subs = [h.subscription(db, f"claims{i}@example.org", topic_ids=(ts[0].id,)) for i in range(n)]
    db.commit()
    engine.run_period(create_session_factory(db.get_bind()), settings, PERIOD, now=NOW)
    return calls, subs


def test_a_call_closed_between_two_claims_drops_out_of_the_second(db, settings) -> None:
    calls, _subs = _queue(db, settings)
    first_row, second_row, _third = h.digest_rows(db)
    (first, _headers) = render.render_claimed(db, [first_row], settings, NOW)[first_row.id]
    assert calls[0].title in first.text and calls[1].title in first.text
    # Same instant, so the same catalogue would serve: the write to funding_calls starts a new one.
    db.execute(update(m.FundingCall).where(m.FundingCall.id == calls[0].id).values(status=m.CallStatus.CLOSED))
    db.commit()
    (second, _headers) = render.render_claimed(db, [second_row], settings, NOW)[second_row.id]
    assert calls[0].title not in second.text and calls[1].title in second.text


def test_claims_of_one_send_the_same_emails_as_one_claim(db, settings) -> None:
    _queue(db, settings, n=4)
    factory = create_session_factory(db.get_bind())
    one_by_one = Capture()
    drain(factory, one_by_one, settings.replace(outbox_batch_size=1), now=NOW, renderers=EXTENSIONS.deferred_renderers)
    assert len(one_by_one.sent) == 4
    db.execute(update(m.OutboxMessage).values(status=m.OutboxStatus.QUEUED, next_attempt_at=NOW, lease_until=None))
    db.commit()
    together = Capture()
    drain(factory, together, settings.replace(outbox_batch_size=100), now=NOW, renderers=EXTENSIONS.deferred_renderers)
    key = lambda e: e.outbox_id  # noqa: E731
    assert [(e.subject, e.text, e.html, e.headers) for e in sorted(one_by_one.sent, key=key)] == [
        (e.subject, e.text, e.html, e.headers) for e in sorted(together.sent, key=key)
    ]
