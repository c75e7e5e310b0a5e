"""The outbox dispatcher: claim due rows, re-check suppression, send through the transport, record outcomes.

Claiming and recording are short transactions so a slow provider never holds a database lock. On PostgreSQL rows
are claimed with ``FOR UPDATE SKIP LOCKED`` so several dispatchers never claim the same row; on SQLite there is a
single writer and the ``sending`` status plus a lease does the same job.

Crash safety (issue 15.3): the transport reports each provider request's outcomes as soon as they are final and
each report is written at once (``Recorder``: one short transaction, one executemany), so a ``kill -9`` leaves
unknown only the requests in flight. A batch is claimed marked ``CLAIMED`` and marked ``HANDED`` (one UPDATE) just
before its first request, so a crash puts a batch still being prepared (the next one is prepared while the provider
works on the current one) straight back in the queue instead of making it ambiguous.
What a crash leaves ambiguous is settled by ``crm.mailing.settlement``.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Set
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import msgspec
from sqlalchemy import Integer, Row, String, Text, bindparam, cast, select, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import retrying, unit_of_work
from crm.extensions import DeferredRenderer
from crm.mailing import claims
from crm.mailing.recording import Batch, DispatchStats, Recorder, backoff, send
from crm.mailing.settlement import LEASE, SETTLE_AFTER, settle
from crm.mailing.subscriptions import withdrawn_among
from crm.mailing.suppression import forms_by_key
from crm.mailing.transports.base import OutgoingEmail, SendOptions, Transport
from crm.settings import Settings

log = logging.getLogger("crm.mail.dispatch")

__all__ = ["LEASE", "SETTLE_AFTER", "DispatchStats", "backoff", "drain", "freeze_heap", "settle"]
_OUTBOX = m.OutboxMessage.__table__
NO_OPTIONS = SendOptions()
_DECODE = msgspec.json.Decoder().decode
_ENCODE = msgspec.json.Encoder().encode
_EMPTY_JSON: dict[str, Any] = {"{}": {}, "[]": [], "null": None, "": None}


def json_value(value: Any) -> Any:
    """A claimed row's JSON column: text from SQLite (``{}`` and ``[]`` for most rows), a value from psycopg."""
    if isinstance(value, str | bytes):
        if value in _EMPTY_JSON:
            empty = _EMPTY_JSON[value]
            return type(empty)() if empty is not None else None
        return _DECODE(value)
    return value


_heap = {"frozen": False}
_copier_lock = threading.Lock()
SETTLE_EVERY = 60.0  # seconds between settlements within one drain (each drain settles first)


def freeze_heap() -> None:
    """Once per process, before a long batch job: collect, then move every object alive (modules, compiled
    templates, the ORM's registry: hundreds of thousands) into the collector's permanent generation
    (``gc.freeze``), so the full collections a 100,000-digest run triggers scan only what the run allocates
    (they cost ~1 s of CPU per 20,000 digests before). What is frozen is never collected as a cycle, hence once
    per process and after a collection, not per run."""
    if not _heap["frozen"]:
        _heap["frozen"] = True
        gc.collect()
        gc.freeze()
        young, middle, old = gc.get_threshold()
        gc.set_threshold(max(young, 20_000), middle, old)


def _suppressed(session: Session, addresses: set[str]) -> dict[str, str]:
    """Address -> suppression reason, for addresses on the (active) suppression list."""
    if not addresses:
        return {}
    keys = forms_by_key(addresses)  # plain and erased (hashed) forms
    # Core, not the ORM's execute: two plain columns, no ORM result set-up per claim.
    rows = (
        session.connection()
        .execute(
            select(m.Suppression.address, m.Suppression.reason).where(
                claims.ids_match(session, m.Suppression.address, sorted(keys), String()),
                m.Suppression.lifted_at.is_(None),
            )
        )
        .all()
    )
    return {keys[address]: reason for address, reason in rows}


