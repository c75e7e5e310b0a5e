"""Digest benchmark: one period end to end against seeded synthetic data, beside the §10.4 floor script.

    .venv/bin/python bench/digests.py --subscribers 10000 100000 [--dispatch] [--store-bodies]

For each N a fresh SQLite database is generated (seeded: ~3 of 40 topics per subscriber, Zipf-skewed; ~500 open
items across calls, events and internships). Then, each in its own process (so peak RSS is its own):

- ``floor``: raw sqlite3, keyset batches of 1,000, interests in one range query per batch, items loaded once,
  item fragments rendered once, one shell render per subscriber, SendGrid-style JSON with msgspec, one
  checkpoint write per batch (performance.md §10.4);
- ``app``: ``crm.digests.engine.run_period`` (selection, ledger, hand-over to the outbox) and then rendering as
  the dispatcher does it (``render_claimed``, one claim of 4,000 at a time), or with ``--dispatch`` the real
  dispatcher through the SendGrid transport to a local fake server; with ``--store-bodies`` the engine
  renders at build time and stores bodies (the design we did not choose) for comparison.

Prints digests/s, SQL statements (total and per batch), peak RSS, and the ratios. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
PERIOD = "2026-W48"
TOPICS = 40


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(path: str, **extra):
    from crm.settings import Settings

    return Settings(
        env="test",
        database_url=f"sqlite:///{path}",
        secret_keys=("bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz",),
        base_url="https://roundtable.example.org",
        mail_rate_per_second=0,
        **extra,
    )


def zipf_choice(rng: random.Random, n: int, k: int, weights: list[float]) -> list[int]:
    chosen: set[int] = set()
    while len(chosen) < k:
        chosen.add(rng.choices(range(n), weights=weights)[0])
    return sorted(chosen)


def generate(path: str, n: int, seed: int) -> None:
    from crm.db import create_db_engine, create_session_factory, unit_of_work
    from crm.directory.reference import ensure_reference_data
    from crm.migrate import upgrade

    settings = settings_for(path)
    engine = create_db_engine(settings)
    upgrade(engine)
    with unit_of_work(create_session_factory(engine)) as session:
        ensure_reference_data(session)
    engine.dispose()
    rng = random.Random(seed)
    c = sqlite3.connect(path)
    now_s = NOW.strftime("%Y-%m-%d %H:%M:%S.000000")
    existing = c.execute("select count(*) from topics").fetchone()[0]
    for i in range(existing, TOPICS):
        c.execute("insert into topics (slug, name, description) values (?, ?, '')", (f"bench-topic-{i}", f"Topic {i}"))
    topic_ids = [r[0] for r in c.execute("select id from topics order by id limit ?", (TOPICS,))]
    region_ids = [r[0] for r in c.execute("select id from regions where code != 'UK' order by id")]
    uk = c.execute("select id from regions where code = 'UK'").fetchone()[0]
    weights = [1 / (i + 1) for i in range(TOPICS)]

    def org(name: str, kind: str) -> int:
        cur = c.execute(
            "insert into organisations (name, name_normalised, slug, kind, user_led, lived_experience_led, description,"
            " website, website_domain, public_email, postcode, charity_number, visibility, review_status,"
            " submitter_name, submitter_email, review_note, created_at, updated_at) values"
            " (?, ?, ?, ?, 0, 0, '', '', '', '', '', '', 'public', 'approved', '', '', '', ?, ?)",
            (name, name.lower(), name.lower().replace(" ", "-"), kind, now_s, now_s),
        )
        return cur.lastrowid

    funders = [org(f"Invented Funder {i}", "funder") for i in range(40)]
    hosts = [org(f"Invented Host {i}", "vcse") for i in range(30)]
    published = (NOW - dt.timedelta(days=6)).strftime("%Y-%m-%d %H:%M:%S.000000")
    for i in range(300):
        deadline = (NOW + dt.timedelta(days=rng.randint(3, 120))).strftime("%Y-%m-%d %H:%M:%S.000000")
        cur = c.execute(
            "insert into funding_calls (title, title_normalised, slug, funder_id, url, summary, eligibility,"
            " search_text, next_deadline_at, last_deadline_at, amount_min, amount_max, requires_vcse_partner,"
            " vcse_can_be_co_lead, lead_must_be_academic, lead_must_be_vcse, status, published_at, created_at,"
            " updated_at) values (?, ?, ?, ?, '', '', '', '', ?, ?, ?, ?, ?, 0, 0, 0, 'published', ?, ?, ?)",
            (
                f"Invented call {i} for community mental health research",
                f"invented call {i}",
                f"call-{i}",
                rng.choice(funders),
                deadline,
                deadline,
                rng.choice([None, 5000, 10000]),
                rng.choice([None, 50000, 250000]),
                int(rng.random() < 0.3),
                published,
                now_s,
                now_s,
            ),
        )
        for t in zipf_choice(rng, TOPICS, rng.randint(1, 3), weights):
            c.execute("insert into funding_call_topics values (?, ?)", (cur.lastrowid, topic_ids[t]))
        if rng.random() < 0.5:
            regs = [uk] if rng.random() < 0.3 else rng.sample(region_ids, rng.randint(1, 2))
            for r in regs:
                c.execute("insert into funding_call_regions values (?, ?)", (cur.lastrowid, r))
    for i in range(50):
        start = NOW + dt.timedelta(days=rng.randint(2, 50), hours=rng.randint(9, 17))
        c.execute(
            "insert into events (uid, title, slug, description, host_organisation_id, starts_at, ends_at, all_day,"
            " venue, online_url, allow_requests, status, sequence, reminder_offsets_hours, offer_hold_hours,"
            " offers_stop_hours, published_at, created_at, updated_at) values (?, ?, ?, '', ?, ?, ?, 0, ?, '', 0,"
            " 'published', 0, '[]', 48, 24, ?, ?, ?)",
            (
                f"evt-{i}@bench",
                f"Invented network meeting {i}",
                f"event-{i}",
                rng.choice(hosts),
                start.strftime("%Y-%m-%d %H:%M:%S.000000"),
                (start + dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.000000"),
                f"Invented Hall {i}, Leeds",
                published,
                now_s,
                now_s,
            ),
        )
    for i in range(150):
        closing = (NOW + dt.timedelta(days=rng.randint(5, 60))).date()
        cur = c.execute(
            "insert into internships (title, slug, host_organisation_id, direction, description, region_id, mode,"
            " paid, stipend_pence, stipend_period, hours_per_week, duration, closing_date, closes_at, apply_url,"
            " apply_email, status, host_contact_name, host_contact_email, review_note, published_at, created_at,"
            " updated_at) values (?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, '', ?, ?, '', '', 'published', '', '', '', ?,"
            " ?, ?)",
            (
                f"Invented placement {i}",
                f"placement-{i}",
                rng.choice(hosts),
                rng.choice(["researcher-to-vcse", "vcse-to-academic"]),
                rng.choice([*region_ids, uk]),
                rng.choice(["on-site", "hybrid", "remote"]),
                1,
                25000,
                "week",
                rng.choice([10, 20, 35]),
                closing.isoformat(),
                f"{closing.isoformat()} 23:59:00.000000",
                published,
                now_s,
                now_s,
            ),
        )
        for t in zipf_choice(rng, TOPICS, 2, weights):
            c.execute("insert into internship_topics values (?, ?)", (cur.lastrowid, topic_ids[t]))
    subs, st, sr = [], [], []
    for i in range(1, n + 1):
        mailings = ["funding_digest"]
        if rng.random() < 0.4:
            mailings.append("event_news")
        if rng.random() < 0.3:
            mailings.append("internship_alerts")
        subs.append(
            (
                i,
                f"reader{i}@example.org",
                f"Reader {i}",
                json.dumps(mailings),
                "[]",
                0,
                "{}",
                "weekly",
                "active",
                "v1",
                now_s,
                0,
                now_s,
                now_s,
            )
        )
        for t in zipf_choice(rng, TOPICS, 3, weights):
            st.append((i, topic_ids[t]))
        if rng.random() < 0.5:
            sr.append((i, rng.choice(region_ids)))
    c.executemany(
        "insert into subscriptions (id, email, name, mailings, funder_ids, only_vcse_partner_calls, filters,"
        " frequency, status, consent_version, confirmed_at, confirm_nonce, created_at, updated_at, organisation_name)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
        subs,
    )
    c.executemany("insert into subscription_topics values (?, ?)", st)
    c.executemany("insert into subscription_regions values (?, ?)", sr)
    c.commit()
    c.close()


# --- the floor (performance.md §10.4) ------------------------------------------------------------------------------

FLOOR_ITEM = (
    '<p style="margin:0 0 14px;"><a href="{{ it.url }}" style="color:#1d5c4a;font-weight:bold;">{{ it.title }}</a>'
    "<br>{{ it.meta }}</p>"
)
FLOOR_SHELL = (
    "<!doctype html><html><body><p>Hello {{ name }},</p>{% for title, frags in sections %}<h2>{{ title }}</h2>"
    '{% for f in frags %}{{ f }}{% endfor %}{% endfor %}<p><a href="https://roundtable.example.org/u/{{ token }}">'
    "Unsubscribe</a></p></body></html>"
)


def run_floor(path: str) -> dict:
    import msgspec
    from jinja2 import Environment
    from markupsafe import Markup

    started = time.perf_counter()
    c = sqlite3.connect(path)
    statements = 0

    def q(sql: str, params=()):
        nonlocal statements
        statements += 1
        return c.execute(sql, params)

    env = Environment(autoescape=True, auto_reload=False)
    item_tpl, shell_tpl = env.from_string(FLOOR_ITEM), env.from_string(FLOOR_SHELL)
    q("create table if not exists floor_checkpoint (id integer primary key, last integer)")
    items = q(
        "select c.id, c.title, c.slug, ct.topic_id from funding_calls c join funding_call_topics ct on ct.call_id = c.id"
    ).fetchall()
    by_topic: dict[int, list[int]] = {}
    frag: dict[int, Markup] = {}
    for cid, title, slug, topic in items:
        by_topic.setdefault(topic, []).append(cid)
        if cid not in frag:
            frag[cid] = Markup(
                item_tpl.render(it={"url": f"https://x/funding-calls/{slug}", "title": title, "meta": "Funder · £"})
            )
    events = q("select id, title, slug from events").fetchall()
    for eid, title, slug in events:
        frag[-eid] = Markup(item_tpl.render(it={"url": f"https://x/events/{slug}", "title": title, "meta": "When"}))
    encoder = msgspec.json.Encoder()
    last, digests, requests, batch = 0, 0, 0, 1000
    while True:
        subs = q(
            "select id, email, name from subscriptions where status='active' and id>? order by id limit ?",
            (last, batch),
        ).fetchall()
        if not subs:
            break
        interests: dict[int, list[int]] = {}
        for sid, tid in q(
            "select subscription_id, topic_id from subscription_topics where subscription_id between ? and ?",
            (subs[0][0], subs[-1][0]),
        ):
            interests.setdefault(sid, []).append(tid)
        personalizations = []
        for sid, email, name in subs:
            chosen = []
            for t in interests.get(sid, ()):
                chosen.extend(by_topic.get(t, ())[:2])
            sections = [
                ("New funding calls", [frag[i] for i in chosen[:5]]),
                ("Events", [frag[-e[0]] for e in events[:2]]),
            ]
            html = shell_tpl.render(name=name, token=f"tok{sid}", sections=sections)
            personalizations.append(
                {"to": [{"email": email}], "substitutions": {"-body-": html}, "custom_args": {"sid": str(sid)}}
            )
            digests += 1
        encoder.encode(
            {
                "from": {"email": "x@y"},
                "subject": "s",
                "content": [{"type": "text/html", "value": "-body-"}],
                "personalizations": personalizations,
            }
        )
        requests += 1
        last = subs[-1][0]
        q("insert or replace into floor_checkpoint values (1, ?)", (last,))
        c.commit()
    seconds = time.perf_counter() - started
    return {
        "mode": "floor",
        "digests": digests,
        "seconds": seconds,
        "statements": statements,
        "requests": requests,
        "rss_mb": rss_mb(),
    }


# --- the app ----------------------------------------------------------------------------------------------------


def run_app(path: str, dispatch: bool, store_bodies: bool) -> dict:
    from sqlalchemy import event, func, select

    from crm import models as m
    from crm.db import create_db_engine, create_session_factory
    from crm.digests import engine as digest_engine
    from crm.digests import periods
    from crm.digests.render import DigestRenderer, render_claimed

    counter = {"n": 0}
    fake = None
    extra = {}
    if dispatch:
        sys.path.insert(0, str(ROOT))
        from tests.mailing.fake_sendgrid import FakeSendGrid

        fake = FakeSendGrid(record_bodies=False).__enter__()
        extra = {"mail_transport": "sendgrid", "sendgrid_api_url": fake.url, "sendgrid_api_key": "SG.bench"}
    settings = settings_for(path, **extra)
    eng = create_db_engine(settings)
    factory = create_session_factory(eng)

    @event.listens_for(eng, "before_cursor_execute")
    def _count(*args):
        counter["n"] += 1

    period = periods.parse(PERIOD)
    size_before = os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0)
    started = time.perf_counter()
    renderer = DigestRenderer(settings) if store_bodies else None
    stats = digest_engine.run_period(factory, settings, period, now=NOW, render_at_build=renderer)
    build_seconds = time.perf_counter() - started
    build_statements = counter["n"]
    out = {
        "mode": "app" + (" (bodies stored)" if store_bodies else ""),
        "digests": stats.sent,
        "skipped": stats.skipped_empty,
        "build_seconds": build_seconds,
        "statements": build_statements,
        "batches": stats.batches,
    }
    if dispatch:
        from crm.domains import EXTENSIONS
        from crm.mailing.dispatch import drain
        from crm.mailing.transports.sendgrid import SendGridTransport

        transport = SendGridTransport(settings)
        d = drain(factory, transport, settings, renderers=EXTENSIONS.deferred_renderers)
        transport.close()
        out["dispatch"] = {"sent": d.sent, "failed": d.failed, "retried": d.retried}
        out["requests"] = fake.request_count
        out["personalizations"] = fake.personalizations
        fake.__exit__(None, None, None)
    else:
        # Render exactly as the dispatcher does, claim by claim, without the HTTP part.
        ids = [r[0] for r in eng.connect().execute(select(m.OutboxMessage.id).order_by(m.OutboxMessage.id))]
        sizes = []
        for i in range(0, len(ids), 4000):
            with factory() as session:
                rows = list(session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.id.in_(ids[i : i + 4000]))))
                if store_bodies:
                    sizes.extend(len(json.dumps({"t": r.text_body, "h": r.html_body})) for r in rows[:50])
                    continue
                rendered = render_claimed(session, rows, settings, NOW)
                for v in list(rendered.values())[:50]:
                    sizes.append(len(json.dumps({"t": v[0].text, "h": v[0].html})))
        out["substitution_bytes_p50"] = sorted(sizes)[len(sizes) // 2] if sizes else 0
        out["substitution_bytes_max_sample"] = max(sizes) if sizes else 0
    total = time.perf_counter() - started
    with eng.connect() as conn:  # what stays in the database file, not pages waiting in the WAL
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        if dispatch and "sent_copy" in m.OutboxMessage.__table__.c:
            out["sent_copy_bytes"] = conn.execute(select(func.avg(func.length(m.OutboxMessage.sent_copy)))).scalar()
    size_after = os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0)
    with eng.connect() as conn:
        out["outbox_rows"] = conn.execute(select(func.count()).select_from(m.OutboxMessage)).scalar()
    out.update(seconds=total, rss_mb=rss_mb(), db_growth_mb=(size_after - size_before) / 1e6)
    return out


def child(args) -> None:
    result = run_floor(args.db) if args.child == "floor" else run_app(args.db, args.dispatch, args.store_bodies)
    print("RESULT " + json.dumps(result))


def spawn(mode: str, db: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--db", db]
    if args.dispatch:
        cmd.append("--dispatch")
    if args.store_bodies:
        cmd.append("--store-bodies")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"{mode} failed:\n{out.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dispatch", action="store_true", help="send through the SendGrid transport to a fake server")
    parser.add_argument("--store-bodies", action="store_true", help="render at build time and store bodies")
    parser.add_argument("--child", choices=["floor", "app"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows = []
    for n in args.subscribers:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "bench.sqlite3")
            t = time.perf_counter()
            generate(db, n, args.seed)
            print(f"N={n}: data generated in {time.perf_counter() - t:.1f} s", flush=True)
            floor = spawn("floor", db, args)
            app = spawn("app", db, args)
        rows.append((n, floor, app))
        budget = 3 * math.ceil(n / 1000) + 10
        f_rate = floor["digests"] / floor["seconds"]
        a_rate = app["digests"] / app["seconds"]
        print(f"N={n}")
        print(
            f"  floor: {floor['digests']} digests in {floor['seconds']:.2f} s = {f_rate:,.0f}/s, "
            f"{floor['statements']} statements, peak RSS {floor['rss_mb']:.0f} MB"
        )
        print(
            f"  {app['mode']}: {app['digests']} digests (+{app['skipped']} empty) in {app['seconds']:.2f} s "
            f"= {a_rate:,.0f}/s end to end (build {app['build_seconds']:.2f} s = "
            f"{app['digests'] / app['build_seconds']:,.0f}/s), {app['statements']} build statements "
            f"({app['statements'] / max(1, app['batches']):.2f} per batch; budget {budget}), "
            f"peak RSS {app['rss_mb']:.0f} MB, database grew {app['db_growth_mb']:.1f} MB "
            f"= {app['db_growth_mb'] * 1e6 / max(1, app['digests']):,.0f} B per digest"
            + (
                f" (stored copy of what was sent: {app['sent_copy_bytes']:,.0f} B average)"
                if app.get("sent_copy_bytes")
                else ""
            )
        )
        if "requests" in app:
            print(
                f"  SendGrid fake: {app['requests']} requests, {app['personalizations']} personalizations, {app['dispatch']}"
            )
        else:
            print(
                f"  substitution size per digest: median {app['substitution_bytes_p50']} B, max sampled {app['substitution_bytes_max_sample']} B"
            )
        print(f"  ratio app/floor: {a_rate / f_rate:.0%}")
    if len(rows) >= 2:
        (n1, _, a1), (n2, _, a2) = rows[0], rows[-1]
        print(f"RSS ratio app N={n2} / N={n1}: {a2['rss_mb'] / a1['rss_mb']:.2f}")
        print(f"statements ratio: {a2['statements'] / a1['statements']:.2f}")


if __name__ == "__main__":
    main()
