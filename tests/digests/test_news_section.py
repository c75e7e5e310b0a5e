"""The digest's News section: the period's published news, for subscribers to "News and announcements", except
what each of them was already sent as the campaign email itself (by subscription or by address); statements per
batch stay three."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import delete

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods, services
from crm.digests.sections import DIGEST_MAILINGS
from crm.domains import EXTENSIONS
from crm.mailing import compliance
from crm.mailing.dispatch import drain
from crm.mailing.transports.base import SendOutcome, SendResult
from tests.digests import helpers as h

PERIOD = periods.parse(h.WEEK)  # 2026-W48: from Mon 16 Nov 08:00 to Mon 23 Nov 08:00 (GMT = UTC)
_seq = itertools.count(1)


class Capture:
    name = "capture"

    def __init__(self) -> None:
        self.sent = []

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"x{e.outbox_id}") for e in emails]


def factory(db):
    return create_session_factory(db.get_bind())


def run(db, settings, **kw):
    db.commit()
    return engine.run_period(factory(db), settings, PERIOD, now=h.NOW, **kw)


def news(db, subject: str, published_at: dt.datetime, *, status=m.CampaignStatus.SENT) -> m.Campaign:
    n = next(_seq)
    c = m.Campaign(
        subject=subject,
        preheader=f"What {subject} is about.",
        body="Plain words.",
        status=status,
        publish_as_news=True,
        news_slug=f"news-item-{n}",
        published_at=published_at,
        sent_at=published_at,
    )
    db.add(c)
    db.flush()
    return c


def emailed(
    db,
    campaign: m.Campaign,
    email: str,
    *,
    subscription_id: int | None = None,
    status: m.OutboxStatus = m.OutboxStatus.SENT,
) -> None:
    """The campaign email to one recipient, as the sending helper records it: an outbox row and its recipient."""
    row = m.OutboxMessage(
        idempotency_key=f"campaign:{campaign.id}:{email}",
        kind="campaign",
        template="campaign",
        bulk=True,
        recipient=email,
        context={"c": campaign.id},
        status=status,
        subscription_id=subscription_id,
        mailing="news" if subscription_id else compliance.CONTACT_STREAM,
    )
    db.add(row)
    db.flush()
    db.add(
        m.CampaignRecipient(
            campaign_id=campaign.id,
            email=email,
            part=m.AudiencePart.SUBSCRIBERS if subscription_id else m.AudiencePart.CONTACTS,
            subscription_id=subscription_id,
            outbox_id=row.id,
        )
    )
    db.flush()


def news_ids(db, subscription_id: int) -> list[int]:
    ctx = {r.subscription_id: r.context for r in h.digest_rows(db)}.get(subscription_id)
    if ctx is None:
        return []
    return next((ids for key, ids, _more in ctx["sections"] if key == "news"), [])


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=dt.UTC)


def test_news_of_the_period_not_already_emailed_goes_in_the_digest(db, settings) -> None:
    reader = h.subscription(db, "reader@example.org", mailings=("news",))
    also_contact = h.subscription(db, "contact@example.org", mailings=("news", "event_news"))
    other = h.subscription(db, "other@example.org", mailings=("news",))
    no_news = h.subscription(db, "funding.only@example.org", mailings=("funding_digest",))
    sent_to_reader = news(db, "Sent to the reader", at(18))
    not_sent = news(db, "Not sent to anyone here", at(19))
    failed = news(db, "Their copy failed", at(20))
    queued = news(db, "Still queued for them", at(21))
    news(db, "Before the period", at(16, 7))  # the previous digest's
    late = news(db, "After the cut-off", at(23, 9))  # next week's
    news(db, "A draft", at(20), status=m.CampaignStatus.DRAFT)
    emailed(db, sent_to_reader, reader.email, subscription_id=reader.id)
    emailed(db, failed, reader.email, subscription_id=reader.id, status=m.OutboxStatus.FAILED)
    emailed(db, queued, reader.email, subscription_id=reader.id, status=m.OutboxStatus.QUEUED)
    # The same person reached as a directory contact (no subscription on the row): matched by address.
    emailed(db, sent_to_reader, also_contact.email)
    emailed(db, not_sent, "someone.else@example.org")
    stats = run(db, settings)
    assert stats.sent == 3 and stats.skipped_empty == 1
    assert news_ids(db, reader.id) == [failed.id, not_sent.id]  # newest first
    assert news_ids(db, also_contact.id) == [queued.id, failed.id, not_sent.id]  # at most 3 (the section's limit)
    assert news_ids(db, other.id) == [queued.id, failed.id, not_sent.id]
    assert news_ids(db, no_news.id) == []
    # The next digest (2026-W49) carries what was published after this one's cut-off, and nothing sent before.
    preview = services.preview(db, settings, reader.id, now=h.NOW)
    assert preview.period.key == "2026-W49" and preview.selection.sections == [["news", [late.id], 0]]
    assert "After the cut-off" in preview.rendered.text


def test_the_news_section_renders_at_dispatch_with_links_to_the_public_pages(db, settings) -> None:
    sub = h.subscription(db, "sam@example.org", name="Sam", mailings=("news",))
    item = news(db, "The MRC call is out & briefing Thursday", at(20))
    run(db, settings)
    row = h.digest_rows(db)[0]
    assert row.mailing == "news" and row.subscription_id == sub.id
    transport = Capture()
    stats = drain(factory(db), transport, settings, now=h.NOW, renderers=EXTENSIONS.deferred_renderers)
    assert stats.sent == 1
    mail = transport.sent[0]
    assert "1 news item" in mail.subject
    assert "News\n====" in mail.text and "The MRC call is out & briefing Thursday" in mail.text
    assert "Published 20 November 2026" in mail.text
    assert f"http://testserver.local/news/{item.news_slug}" in mail.text
    assert "The MRC call is out &amp; briefing Thursday" in mail.html and "What The MRC" in mail.html
    assert "/digests/hide/" not in mail.text  # nothing to hide: a news item comes once
    assert "/u/" in mail.text and mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_news_is_a_digest_mailing_so_stopping_the_digest_stops_news_too() -> None:
    assert "news" in DIGEST_MAILINGS and compliance.DIGEST_MAILINGS == DIGEST_MAILINGS


def test_statements_per_batch_stay_four_with_news_and_campaign_recipients(db, settings, count_queries) -> None:
    items = [news(db, f"Item {i}", at(17 + i)) for i in range(4)]
    already: dict[int, set[int]] = {}
    for i in range(30):
        sub = h.subscription(db, mailings=("news", "event_news"))
        already[sub.id] = set()
        if i % 2:
            emailed(db, items[i % 4], sub.email, subscription_id=sub.id)
            already[sub.id].add(items[i % 4].id)
        if i % 3 == 0:
            emailed(db, items[(i + 1) % 4], sub.email)  # reached as a contact
            already[sub.id].add(items[(i + 1) % 4].id)
    h.event(db)
    db.commit()
    counts = {}
    for size in (10, 5):
        db.execute(delete(m.DigestDelivery))
        db.execute(delete(m.OutboxMessage).where(m.OutboxMessage.kind == "digest"))
        db.commit()
        with count_queries() as q:
            stats = engine.run_period(factory(db), settings, PERIOD, now=h.NOW, batch_size=size)
        assert stats.sent == 30
        counts[size] = (q.count, stats.batches)
    (c10, b10), (c5, b5) = counts[10], counts[5]
    assert (c5 - c10) == 4 * (b5 - b10)  # still exactly four statements per extra batch (engine docstring)
    newest_first = [c.id for c in reversed(items)]
    for sub_id, emailed_ids in already.items():
        assert news_ids(db, sub_id) == [i for i in newest_first if i not in emailed_ids][:3]


def test_a_monthly_digest_takes_the_month_s_news() -> None:
    december = periods.parse("2026-12")  # due Mon 7 Dec 2026 08:00; November's was due Mon 2 Nov
    assert december.starts_at == dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    assert PERIOD.starts_at == dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)
    january = periods.parse("2027-01")
    assert january.starts_at == december.due_at
