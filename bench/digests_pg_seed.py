"""Seeding a PostgreSQL database with ``bench/digests.py``'s data, at a million subscribers, through COPY.

``bench/digests.py``'s ``generate`` writes SQLite row by row; at 1,000,000 subscribers (about 3 million topic rows
and half a million region rows) PostgreSQL wants COPY instead. This module draws the same data from the same
seed: every random call of ``generate`` is made here in the same order (``rng.choices`` with cumulative weights
draws the same numbers as with weights), so subscriber i gets the same mailings, topics and region, and each call,
event and internship the same dates, topics and regions; only the database ids of the reference rows may differ.
``--check-same`` in ``bench/digests_workers.py`` compares both at a small N.

The database is created fresh (dropped first), migrated with ``crm.migrate.upgrade``, given its reference data,
seeded, then ANALYZEd. A one-row table ``bench_seed`` records N and the seed so ``--keep`` can reuse it.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import random
import time
from collections.abc import Callable

from sqlalchemy.engine import make_url

from bench.digests import NOW, TOPICS

COPY_CHUNK = 50_000  # subscribers drawn per COPY write (bounded memory)


def dsn(database_url: str, database: str | None = None) -> str:
    """A libpq connection string for psycopg from the app's SQLAlchemy URL (``postgresql+psycopg://…``)."""
    url = make_url(database_url)
    if database is not None:
        url = url.set(database=database)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def seeded(database_url: str) -> tuple[int, int] | None:
    """(subscribers, seed) of a database this module seeded, or None (no such database, or not seeded here)."""
    import psycopg

    name = make_url(database_url).database
    with psycopg.connect(dsn(database_url, "postgres"), autocommit=True) as admin:
        if admin.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is None:
            return None
    with psycopg.connect(dsn(database_url)) as conn:
        if conn.execute("select to_regclass('bench_seed')").fetchone()[0] is None:
            return None
        row = conn.execute("select subscribers, seed from bench_seed").fetchone()
        return (row[0], row[1]) if row else None