def _consent(session: Session, subscription_ids: set[int]) -> dict[int, tuple[str, list[str]]]:
    """Subscription id -> (status, mailings), re-read at claim time."""
    if not subscription_ids:
        return {}
    S = m.Subscription
    # Plain Core rows, the status as its stored text and the mailings as text (cast: psycopg would ``json.loads`` a
    # ``jsonb``), decoded with msgspec: no enum or JSON processing per row by the ORM or the driver (a claim is 1,000
    # subscribers).
    rows = (
        session.connection()
        .execute(
            select(S.id, type_coerce(S.status, String), cast(S.mailings, Text)).where(
                claims.ids_match(session, S.id, sorted(subscription_ids), Integer())
            )
        )
        .all()
    )
    return {sid: (status, list(json_value(mailings) or [])) for sid, status, mailings in rows}


def _withdrawals(session: Session, rows: list[claims.ClaimedRow]) -> set[tuple[str, str]]:
    """(address, mailing) pairs whose recipient stopped that mailing, for bulk rows of a mailing not sent under a
    subscription (event emails go to invited contacts): an event email's one-click link records the withdrawal
    in the consent log (``subscriptions.withdrawn_among``), so an email queued before the click stays back."""
    by_mailing: dict[str, set[str]] = {}
    for r in rows:
        if r.bulk and r.mailing and r.subscription_id is None:
            by_mailing.setdefault(r.mailing, set()).add(r.recipient)
    return {
        (address, mailing)
        for mailing, addresses in by_mailing.items()
        for address in withdrawn_among(session, addresses, mailing)
    }


def blocked_reason(
    row: claims.ClaimedRow | Row[Any] | m.OutboxMessage,
    suppressions: dict[str, str],
    consent: dict[int, tuple[str, list[str]]],
    withdrawals: Set[tuple[str, str]] = frozenset(),
) -> str:
    """Why this message must not go out now ("" = it may)."""
    reason = suppressions.get(row.recipient)
    if reason is not None and (row.bulk or reason != "unsubscribed"):
        return f"address is on the suppression list ({reason})"
    if withdrawals and row.mailing and (row.recipient.strip().lower(), row.mailing) in withdrawals:
        return f"the recipient withdrew from {row.mailing}"
    if row.subscription_id is not None and (row.bulk or row.mailing):
        status, mailings = consent.get(row.subscription_id, ("missing", []))
        if status != m.SubscriptionStatus.ACTIVE.value:
            return f"subscription is {status}"
        if row.mailing and row.mailing not in mailings:
            return f"subscriber no longer receives {row.mailing}"
    return ""


# Rendering at dispatch time: rows of some kinds store ``template`` + ``context`` and no bodies (a digest run
# would otherwise write ~800 MB of bodies for 100k subscribers). Their renderers come from the manifest
# (``Extensions.deferred_renderers``: kind -> renderer), because the domains that own them sit above mailing.


def render_deferred(
    session: Session,
    rows: list[claims.ClaimedRow],
    settings: Settings,
    now: dt.datetime,
    renderers: Mapping[str, DeferredRenderer],
) -> dict[int, object]:
    """Bodies for claimed rows stored without them, rendered by their kind's renderer (one call per kind).

    A row without bodies whose kind has no renderer here gets an error text, so it is marked failed with a reason
    instead of going out empty.
    """
    out: dict[int, object] = {}
    by_kind: dict[str, list[claims.ClaimedRow]] = {}
    for r in rows:
        if r.text_body is None and r.html_body is None:
            if r.kind in renderers:
                by_kind.setdefault(r.kind, []).append(r)
            else:
                out[r.id] = f"no renderer for {r.kind!r} emails stored without bodies"
    for kind, group in by_kind.items():
        out.update(renderers[kind](session, group, settings, now))
    return out


