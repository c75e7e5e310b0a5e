"""Digest rules the web, the CLI and the worker share: run what is due, preview, hide an item, list runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.digests import engine
from crm.digests.builder import Selection, primary_mailing, select_items
from crm.digests.periods import WEEKLY, Period, due_periods, latest_due
from crm.digests.render import renderer_for
from crm.digests.sections import BY_KEY, DIGEST_MAILINGS, SECTIONS, Catalogue
from crm.mailing.render import RenderedEmail
from crm.settings import Settings

log = logging.getLogger("crm.digests")

RUNNING_GRACE = dt.timedelta(minutes=15)  # a "running" run younger than this is left alone by the scheduler
ITEM_KINDS = {s.item_kind for s in SECTIONS}


def run_due(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime | None = None, trigger: str = "schedule"
) -> list[engine.RunStats]:
    """Plan the latest due period of each frequency unless it is done, being built, or more than 3 days late, and
    build every shard this process can take (``engine.run_period`` = ``shards.plan`` + ``shards.build_available``).

    A running run with shards is never planned again: whatever of it waits is built by ``digests.build_shards``
    on every worker (the leader included), and it is done when its last shard is. Safe from two workers at once:
    planning is serialised per period, and the outbox keys and the ledger make a second build queue nothing.
    """
    now = now or dt.datetime.now(dt.UTC)
    results = []
    for period in due_periods(now):
        with factory() as session:
            busy = _busy(session, period, now)
        if busy:
            continue
        results.append(engine.run_period(factory, settings, period, now=now, trigger=trigger))
    return results


def _busy(session: Session, period: Period, now: dt.datetime) -> bool:
    """Done, or running: with shards (their builders and ``digests.build_shards`` see it through), or without (a
    run from before shards) started less than ``RUNNING_GRACE`` ago."""
    R = m.DigestRun
    sharded = exists().where(m.DigestShard.run_id == R.id)
    return bool(
        session.scalar(
            select(
                exists().where(
                    R.period == period.key,
                    R.dry_run.is_(False),
                    (R.status == m.DigestRunStatus.DONE)
                    | ((R.status == m.DigestRunStatus.RUNNING) & (sharded | (R.started_at > now - RUNNING_GRACE))),
                )
            )
        )
    )


@dataclasses.dataclass
class Preview:
    subscription: m.Subscription
    period: Period
    selection: Selection | None
    rendered: RenderedEmail | None
    headers: dict[str, str]
    reason: str = ""


def _view(session: Session, sub_id: int, since: dt.datetime | None = None) -> Any:
    dialect = session.get_bind().dialect.name
    return session.execute(engine.batch_query(dialect, "", 0, 1, only_id=sub_id, since=since)).first()


def preview(
    session: Session, settings: Settings, subscription_id: int, now: dt.datetime | None = None
) -> Preview | None:
    """The digest this subscriber would get in their next period if it ran now (nothing is written)."""
    now = now or dt.datetime.now(dt.UTC)
    sub = session.get(m.Subscription, subscription_id)
    if sub is None:
        return None
    period = latest_due(sub.frequency.value if sub.frequency else WEEKLY, now).next()
    row = _view(session, subscription_id, period.starts_at)
    view = engine.subscriber_view(row)
    if not sub.is_receiving:
        reason = f"This subscription is {sub.status.value}, so it gets no digest."
    elif not (view.mailings & DIGEST_MAILINGS):
        reason = "This subscription has no digest mailings chosen."
    else:
        reason = ""
    catalogue = Catalogue(session, now, settings.base_url, period.starts_at)
    for section in SECTIONS:
        section.load(catalogue)
    # Preview what the next digest would hold if it were built now (items published until now count).
    renderer = renderer_for(settings)
    selection = select_items(catalogue, view, now, renderer.sizer(catalogue))
    if selection.empty:
        return Preview(sub, period, selection, None, {}, reason or "Nothing new matches: no email would be sent.")
    context = engine.digest_context(period, None, view, selection.sections)
    result = renderer.render(
        catalogue, context, email=view.email, subscription_id=view.id, mailing=primary_mailing(view.mailings)
    )
    if result is None:
        return Preview(sub, period, selection, None, {}, reason or "Nothing new matches: no email would be sent.")
    return Preview(sub, period, selection, result[0], result[1], reason)


def parse_item(value: str) -> tuple[str, int] | None:
    """``call-12`` → ("call", 12); None for anything else."""
    kind, _, raw = (value or "").partition("-")
    if kind not in ITEM_KINDS or not raw.isdigit():
        return None
    return kind, int(raw)


def item_title(session: Session, kind: str, item_id: int) -> str | None:
    model = {"call": m.FundingCall, "event": m.Event, "internship": m.Internship}.get(kind)
    if model is None:
        return None
    return session.scalar(select(model.title).where(model.id == item_id))


def hide_item(session: Session, subscription_id: int, kind: str, item_id: int) -> bool:
    """Hide one item from one subscription's digests (idempotent). False when the subscription is gone."""
    if session.get(m.Subscription, subscription_id) is None:
        return False
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    session.execute(
        module.insert(m.DigestHiddenItem)
        .values(subscription_id=subscription_id, item_kind=kind, item_id=item_id, created_at=m.utcnow())
        .on_conflict_do_nothing()
    )
    return True