def recreate(database_url: str, settings_factory: Callable[..., object]) -> None:
    """Drop and create the database, migrate it to head and add the reference data (topics, regions)."""
    import psycopg

    from crm.db import create_db_engine, create_session_factory, unit_of_work
    from crm.directory.reference import ensure_reference_data
    from crm.migrate import upgrade

    name = make_url(database_url).database
    with psycopg.connect(dsn(database_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    engine = create_db_engine(settings_factory(database_url))  # type: ignore[arg-type]
    upgrade(engine)
    with unit_of_work(create_session_factory(engine)) as session:
        ensure_reference_data(session)
    engine.dispose()


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def seed(database_url: str, n: int, seed_value: int, progress: Callable[[str], None] = print) -> None:
    """``bench/digests.py``'s data for ``n`` subscribers (see the module docstring), then ANALYZE."""
    import psycopg

    rng = random.Random(seed_value)
    now_s = _stamp(NOW)
    weights = [1 / (i + 1) for i in range(TOPICS)]
    cum = list(itertools.accumulate(weights))
    population = range(TOPICS)

    def zipf(k: int) -> list[int]:
        chosen: set[int] = set()
        while len(chosen) < k:
            chosen.add(rng.choices(population, cum_weights=cum)[0])
        return sorted(chosen)

    with psycopg.connect(dsn(database_url)) as c:
        existing = c.execute("select count(*) from topics").fetchone()[0]
        for i in range(existing, TOPICS):
            c.execute(
                "insert into topics (slug, name, description) values (%s, %s, '')", (f"bench-topic-{i}", f"Topic {i}")
            )
        topic_ids = [r[0] for r in c.execute("select id from topics order by id limit %s", (TOPICS,))]
        region_ids = [r[0] for r in c.execute("select id from regions where code != 'UK' order by id")]
        uk = c.execute("select id from regions where code = 'UK'").fetchone()[0]

        def org(name: str, kind: str) -> int:
            return c.execute(
                "insert into organisations (name, name_normalised, slug, kind, user_led, lived_experience_led,"
                " description, website, website_domain, public_email, postcode, charity_number, visibility,"
                " review_status, submitter_name, submitter_email, review_note, created_at, updated_at) values"
                " (%s, %s, %s, %s, false, false, '', '', '', '', '', '', 'public', 'approved', '', '', '', %s, %s)"
                " returning id",
                (name, name.lower(), name.lower().replace(" ", "-"), kind, now_s, now_s),
            ).fetchone()[0]

        funders = [org(f"Invented Funder {i}", "funder") for i in range(40)]
        hosts = [org(f"Invented Host {i}", "vcse") for i in range(30)]
        published = _stamp(NOW - dt.timedelta(days=6))
        for i in range(300):
            deadline = _stamp(NOW + dt.timedelta(days=rng.randint(3, 120)))
            call_id = c.execute(
                "insert into funding_calls (title, title_normalised, slug, funder_id, url, summary, eligibility,"
                " search_text, next_deadline_at, last_deadline_at, amount_min, amount_max, requires_vcse_partner,"
                " vcse_can_be_co_lead, lead_must_be_academic, lead_must_be_vcse, status, published_at, created_at,"
                " updated_at) values (%s, %s, %s, %s, '', '', '', '', %s, %s, %s, %s, %s, false, false, false,"
                " 'published', %s, %s, %s) returning id",
                (
                    f"Invented call {i} for community mental health research",
                    f"invented call {i}",
                    f"call-{i}",
                    rng.choice(funders),
                    deadline,
                    deadline,
                    rng.choice([None, 5000, 10000]),
                    rng.choice([None, 50000, 250000]),
                    rng.random() < 0.3,
                    published,
                    now_s,
                    now_s,
                ),
            ).fetchone()[0]
            for t in zipf(rng.randint(1, 3)):
                c.execute("insert into funding_call_topics values (%s, %s)", (call_id, topic_ids[t]))
            if rng.random() < 0.5:
                regs = [uk] if rng.random() < 0.3 else rng.sample(region_ids, rng.randint(1, 2))
                for r in regs:
                    c.execute("insert into funding_call_regions values (%s, %s)", (call_id, r))
        for i in range(50):
            start = NOW + dt.timedelta(days=rng.randint(2, 50), hours=rng.randint(9, 17))
            c.execute(
                "insert into events (uid, title, slug, description, host_organisation_id, starts_at, ends_at,"
                " all_day, venue, online_url, allow_requests, status, sequence, reminder_offsets_hours,"
                " offer_hold_hours, offers_stop_hours, published_at, created_at, updated_at) values (%s, %s, %s, '',"
                " %s, %s, %s, false, %s, '', false, 'published', 0, '[]', 48, 24, %s, %s, %s)",
                (
                    f"evt-{i}@bench",
                    f"Invented network meeting {i}",
                    f"event-{i}",
                    rng.choice(hosts),
                    _stamp(start),
                    _stamp(start + dt.timedelta(hours=2)),
                    f"Invented Hall {i}, Leeds",
                    published,
                    now_s,
                    now_s,
                ),
            )
        for i in range(150):
            closing = (NOW + dt.timedelta(days=rng.randint(5, 60))).date()
            internship_id = c.execute(
                "insert into internships (title, slug, host_organisation_id, direction, description, region_id,"
                " mode, paid, stipend_pence, stipend_period, hours_per_week, duration, closing_date, closes_at,"
                " apply_url, apply_email, status, host_contact_name, host_contact_email, review_note, published_at,"
                " created_at, updated_at) values (%s, %s, %s, %s, '', %s, %s, true, %s, %s, %s, '', %s, %s, '',"
                " '', 'published', '', '', '', %s, %s, %s) returning id",
                (
                    f"Invented placement {i}",
                    f"placement-{i}",
                    rng.choice(hosts),
                    rng.choice(["researcher-to-vcse", "vcse-to-academic"]),
                    rng.choice([*region_ids, uk]),
                    rng.choice(["on-site", "hybrid", "remote"]),
                    25000,
                    "week",
                    rng.choice([10, 20, 35]),
                    closing.isoformat(),
                    f"{closing.isoformat()} 23:59:00+00",
                    published,
                    now_s,
                    now_s,
                ),
            ).fetchone()[0]
            for t in zipf(2):
                c.execute("insert into internship_topics values (%s, %s)", (internship_id, topic_ids[t]))
        c.commit()

        started = time.perf_counter()
        sub_cols = (
            "id, email, name, organisation_name, mailings, funder_ids, only_vcse_partner_calls, filters, frequency,"
            " status, consent_version, confirmed_at, confirm_nonce, created_at, updated_at"
        )
        with c.cursor() as cur:
            for first in range(1, n + 1, COPY_CHUNK):
                subs, st, sr = io.StringIO(), io.StringIO(), io.StringIO()
                for i in range(first, min(n, first + COPY_CHUNK - 1) + 1):
                    mailings = ["funding_digest"]
                    if rng.random() < 0.4:
                        mailings.append("event_news")
                    if rng.random() < 0.3:
                        mailings.append("internship_alerts")
                    subs.write(
                        f"{i}\treader{i}@example.org\tReader {i}\t\t{json.dumps(mailings)}\t[]\tf\t{{}}\tweekly\t"
                        f"active\tv1\t{now_s}\t0\t{now_s}\t{now_s}\n"
                    )
                    for t in zipf(3):
                        st.write(f"{i}\t{topic_ids[t]}\n")
                    if rng.random() < 0.5:
                        sr.write(f"{i}\t{rng.choice(region_ids)}\n")
                for table, buffer in (
                    (f"subscriptions ({sub_cols})", subs),
                    ("subscription_topics (subscription_id, topic_id)", st),
                    ("subscription_regions (subscription_id, region_id)", sr),
                ):
                    with cur.copy(f"COPY {table} FROM STDIN") as copy:
                        copy.write(buffer.getvalue())
                c.commit()
                done = min(n, first + COPY_CHUNK - 1)
                rate = done / max(1e-9, time.perf_counter() - started)
                progress(f"  seeded {done:,} / {n:,} subscribers ({rate:,.0f} a second)")
        c.execute("select setval('subscriptions_id_seq', %s)", (max(1, n),))
        c.execute("create table if not exists bench_seed (subscribers integer not null, seed integer not null)")
        c.execute("delete from bench_seed")
        c.execute("insert into bench_seed values (%s, %s)", (n, seed_value))
        c.commit()
    with psycopg.connect(dsn(database_url), autocommit=True) as c:
        progress("  ANALYZE")
        c.execute("analyze")
        c.execute("checkpoint")


_SAME_QUERIES = {
    "subscriptions": "select s.id, s.email, s.mailings from subscriptions s order by s.id",
    "subscription topics": "select t.subscription_id, tp.slug from subscription_topics t join topics tp"
    " on tp.id = t.topic_id order by 1, 2",
    "subscription regions": "select r.subscription_id, g.code from subscription_regions r join regions g"
    " on g.id = r.region_id order by 1, 2",
    "calls": "select c.slug, c.next_deadline_at, c.amount_min, c.amount_max, c.requires_vcse_partner, o.name"
    " from funding_calls c join organisations o on o.id = c.funder_id order by c.slug",
    "call topics": "select c.slug, tp.slug from funding_call_topics t join funding_calls c on c.id = t.call_id"
    " join topics tp on tp.id = t.topic_id order by 1, 2",
    "call regions": "select c.slug, g.code from funding_call_regions r join funding_calls c on c.id = r.call_id"
    " join regions g on g.id = r.region_id order by 1, 2",
    "events": "select e.slug, e.starts_at, o.name from events e join organisations o on o.id ="
    " e.host_organisation_id order by e.slug",
    "internships": "select i.slug, i.closing_date, o.name, i.direction, g.code, i.mode, i.hours_per_week from"
    " internships i join organisations o on o.id = i.host_organisation_id left join regions g on g.id = i.region_id"
    " order by i.slug",
    "internship topics": "select i.slug, tp.slug from internship_topics t join internships i on i.id ="
    " t.internship_id join topics tp on tp.id = t.topic_id order by 1, 2",
}


def _plain(value: object) -> object:
    """One value as both databases can agree on it: datetimes as UTC minutes, booleans as ints, JSON as lists."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value[:1] == "[":
        return json.loads(value)
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] == " ":
        return value[:16]
    return value


def compare_with_sqlite(database_url: str, n: int, seed_value: int) -> list[str]:
    """Differences between this module's PostgreSQL data and ``bench/digests.py``'s SQLite data for the same N and
    seed (empty = the same subscribers, items, topics and regions)."""
    import sqlite3
    import tempfile

    import psycopg

    from bench.digests import generate

    differences = []
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/same.sqlite3"
        generate(path, n, seed_value)
        lite = sqlite3.connect(path)
        with psycopg.connect(dsn(database_url)) as pg:
            for name, sql in _SAME_QUERIES.items():
                a = [tuple(map(_plain, row)) for row in lite.execute(sql)]
                b = [tuple(map(_plain, row)) for row in pg.execute(sql)]
                if a != b:
                    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
                    differences.append(
                        f"{name}: {len(a)} rows in SQLite, {len(b)} in PostgreSQL; first difference at row {first}: "
                        f"{a[first] if first < len(a) else None} vs {b[first] if first < len(b) else None}"
                    )
        lite.close()
    return differences