def _prepare(
    factory: sessionmaker[Session],
    transport: Transport,
    settings: Settings,
    now: dt.datetime | None,
    renderers: Mapping[str, DeferredRenderer],
    *,
    settling: bool = True,
) -> Batch:
    """Claim a batch (marked ``CLAIMED``), then re-check consent and suppression and render deferred bodies: what
    to send. The claim commits first, so SQLite's write lock is not held while the batch is rendered and the
    transport's reports of the batch in flight are written at once; if the rest fails, the claimed rows go back
    to the queue when their lease ends (``settle``, first when ``settling``), never ambiguous."""
    now = now or dt.datetime.now(dt.UTC)
    stats = DispatchStats()
    claim_size = max(settings.outbox_batch_size, int(getattr(transport, "preferred_claim", 0) or 0))
    unrenderable: list[dict[str, object]] = []

    def settle_and_claim(session: Session) -> list[claims.ClaimedRow]:
        if settling:
            settle(session, now, settings)
        return claims.light(claims.claim(session, now, claim_size, handed=False))

    # Settling takes back rows another dispatcher may be writing (a stalled one handing them over): a deadlock's
    # victim is rolled back whole and run again.
    rows = retrying(factory, settle_and_claim)
    stats.claimed = len(rows)
    if not rows:
        return Batch(stats, [], {}, now, now + LEASE)
    with unit_of_work(factory) as session:
        suppressions = _suppressed(session, {r.recipient for r in rows})
        consent = _consent(session, {r.subscription_id for r in rows if r.subscription_id is not None})
        to_send: list[OutgoingEmail] = []
        suppressed: list[dict[str, object]] = []
        # What each row rendered here is handed to the transport as, compressed on the copier thread while the
        # next rows render (zlib lets go of the GIL: the deflate runs on the other core).
        copy_jobs: list[Future[list[tuple[str, bytes, int]]]] = []
        to_copy: list[tuple[str, str, str, dict[str, Any], int]] = []
        withdrawals = _withdrawals(session, rows)
        blocked = {r.id: blocked_reason(r, suppressions, consent, withdrawals) for r in rows}
        deferred = render_deferred(session, [r for r in rows if not blocked[r.id]], settings, now, renderers)
        for r in rows:
            why = blocked[r.id]
            if why:
                suppressed.append({"b_id": r.id, "b_error": why})
                continue
            subject, text, html = r.subject, r.text_body or "", r.html_body or ""
            headers = dict(json_value(r.headers) or {})
            options = NO_OPTIONS
            if r.id in deferred:
                outcome = deferred[r.id]
                if isinstance(outcome, str):
                    unrenderable.append({"b_id": r.id, "b_error": outcome})
                    continue
                rendered, extra_headers, *more = outcome  # (rendered, headers[, SendOptions]): not in the copy
                options = more[0] if more else NO_OPTIONS
                subject, text, html = rendered.subject, rendered.text, rendered.html
                headers.update(extra_headers)
                to_copy.append((subject, text, html, headers, r.id))
                if len(to_copy) >= COPY_CHUNK:
                    copy_jobs.append(_copier().submit(_pack_copies, to_copy))
                    to_copy = []
            to_send.append(
                OutgoingEmail(
                    outbox_id=r.id,
                    kind=r.kind,
                    to=r.recipient,
                    to_name=r.recipient_name,
                    subject=subject,
                    text=text,
                    html=html,
                    headers=headers,
                    attachments=list(json_value(r.attachments) or []),
                    bulk=r.bulk,
                    tracking=options.tracking,
                    from_name=options.from_name,
                )
            )
        if to_copy:
            copy_jobs.append(_copier().submit(_pack_copies, to_copy))
        copies = [copy for job in copy_jobs for copy in job.result()]
        if unrenderable:
            _mark(session, m.OutboxStatus.FAILED, unrenderable)
            stats.failed += len(unrenderable)
        if suppressed:
            _mark(session, m.OutboxStatus.SUPPRESSED, suppressed)
            stats.suppressed = len(suppressed)
        attempts = {r.id: r.attempts for r in rows}
    return Batch(stats, to_send, attempts, now, now + LEASE, copies)


