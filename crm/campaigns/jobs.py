"""Campaign jobs: start scheduled campaigns at their time, and resume a send a crash interrupted.

Every minute (and 20 seconds after the worker starts): each scheduled campaign whose time has come is moved to
"sending" (``state.begin_sending(due_only=True)``: a cancel that came first wins), and every campaign in
"sending" — just started, handed over by the fellow's "Send now" for a large audience, or left half-queued by a
crash — is resolved and queued (``sending.run_send``), committing after each batch of 1,000, so a crash loses at
most the batch in hand and the next minute carries on without duplicates (idempotency keys).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.campaigns import sending, state
from crm.campaigns.queueing import QueueStats
from crm.db import unit_of_work
from crm.runtime import Runtime
from crm.scheduling import ScheduledJob, every

log = logging.getLogger("crm.jobs.campaigns")
S = m.CampaignStatus


def start_due(factory: sessionmaker[Session], now: dt.datetime) -> list[int]:
    """Move every scheduled campaign whose time has come to "sending"; the ids it moved."""
    with unit_of_work(factory) as session:
        due = list(
            session.scalars(select(m.Campaign.id).where(m.Campaign.status == S.SCHEDULED, m.Campaign.send_at <= now))
        )
        return [cid for cid in due if state.begin_sending(session, cid, now, due_only=True)]


def queue_one(factory: sessionmaker[Session], campaign_id: int, now: dt.datetime) -> QueueStats | None:
    """Resolve and queue one campaign in "sending", committing after each batch (resumable)."""
    session = factory()
    try:
        campaign = session.get(m.Campaign, campaign_id)
        if campaign is None or campaign.status != S.SENDING:
            return None
        stats = sending.run_send(session, campaign, now, after_batch=lambda _n: session.commit())
        session.commit()
        return stats
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def run_campaigns(factory: sessionmaker[Session], now: dt.datetime | None = None) -> dict[int, int]:
    """Start what is due, then queue every campaign in "sending"; campaign id -> rows queued by this run."""
    now = now or dt.datetime.now(dt.UTC)
    start_due(factory, now)
    with factory() as session:
        sending_ids = list(session.scalars(select(m.Campaign.id).where(m.Campaign.status == S.SENDING)))
        session.rollback()
    done: dict[int, int] = {}
    for campaign_id in sending_ids:
        try:
            stats = queue_one(factory, campaign_id, now)
        except Exception:  # one campaign's failure must not hold back the others; retried next minute
            log.exception("campaign %s could not be queued; it stays in sending and is retried", campaign_id)
            continue
        if stats is not None:
            done[campaign_id] = stats.queued
            log.info("campaign %s: %s queued (%s already queued before)", campaign_id, stats.queued, stats.already)
    return done


def run_campaigns_job(rt: Runtime, now: dt.datetime | None = None) -> dict[int, int]:
    return run_campaigns(rt.session_factory, now)


JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        "campaigns.send",
        "Start scheduled campaigns and finish queueing interrupted ones",
        run_campaigns_job,
        every(minutes=1),
        first_run_after=dt.timedelta(seconds=20),
    ),
)
