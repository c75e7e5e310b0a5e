"""Running a digest period from the admin: which periods can be run, what a run would do, and starting one.

The fellow checks first and confirms second (the counts come from two COUNT statements, never from building the
digests). The run itself is the scheduler's: ``engine.run_period``, exactly once per subscription and period,
resumable, so a run started here and the Monday job can overlap without anyone getting two digests. It runs on a
thread of the web process so the page answers at once; the runs table shows its progress and outcome.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.digests import engine
from crm.digests.periods import MONTHLY, WEEKLY, Period, PeriodError, latest_due, parse
from crm.settings import Settings

log = logging.getLogger("crm.digests.manual")
FREQUENCY_WORDS = {WEEKLY: "weekly", MONTHLY: "monthly"}


@dataclasses.dataclass(frozen=True, slots=True)
class Choice:
    """A period the fellow may run now, and what running it means, in plain words."""

    period: Period
    early: bool  # not due yet: its subscribers will not get it again when it falls due

    @property
    def key(self) -> str:
        return self.period.key

    @property
    def label(self) -> str:
        word = FREQUENCY_WORDS.get(self.period.frequency, self.period.frequency)
        when = f"{self.period.due_at.day} {self.period.due_at:%B %Y}"  # "7 December 2026", as on every page
        if self.early:
            return f"The next {word} digest ({self.period.key}, due {when}), sent early"
        return f"The latest {word} digest ({self.period.key}, due {when})"


def choices(now: dt.datetime) -> list[Choice]:
    """Per frequency: the latest due period (reaching whoever has not had it) and the next one, early."""
    out: list[Choice] = []
    for frequency in (WEEKLY, MONTHLY):
        due = latest_due(frequency, now)
        out += [Choice(due, early=False), Choice(due.next(), early=True)]
    return out


def choice_for(key: str, now: dt.datetime) -> Choice | None:
    """The choice a submitted period key names, or ``None`` for anything not offered."""
    try:
        period = parse(key)
    except PeriodError:
        return None
    return next((c for c in choices(now) if c.key == period.key), None)


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """What running a period now would do, before anything is queued."""

    choice: Choice
    subscribers: int  # active subscriptions of the period's frequency
    already: int  # of them, those that already have this period's digest

    @property
    def at_most(self) -> int:
        return max(0, self.subscribers - self.already)


def check(session: Session, choice: Choice) -> Check:
    """Two COUNT statements: the frequency's active subscribers, and those the ledger says already have it."""
    active = (
        m.Subscription.status == m.SubscriptionStatus.ACTIVE,
        m.Subscription.frequency == choice.period.frequency,
    )
    subscribers = session.scalar(select(func.count(m.Subscription.id)).where(*active)) or 0
    already = (
        session.scalar(
            select(func.count(m.DigestDelivery.id))  # one ledger row per digest: (subscription, period) is unique
            .join(m.Subscription, m.Subscription.id == m.DigestDelivery.subscription_id)
            .where(m.DigestDelivery.period == choice.period.key, *active)
        )
        or 0
    )
    return Check(choice, subscribers, already)


def start_run(factory: sessionmaker[Session], settings: Settings, choice: Choice, actor: str) -> threading.Thread:
    """Run the period on a thread of its own; a failure is logged and recorded on the run by the engine."""

    def run() -> None:
        try:
            stats = engine.run_period(factory, settings, choice.period, trigger="admin")
            log.info("digests run from the admin by %s: %s", actor, stats.line())
        except Exception:
            log.exception("digest run of %s started by %s failed", choice.key, actor)

    thread = threading.Thread(target=run, name=f"digest-run-{choice.key}", daemon=True)
    thread.start()
    return thread


def find_subscribers(session: Session, text: str, limit: int = 20) -> list[m.Subscription]:
    """Subscriptions whose address or name contains ``text`` (case-insensitive), for picking whose preview to see."""
    words = text.strip().lower()
    if not words:
        return []
    like = f"%{words}%"
    return list(
        session.scalars(
            select(m.Subscription)
            .where(or_(func.lower(m.Subscription.email).like(like), func.lower(m.Subscription.name).like(like)))
            .order_by(m.Subscription.email)
            .limit(limit)
        )
    )