def recent_runs(session: Session, limit: int = 50) -> list[m.DigestRun]:
    return list(session.scalars(select(m.DigestRun).order_by(m.DigestRun.id.desc()).limit(limit)))


@dataclasses.dataclass
class ShardProgress:
    """A sharded run's shards at a glance: how many are done, the sums of their counts (a running run's live
    figures: the run row gets them when it is done), and who built them."""

    done: int = 0
    total: int = 0
    considered: int = 0
    sent: int = 0
    skipped_empty: int = 0
    already_sent: int = 0
    failed: int = 0
    workers: list[str] = dataclasses.field(default_factory=list)


def shard_progress(session: Session, run_ids: list[int]) -> dict[int, ShardProgress]:
    """Per run of ``run_ids`` that has shards (one statement)."""
    S = m.DigestShard
    out: dict[int, ShardProgress] = {}
    if not run_ids:
        return out
    rows = session.execute(
        select(S.run_id, S.status, S.worker, S.considered, S.sent, S.skipped_empty, S.already_sent, S.failed)
        .where(S.run_id.in_(run_ids))
        .order_by(S.run_id, S.shard)
    )
    for row in rows:
        p = out.setdefault(row.run_id, ShardProgress())
        p.total += 1
        p.done += row.status == m.DigestShardStatus.DONE
        for name in ("considered", "sent", "skipped_empty", "already_sent", "failed"):
            setattr(p, name, getattr(p, name) + getattr(row, name))
        if row.worker and row.worker not in p.workers:
            p.workers.append(row.worker)
    return out


def run_shards(session: Session, run_id: int) -> list[m.DigestShard]:
    return list(
        session.scalars(select(m.DigestShard).where(m.DigestShard.run_id == run_id).order_by(m.DigestShard.shard))
    )


def run_failures(session: Session, run_id: int, limit: int = 200) -> list[m.DigestFailure]:
    return list(
        session.scalars(
            select(m.DigestFailure).where(m.DigestFailure.run_id == run_id).order_by(m.DigestFailure.id).limit(limit)
        )
    )


def section_title(key: str) -> str:
    section = BY_KEY.get(key)
    return section.title if section else key


def has_active_subscribers(session: Session) -> bool:
    """Whether a run would reach anyone (the runs page says so when nobody is subscribed yet)."""
    return (
        session.scalar(select(m.Subscription.id).where(m.Subscription.status == m.SubscriptionStatus.ACTIVE).limit(1))
        is not None
    )