def _mark(session: Session, status: m.OutboxStatus, rows: list[dict[str, object]]) -> None:
    """Give each claimed row (``b_id``) ``status`` and its reason (``b_error``) in one executemany; the lease ends."""
    session.connection().execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == bindparam("b_id"))
        .values(status=status, last_error=bindparam("b_error"), lease_until=None),
        rows,
    )


COPY_CHUNK = 100  # rows per job for the copier thread
_copier_pool: list[ThreadPoolExecutor] = []


def _copier() -> ThreadPoolExecutor:
    """One thread per process that compresses stored copies (``m.pack_sent``) beside the rendering thread."""
    if not _copier_pool:
        with _copier_lock:
            if not _copier_pool:
                _copier_pool.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-copy"))
    return _copier_pool[0]


def _pack_copies(rows: list[tuple[str, str, str, dict[str, Any], int]]) -> list[tuple[str, bytes, int]]:
    return [(subject[:400], m.pack_sent(subject, text, html, headers), i) for subject, text, html, headers, i in rows]


def drain(
    factory: sessionmaker[Session],
    transport: Transport,
    settings: Settings,
    now: dt.datetime | None = None,
    *,
    renderers: Mapping[str, DeferredRenderer],
) -> DispatchStats:
    """Dispatch batches until nothing is due (or the provider refuses us).

    Pipelined: while batches are with the provider (their outcomes recorded request by request as they come), the
    next is claimed and prepared, marked ``CLAIMED`` until it is handed over, so database work and provider latency
    overlap and a crash leaves ambiguous only the requests in flight. A transport may take several batches at once
    (``parallel_batches``: SendGrid takes one request's worth per batch, up to its concurrency), so a batch is one
    request and memory holds only the batches in flight plus the one being prepared. A batch prepared after the
    provider refused our credentials is released unsent.
    """
    total = DispatchStats()
    freeze_heap()
    depth = max(1, int(getattr(transport, "parallel_batches", 1) or 1))
    in_flight: deque[tuple[Batch, Recorder, Future[Any] | None]] = deque()

    def settle_oldest() -> bool:
        """Record the oldest batch in flight once its requests are answered; whether the provider halted us."""
        done, recorder, future = in_flight.popleft()
        if future is not None:
            recorder.finish(future.result())
        total.add(done.stats)
        return done.stats.halted

    with ThreadPoolExecutor(max_workers=depth, thread_name_prefix="outbox-send") as sender:
        batch = _prepare(factory, transport, settings, now, renderers)
        settled_at = time.monotonic()
        while True:
            if batch.stats.claimed == 0:
                total.add(batch.stats)
                while in_flight:
                    settle_oldest()
                return total
            if batch.to_send:
                claims.hand_off(factory, batch, now)
            recorder = Recorder(factory, batch, settings)
            future = sender.submit(send, transport, batch.to_send, recorder) if batch.to_send else None
            in_flight.append((batch, recorder, future))
            halted = False
            # Leases last LEASE (10 minutes): settling once a minute, not before each claim of 1,000, is enough.
            settling = time.monotonic() - settled_at >= SETTLE_EVERY
            settled_at = time.monotonic() if settling else settled_at
            try:
                upcoming = _prepare(factory, transport, settings, now, renderers, settling=settling)
            except BaseException:
                while in_flight:  # recorded before anything else, even if preparing the next batch failed
                    settle_oldest()
                raise
            while len(in_flight) >= depth:
                halted = settle_oldest() or halted
            if halted or total.halted:
                while in_flight:
                    settle_oldest()
                if upcoming.to_send:
                    claims.release(factory, upcoming)
                total.claimed += upcoming.stats.claimed - len(upcoming.to_send)
                total.suppressed += upcoming.stats.suppressed
                total.failed += upcoming.stats.failed
                return total
            batch = upcoming
