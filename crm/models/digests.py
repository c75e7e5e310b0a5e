"""Models of the digests domain: runs, the delivery ledger, items a subscriber hid, per-subscriber failures.

- ``DigestRun``: one execution of one period (``2026-W48`` weekly, ``2026-12`` monthly) with its counters.
- ``DigestDelivery`` (the delivery ledger): one row per digest queued (subscription × period, unique) with the
  items it carried, so an item is never sent twice to the same subscription. Rows are written in the same
  transaction as the digest's outbox row.
- ``DigestHiddenItem``: the subscriber's "not relevant" clicks; hidden items never appear in their digests again.
- ``DigestFailure``: a digest that could not be built or rendered, with the error, so the run can go on.
- ``DigestShard``: one fixed range of subscription ids of one run, built by whichever worker holds its lock
  (issue 21.3, docs/mailing.md "Several workers"); the run is done when its last shard is.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, str_enum, utcnow

__all__ = [
    "DeliveryLedger",
    "DigestDelivery",
    "DigestFailure",
    "DigestHiddenItem",
    "DigestRun",
    "DigestRunStatus",
    "DigestShard",
    "DigestShardStatus",
    "HiddenItem",
]


class DigestRunStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the run itself stopped with an error (a single subscriber's failure never does this)


class DigestRun(Base):
    __tablename__ = "digest_runs"
    __table_args__ = (Index("ix_digest_runs_period", "period", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(20))
    frequency: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")  # schedule | manual | catch-up
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[DigestRunStatus] = mapped_column(str_enum(DigestRunStatus), default=DigestRunStatus.RUNNING)
    cutoff_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # First subscription id this run started after (resumed runs start after the last committed batch).
    resumed_after: Mapped[int] = mapped_column(default=0)
    last_subscription_id: Mapped[int] = mapped_column(default=0)
    considered: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)  # handed to the outbox
    skipped_empty: Mapped[int] = mapped_column(default=0)
    already_sent: Mapped[int] = mapped_column(default=0)  # an earlier or concurrent run queued it
    failed: Mapped[int] = mapped_column(default=0)
    duration_ms: Mapped[int | None]
    error: Mapped[str] = mapped_column(Text, default="")


class DigestDelivery(Base):
    """The delivery ledger: one row per digest queued, with the items it carried (``kind:id,kind:id``, read by
    ``crm.digests.ledger``); the builder skips every item in a subscription's rows, so nothing is sent twice.

    A row per digest, not per item (migration 0030): at a million digests a run wrote 8 rows a digest, each with a
    foreign-key check and three index entries, the largest share of the database's work (docs/scale.md)."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (
        # The builder reads a subscription's rows by this index; a period's digest is recorded once.
        UniqueConstraint("subscription_id", "period", name="uq_digest_deliveries_subscription_period"),
        # Resuming a period: the highest subscription id already committed for it.
        Index("ix_digest_deliveries_period_subscription", "period", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(20))
    run_id: Mapped[int | None]
    items: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


DeliveryLedger = DigestDelivery


class DigestHiddenItem(Base):
    __tablename__ = "digest_hidden_items"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    item_id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


HiddenItem = DigestHiddenItem


class DigestFailure(Base):
    __tablename__ = "digest_failures"
    __table_args__ = (Index("ix_digest_failures_run", "run_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"))
    subscription_id: Mapped[int | None]
    period: Mapped[str] = mapped_column(String(20), default="")
    stage: Mapped[str] = mapped_column(String(20), default="build")  # build | render
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DigestShardStatus(enum.StrEnum):
    WAITING = "waiting"  # nobody has built it yet, or its builder died (its lock is free again)
    DONE = "done"


class DigestShard(Base):
    """Subscriptions with ``first_id <= id <= last_id`` of one run. Whoever builds it holds a lock on it (an advisory
    lock on PostgreSQL); ``status`` turns ``done`` in the transaction of its last batch, so a finished shard whose
    tail subscriptions had nothing new is never rebuilt. Counts are the shard's own; the run sums them."""

    __tablename__ = "digest_shards"

    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    first_id: Mapped[int]
    last_id: Mapped[int]
    status: Mapped[DigestShardStatus] = mapped_column(str_enum(DigestShardStatus), default=DigestShardStatus.WAITING)
    worker: Mapped[str] = mapped_column(String(80), default="")  # host:pid of the builder that finished it
    considered: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    skipped_empty: Mapped[int] = mapped_column(default=0)
    already_sent: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    # The highest subscription id the counts above cover: a builder taking the shard over resumes after it.
    built_through: Mapped[int] = mapped_column(default=0, server_default="0")
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
