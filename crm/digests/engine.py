"""Running one digest period for every active subscription of its frequency, in keyset batches.

Per batch of ``BATCH_SIZE`` subscriptions, three SQL statements whatever the batch holds:

1. the subscriptions with their topics, regions, delivery ledger and hidden items (correlated aggregates);
2. ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING subscription_id`` of the outbox rows
   (key ``digest:{subscription}:{period}``), one multi-row statement;
3. the ledger rows of the digests that step 2 actually inserted, ``ON CONFLICT DO NOTHING``.

Steps 2 and 3 share one short transaction, so a digest and its ledger rows commit together or not at all: a
worker killed half-way (``kill -9``) loses at most its uncommitted batch, and the rerun resumes after the last
committed subscription (the ledger's highest subscription id for the period). Two runs racing insert the same
keys; the loser's inserts do nothing and its ledger rows are never written. Open items are loaded once per run
(a few statements) and matched in memory. Memory is bounded by one batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import String, Text, cast, func, select, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.db import unit_of_work
from crm.digests.builder import primary_mailing, select_items
from crm.digests.periods import Period
from crm.digests.render import renderer_for
from crm.digests.sections import DIGEST_MAILINGS, SECTIONS, Catalogue, SubscriberView
from crm.digests.sections.base import string_agg
from crm.mailing.dispatch import freeze_heap
from crm.settings import Settings

log = logging.getLogger("crm.digests")

BATCH_SIZE = 1000
PROGRESS_EVERY = 100  # batches between progress writes on the run row (the admin page shows them)
KIND = "digest"
PAUSE_ENV = "CRM_DIGESTS_TEST_PAUSE_AFTER_BATCHES"  # test hook: hang inside batch N+1's transaction


def idempotency_key(subscription_id: int, period: str) -> str:
    return f"digest:{subscription_id}:{period}"


@dataclasses.dataclass(slots=True)
class RunStats:
    run_id: int | None = None
    period: str = ""
    considered: int = 0
    sent: int = 0
    skipped_empty: int = 0
    already_sent: int = 0
    failed: int = 0
    batches: int = 0
    resumed_after: int = 0
    last_id: int = 0
    duration_ms: int = 0
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        return (
            f"period {self.period}: considered {self.considered}, queued {self.sent}, "
            f"skipped (nothing new) {self.skipped_empty}, already queued {self.already_sent}, "
            f"failed {self.failed}, {self.duration_ms / 1000:.1f} s"
        )


_agg = string_agg


def batch_query(
    dialect: str,
    frequency: str,
    after: int,
    limit: int,
    only_id: int | None = None,
    since: dt.datetime | None = None,
) -> Any:
    """Active subscriptions of ``frequency`` after id ``after`` (or the one subscription ``only_id``, any state),
    with what each section asks to know per subscriber (``Section.batch_columns``; ``since``: the period's start).
    """
    S = m.Subscription
    st, sr = m.subscription_topics.c, m.subscription_regions.c
    L, H = m.DigestDelivery, m.DigestHiddenItem
    # Only topics that still exist: a subscription whose topics were all deleted matches any topic.
    topics = (
        select(_agg(dialect, st.topic_id))
        .join(m.Topic, m.Topic.id == st.topic_id)
        .where(st.subscription_id == S.id)
        .scalar_subquery()
    )
    regions = select(_agg(dialect, sr.region_id)).where(sr.subscription_id == S.id).scalar_subquery()
    sent = (
        select(_agg(dialect, L.item_kind + ":" + cast(L.item_id, String)))
        .where(L.subscription_id == S.id)
        .scalar_subquery()
    )
    hidden = (
        select(_agg(dialect, H.item_kind + ":" + cast(H.item_id, String)))
        .where(H.subscription_id == S.id)
        .scalar_subquery()
    )
    query = select(
        S.id,
        S.email,
        S.name,
        # JSON columns as their text where the driver gives text (SQLite): decoded by msgspec in subscriber_view.
        type_coerce(S.mailings, Text).label("mailings"),
        type_coerce(S.funder_ids, Text).label("funder_ids"),
        S.only_vcse_partner_calls,
        type_coerce(S.filters, Text).label("filters"),
        topics.label("topics"),
        regions.label("regions"),
        sent.label("sent"),
        hidden.label("hidden"),
        *(column.label(label) for s in SECTIONS for label, column in s.batch_columns(dialect, since).items()),
    )
    if only_id is not None:
        return query.where(S.id == only_id)
    return (
        query.where(S.status == m.SubscriptionStatus.ACTIVE, S.frequency == frequency, S.id > after)
        .order_by(S.id)
        .limit(limit)
    )


def _ints(raw: str | None) -> frozenset[int]:
    return frozenset(map(int, raw.split(","))) if raw else _NO_INTS


_NO_INTS: frozenset[int] = frozenset()


def _pairs(raw: str | None) -> dict[str, set[int]]:
    """``kind:id,kind:id`` as ids by kind: the builder then tests an int per candidate, building no tuple."""
    out: dict[str, set[int]] = {}
    if raw:
        for part in raw.split(","):
            kind, _, value = part.partition(":")
            ids = out.get(kind)
            if ids is None:
                ids = out[kind] = set()
            ids.add(int(value))
    return out


def _decoded(value: Any) -> Any:
    """A JSON column's value: text from SQLite, already decoded by psycopg from PostgreSQL's JSONB."""
    if isinstance(value, str | bytes):
        try:
            return _decode(value)
        except msgspec.DecodeError:
            return None
    return value


def subscriber_view(row: Any) -> SubscriberView:
    funders = _decoded(row.funder_ids)
    funders = funders if isinstance(funders, list) else []
    filters = _decoded(row.filters)
    filters = filters if isinstance(filters, dict) else {}
    mailings = _decoded(row.mailings)
    view = SubscriberView(
        id=row.id,
        email=row.email,
        name=" ".join((row.name or "").split())[:200],
        mailings=frozenset(x for x in (mailings if isinstance(mailings, list) else []) if isinstance(x, str)),
        topics=_ints(row.topics),
        regions=_ints(row.regions),
        funders=frozenset(int(f) for f in funders if isinstance(f, int | str) and str(f).isdigit())
        if funders
        else _NO_INTS,
        only_vcse=bool(row.only_vcse_partner_calls),
        filters=filters,
        sent=_pairs(row.sent),
        hidden=_pairs(row.hidden),
    )
    for section in SECTIONS:
        section.absorb(view, row)
    return view


def load_catalogue(session: Session, now: dt.datetime, base_url: str, since: dt.datetime | None = None) -> Catalogue:
    catalogue = Catalogue(session, now, base_url, since)
    for section in SECTIONS:
        section.load(catalogue)
    catalogue.release_session()
    return catalogue


_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder().decode
OUTBOX_ROWS_PER_STATEMENT = 1000  # 10 parameters a row: within SQLite's 32,766 and PostgreSQL's 65,535
_OUTBOX_VARIABLE = (
    "idempotency_key",
    "recipient",
    "recipient_name",
    "subject",
    "text_body",
    "html_body",
    "headers",
    "context",
    "subscription_id",
    "mailing",
)
_OUTBOX_CONSTANT = (
    ("kind", f"'{KIND}'"),
    ("bulk", "{true}"),
    ("attachments", "{empty_list}"),
    ("template", "'digest'"),
    ("status", f"'{m.OutboxStatus.QUEUED.value}'"),
    ("attempts", "0"),
    ("last_error", "''"),
    ("provider_message_id", "''"),
    ("delivery_status", "''"),
    ("next_attempt_at", "{now}"),
    ("created_at", "{now}"),
)


def _json(value: Any) -> str:
    return _encode.encode(value).decode()


def _outbox_sql(dialect: str, now: dt.datetime) -> Callable[[int], str]:
    """``INSERT … SELECT … FROM (VALUES (…), (…)) ON CONFLICT (idempotency_key) DO NOTHING RETURNING
    subscription_id`` for n rows, through the driver: plain tuples and pre-serialised JSON, no per-parameter
    processing by SQLAlchemy (100,000 rows a run). The VALUES rows carry only the 10 values that differ; what every
    digest row shares is written once, in the SELECT list (a row of literals each cost ~80 characters more SQL to
    parse, and to scan for ``crm.httpcache``'s write tracking, per row)."""
    n_values = len(_OUTBOX_VARIABLE)
    if dialect == "postgresql":
        names = [f"c{i}" for i in range(1, n_values + 1)]
        row = "(" + ", ".join(["%s"] * n_values) + ")"
        alias = f" AS v({', '.join(names)})"
        json_cast = "CAST({} AS JSONB)"
        literals = {
            "true": "TRUE",
            "now": f"CAST('{now.astimezone(dt.UTC).isoformat()}' AS TIMESTAMPTZ)",
            "empty_list": "CAST('[]' AS JSONB)",  # a SELECT list's literals are text unless cast
        }
    else:
        names = [f"column{i}" for i in range(1, n_values + 1)]
        row = "(" + ", ".join(["?"] * n_values) + ")"
        alias = ""
        json_cast = "{}"
        literals = {
            "true": "1",
            "now": f"'{now.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'",
            "empty_list": "'[]'",
        }
    columns = ", ".join([*_OUTBOX_VARIABLE, *(name for name, _ in _OUTBOX_CONSTANT)])
    picked = [
        json_cast.format(name) if column in ("headers", "context") else name
        for column, name in zip(_OUTBOX_VARIABLE, names, strict=True)
    ]
    selected = ", ".join([*picked, *(value.format(**literals) for _, value in _OUTBOX_CONSTANT)])
    table = m.OutboxMessage.__table__.name

    def sql(n: int) -> str:
        # "WHERE true": SQLite reads ON CONFLICT after a bare FROM as a join constraint.
        return (
            f"INSERT INTO {table} ({columns}) SELECT {selected} FROM (VALUES {', '.join([row] * n)}){alias} "
            "WHERE true ON CONFLICT (idempotency_key) DO NOTHING RETURNING subscription_id"
        )

    return sql


def digest_context(
    period: Period, run_id: int | None, sub: SubscriberView, sections: list[list[Any]]
) -> dict[str, Any]:
    return {"period": period.key, "frequency": period.frequency, "run": run_id, "name": sub.name, "sections": sections}


def stored_context(period: Period, run_id: int | None, sections: list[list[Any]]) -> dict[str, Any]:
    """What an outbox row keeps of ``digest_context``: the name is the row's ``recipient_name`` and the frequency
    follows from the period key (``periods.frequency_of``), so neither is stored twice (~40 B a digest of the
    2 kB budget, which pays for the stored copy's cheaper deflate level). Rows stored with both still render."""
    return {"period": period.key, "run": run_id, "sections": sections}


def run_period(
    factory: sessionmaker[Session],
    settings: Settings,
    period: Period,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    trigger: str = "manual",
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    render_at_build: Any = None,
) -> RunStats:
    """Queue this period's digest for every active subscription of its frequency, exactly once each.

    ``render_at_build`` (a ``DigestRenderer``) stores rendered bodies instead of what to render; the benchmark
    uses it to compare both designs. ``dry_run`` selects and counts but writes nothing except the run row.
    """
    started = time.perf_counter()
    freeze_heap()
    now = now or dt.datetime.now(dt.UTC)
    pause_after = int(os.environ.get(PAUSE_ENV, "0") or 0)
    stats = RunStats(period=period.key)
    with unit_of_work(factory) as session:
        dialect = session.get_bind().dialect.name
        resume = 0
        if not dry_run:
            L = m.DigestDelivery
            resume = session.scalar(select(func.max(L.subscription_id)).where(L.period == period.key)) or 0
        run = m.DigestRun(
            period=period.key,
            frequency=period.frequency,
            trigger=trigger,
            dry_run=dry_run,
            cutoff_at=period.cutoff,
            started_at=now,
            resumed_after=resume,
        )
        session.add(run)
        session.flush()
        stats.run_id = run.id
        stats.resumed_after = resume
    with factory() as session:
        catalogue = load_catalogue(session, now, settings.base_url, period.starts_at)
        session.rollback()
    # Item fragments are rendered once here so the builder knows each item's size (the SendGrid budget).
    size_of = (render_at_build or renderer_for(settings)).sizer(catalogue)
    outbox_sql = _outbox_sql(dialect, now)
    ledger_table = m.DigestDelivery.__table__
    placeholder = "%s" if dialect == "postgresql" else "?"
    ledger_sql = (
        f"INSERT INTO {ledger_table.name} (subscription_id, item_kind, item_id, period, run_id, sent_at) "
        f"VALUES ({', '.join([placeholder] * 6)}) "
        "ON CONFLICT (subscription_id, item_kind, item_id) DO NOTHING"
    )
    # UTCDateTime stores naive UTC text on SQLite; PostgreSQL takes the aware value.
    sent_at: Any = now if dialect == "postgresql" else now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    after = resume
    try:
        while True:
            with factory() as session:
                query = batch_query(dialect, period.frequency, after, batch_size, since=period.starts_at)
                rows = session.execute(query).all()
                session.rollback()  # end the read transaction before writing (SQLite: let writers in)
            if not rows:
                break
            stats.batches += 1
            outbox_rows: list[tuple[Any, ...]] = []
            ledger_by_sub: dict[int, list[tuple[str, int]]] = {}
            failures: list[dict[str, Any]] = []
            for row in rows:
                stats.considered += 1
                try:
                    sub = subscriber_view(row)
                    if not (sub.mailings & DIGEST_MAILINGS):
                        stats.skipped_empty += 1
                        continue
                    selection = select_items(catalogue, sub, period.cutoff, size_of)
                    if selection.empty:
                        stats.skipped_empty += 1
                        continue
                    mailing = primary_mailing(sub.mailings)
                    subject, text, html, headers = "", None, None, {}
                    if render_at_build is not None:
                        context = digest_context(period, stats.run_id, sub, selection.sections)
                        rendered = render_at_build.render(
                            catalogue, context, email=sub.email, subscription_id=sub.id, mailing=mailing
                        )
                        if rendered is None:
                            stats.skipped_empty += 1
                            continue
                        email, headers = rendered
                        subject, text, html = email.subject, email.text, email.html
                except Exception as exc:  # one subscriber's bad data must not stop the run
                    log.exception("digest for subscription %s failed", row.id)
                    stats.failed += 1
                    error = f"{type(exc).__name__}: {exc}"[:2000]
                    stats.errors.append((row.id, error))
                    failures.append(
                        {
                            "run_id": stats.run_id,
                            "subscription_id": row.id,
                            "period": period.key,
                            "stage": "build",
                            "error": error,
                            "created_at": now,
                        }
                    )
                    continue
                ledger_by_sub[sub.id] = selection.ledger
                outbox_rows.append(
                    (
                        idempotency_key(sub.id, period.key),
                        sub.email,
                        sub.name,
                        subject,
                        text,
                        html,
                        _json(headers),
                        None
                        if render_at_build is not None
                        else _json(stored_context(period, stats.run_id, selection.sections)),
                        sub.id,
                        mailing,
                    )
                )
            after = rows[-1].id
            if dry_run:
                stats.sent += len(outbox_rows)
            elif outbox_rows or failures:
                with unit_of_work(factory) as session:
                    conn = session.connection()
                    inserted: set[int] = set()
                    for start in range(0, len(outbox_rows), OUTBOX_ROWS_PER_STATEMENT):
                        chunk = outbox_rows[start : start + OUTBOX_ROWS_PER_STATEMENT]
                        sql = outbox_sql(len(chunk))
                        params = tuple(value for row in chunk for value in row)
                        inserted.update(r[0] for r in conn.exec_driver_sql(sql, params).fetchall())
                    if pause_after and stats.batches > pause_after:
                        log.warning("test hook %s: pausing inside batch %s", PAUSE_ENV, stats.batches)
                        time.sleep(3600)
                    # Plain tuples through the driver: tens of thousands of small rows per run, so skipping
                    # SQLAlchemy's per-parameter processing matters (still one statement per batch).
                    ledger_rows = [
                        (sid, kind, item_id, period.key, stats.run_id, sent_at)
                        for sid in sorted(inserted)
                        for kind, item_id in ledger_by_sub[sid]
                    ]
                    if ledger_rows:
                        conn.exec_driver_sql(ledger_sql, ledger_rows)
                    if failures:
                        conn.execute(m.DigestFailure.__table__.insert(), failures)
                stats.sent += len(inserted)
                stats.already_sent += len(outbox_rows) - len(inserted)
            if progress is not None:
                progress(len(rows))
            stats.last_id = after
            if stats.batches % PROGRESS_EVERY == 0:
                _write_stats(factory, stats, started, final=False)
    except BaseException as exc:
        _write_stats(factory, stats, started, final=True, error=f"{type(exc).__name__}: {exc}")
        raise
    _write_stats(factory, stats, started, final=True)
    log.info("digests %s", stats.line())
    return stats


def _write_stats(
    factory: sessionmaker[Session], stats: RunStats, started: float, *, final: bool, error: str = ""
) -> None:
    stats.duration_ms = int((time.perf_counter() - started) * 1000)
    values: dict[str, Any] = {
        "considered": stats.considered,
        "sent": stats.sent,
        "skipped_empty": stats.skipped_empty,
        "already_sent": stats.already_sent,
        "failed": stats.failed,
        "duration_ms": stats.duration_ms,
        "last_subscription_id": stats.last_id,
    }
    if final:
        values["finished_at"] = dt.datetime.now(dt.UTC)
        values["status"] = m.DigestRunStatus.FAILED if error else m.DigestRunStatus.DONE
        values["error"] = error[:2000]
    with unit_of_work(factory) as session:
        session.execute(update(m.DigestRun).where(m.DigestRun.id == stats.run_id).values(**values))
