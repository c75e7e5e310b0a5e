"""Digest benchmark: one period end to end against seeded synthetic data, beside a like-for-like floor.

    .venv/bin/python bench/digests.py --subscribers 10000 100000 [--dispatch] [--store-bodies]

For each N a fresh SQLite database is generated (seeded: ~3 of 40 topics per subscriber, Zipf-skewed; ~500 open
items across calls, events and internships), then copied so the floor and the app each start from the same
data. Each runs in its own process (peak RSS is its own); the local fake SendGrid runs in a third process, so
its CPU is not counted as ours. The primary figure is CPU time (``time.process_time``, every thread of the
process), not wall time: the machine is shared.

- ``floor``: what a plain script does for the same digests, no ORM: sqlite3 keyset batches of 1,000 (the same
  subscriptions + topics + regions + ledger + hidden aggregates), open items loaded once, matching in memory
  (topics, regions with UK-wide, closing soon before new, events, internships; excluding items already sent and
  hidden, published after the cut-off), item fragments rendered once from the same templates, subject + text +
  HTML assembled per digest with the footer links signed the same way (one HMAC-SHA256 token per digest), the
  ledger rows and a stored copy (msgspec JSON, deflated with the same preset dictionary) written per batch, and
  one SendGrid request of 1,000 personalizations (msgspec) POSTed to the same fake server;
- ``app``: ``crm.digests.engine.run_period`` (selection, ledger, outbox) and then either rendering as the
  dispatcher does it (``render_claimed``, claims of 1,000), or with ``--dispatch`` the real dispatcher (claims of
  1,000 = one SendGrid request each, up to ``CRM_SENDGRID_CONCURRENCY`` in flight while the next is prepared:
  claim, consent and suppression, render, stored copy, SendGrid transport to the fake server, outcomes); with
  ``--store-bodies`` the engine renders at build time and stores bodies (the design we did not choose).

Prints CPU µs per digest (ours end to end and the floor's), ours as % of the floor's speed, wall time, peak
RSS, statements and database bytes per digest, with the load average, and each target of issue 15.5 as met or
not. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
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


# --- the fake SendGrid, in its own process ------------------------------------------------------------------------


def start_fake() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.mailing.fake_sendgrid", str(port), "0"], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            fake_counts(url)
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the fake SendGrid server did not start")


def fake_counts(url: str) -> dict:
    with urllib.request.urlopen(url + "/", timeout=5) as r:
        return json.loads(r.read())


# --- the like-for-like floor ------------------------------------------------------------------------------------

FLOOR_SUBS = """
select s.id, s.email, s.name, s.mailings,
  (select group_concat(t.topic_id, ',') from subscription_topics t join topics tp on tp.id = t.topic_id
     where t.subscription_id = s.id),
  (select group_concat(r.region_id, ',') from subscription_regions r where r.subscription_id = s.id),
  (select group_concat(l.items, ',') from digest_deliveries l where l.subscription_id = s.id),
  (select group_concat(h.item_kind || ':' || h.item_id, ',') from digest_hidden_items h where h.subscription_id = s.id)
from subscriptions s where s.status = 'active' and s.frequency = 'weekly' and s.id > ? order by s.id limit ?
"""


def _ids(raw):
    return {int(x) for x in raw.split(",")} if raw else set()


def _pairs(raw):
    return {tuple(p.split(":")) for p in raw.split(",")} if raw else set()


def run_floor(path: str, url: str) -> dict:
    """The same digests as the app, written the way a plain script would (see the module docstring)."""
    import base64
    import hashlib
    import hmac
    import http.client
    import zlib

    import msgspec
    from jinja2 import Environment, FileSystemLoader
    from markupsafe import Markup, escape

    from crm.models.sent_copy_dictionary import DICTIONARY_V1

    cpu0, wall0 = time.process_time(), time.perf_counter()
    c = sqlite3.connect(path)
    statements = 0

    def q(sql: str, params=()):
        nonlocal statements
        statements += 1
        return c.execute(sql, params)

    base = "https://roundtable.example.org"
    opts = {"loader": FileSystemLoader(str(ROOT / "templates")), "trim_blocks": True, "lstrip_blocks": True}
    html_env = Environment(autoescape=True, **opts)
    text_env = Environment(autoescape=False, keep_trailing_newline=True, **opts)
    for env in (html_env, text_env):
        env.globals.update(base_url=base, postal_address="Roundtable, 1 Invented Street, Leeds", product="Roundtable")
    now_s = NOW.strftime("%Y-%m-%d %H:%M:%S")
    cutoff_s = "2026-11-23 08:00:00"
    soon_s = (NOW + dt.timedelta(weeks=3)).strftime("%Y-%m-%d %H:%M:%S")
    uk = {r[0] for r in q("select id from regions where code = 'UK'")}
    call_topics, call_regions = {}, {}
    for cid, tid in q("select call_id, topic_id from funding_call_topics"):
        call_topics.setdefault(cid, set()).add(tid)
    for cid, rid in q("select call_id, region_id from funding_call_regions"):
        call_regions.setdefault(cid, set()).add(rid)

    class It:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    calls = []
    for cid, title, slug, funder, deadline, vcse, published in q(
        "select c.id, c.title, c.slug, o.name, c.next_deadline_at, c.requires_vcse_partner, c.published_at"
        " from funding_calls c left join organisations o on o.id = c.funder_id"
        " where c.status = 'published' and (c.next_deadline_at is null or c.next_deadline_at > ?)"
        " order by c.next_deadline_at, c.id",
        (now_s,),
    ):
        regs = call_regions.get(cid, set())
        calls.append(
            It(
                id=cid,
                title=title,
                url=f"{base}/funding-calls/{slug}",
                funder=funder,
                amount="",
                needs_vcse=bool(vcse),
                deadline_label=deadline[:16],
                closing=deadline < soon_s,
                published=published,
                topics=call_topics.get(cid, set()),
                regions=regs,
                anywhere=not regs or bool(regs & uk),
            )
        )
    events = [
        It(id=eid, title=title, url=f"{base}/events/{slug}", when=starts[:16], place=venue, host="", published=pub)
        for eid, title, slug, starts, venue, pub in q(
            "select id, title, slug, starts_at, venue, published_at from events where status = 'published'"
            " and starts_at > ? order by starts_at, id",
            (now_s,),
        )
    ]
    intern_topics = {}
    for iid, tid in q("select internship_id, topic_id from internship_topics"):
        intern_topics.setdefault(iid, set()).add(tid)
    internships = [
        It(id=iid, title=title, url=f"{base}/internships/{slug}", topics=intern_topics.get(iid, set()), published=pub)
        for iid, title, slug, pub in q(
            "select id, title, slug, published_at from internships where status = 'published' and closes_at > ?"
            " order by closes_at, id",
            (now_s,),
        )
    ]
    nr = "NRTOKEN0placeholder"
    frags = {}

    def fragment(kind: str, it) -> tuple[str, str]:
        key = (kind, it.id)
        if key not in frags:
            name = {"call": "_section_calls", "event": "_section_events"}.get(kind, "_section_calls")
            ctx = {"it": it, "nr_url": f"{base}/digests/hide/{nr}/{kind}-{it.id}"}
            frags[key] = (
                html_env.get_template(f"email/{name}.html").render(ctx),
                text_env.get_template(f"email/{name}.txt").render(ctx),
            )
        return frags[key]

    names = (
        "name_part",
        "summary",
        "subject_summary",
        "sections_html",
        "sections_text",
        "unsubscribe_url",
        "unsubscribe_all_url",
        "preferences_url",
        "why_text",
    )
    marks = {n: Markup(f"\x00{n}\x00") for n in names}
    ctx = {**marks, "frequency": "weekly", "period_label": "week of 23 November 2026", "postal_address": "x"}
    shells = {}
    for part, env, suffix in (
        ("html", html_env, "html"),
        ("text", text_env, "txt"),
        ("subject", text_env, "subject.txt"),
    ):
        rendered = env.get_template(f"email/digest.{suffix}").render(
            ctx if part == "html" else {k: str(v) for k, v in ctx.items()}
        )
        shells[part] = rendered.split("\x00")  # static, name, static, ...
    headings = {}
    for title in ("Closing soon", "New funding calls", "Upcoming events", "Open internships"):
        headings[title] = (f'<h2 style="font-size:19px;">{title}</h2>\n', f"\n{title}\n{'=' * len(title)}\n\n")

    def fill(parts: list[str], values: dict) -> str:
        return "".join(values[p] if i % 2 else p for i, p in enumerate(parts))

    mac_key = hmac.new(hmac.new(b"bench-secret", b"crm.digest", hashlib.sha256).digest(), digestmod=hashlib.sha256)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    copy_base = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_V1)
    encoder = msgspec.json.Encoder()
    why = "You get this because you subscribed to Roundtable's weekly digest and confirmed your address."
    q("create table if not exists floor_sent (key text primary key, subscription_id integer, sent_copy blob)")
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    last, digests, requests, batch, out_bytes = 0, 0, 0, 1000, 0
    while True:
        subs = q(FLOOR_SUBS, (last, batch)).fetchall()
        if not subs:
            break
        personalizations, ledger, sent_rows = [], [], []
        for sid, email, name, mailings, topics_raw, regions_raw, sent_raw, hidden_raw in subs:
            mailings = json.loads(mailings)
            topics, regions, sent, hidden = _ids(topics_raw), _ids(regions_raw), _pairs(sent_raw), _pairs(hidden_raw)
            chosen: list[tuple[str, list]] = []
            if "funding_digest" in mailings:
                soon, new = [], []
                for it in calls:
                    if it.published > cutoff_s or (topics and not topics & it.topics):
                        continue
                    if regions and not it.anywhere and not regions & it.regions:
                        continue
                    sid_s = str(it.id)
                    if ("call", sid_s) in hidden:
                        continue
                    if it.closing and len(soon) < 2 and ("call_closing", sid_s) not in sent:
                        soon.append(it)
                    elif len(new) < 3 and ("call", sid_s) not in sent and not it.closing:
                        new.append(it)
                    if len(soon) == 2 and len(new) == 3:
                        break
                chosen += [("Closing soon", soon), ("New funding calls", new)]
            if "event_news" in mailings:
                ev = [e for e in events if e.published <= cutoff_s and ("event", str(e.id)) not in sent | hidden][:2]
                chosen.append(("Upcoming events", ev))
            if "internship_alerts" in mailings:
                ins = [
                    i
                    for i in internships
                    if (not topics or topics & i.topics)
                    and i.published <= cutoff_s
                    and ("internship", str(i.id)) not in sent | hidden
                ][:2]
                chosen.append(("Open internships", ins))
            chosen = [(title, items) for title, items in chosen if items]
            if not chosen:
                continue
            kind_of = {"Upcoming events": "event", "Open internships": "internship"}
            html_parts, text_parts, summary, carried = [], [], [], []
            for title, items in chosen:
                kind = kind_of.get(title, "call")
                pieces = [fragment(kind, it) for it in items]
                h_head, t_head = headings[title]
                html_parts.append(h_head + "".join(p[0] for p in pieces))
                text_parts.append(t_head + "\n".join(p[1] for p in pieces))
                summary.append(f"{len(items)} {title.lower()}")
                ledger_kind = "call_closing" if title == "Closing soon" else kind
                carried.extend(f"{ledger_kind}:{it.id}" for it in items)
            ledger.append((sid, ",".join(carried), PERIOD, now_s))  # one row per digest, as the app writes
            body = b64(f"{sid}:{email}".encode())
            mac = mac_key.copy()
            mac.update(body.encode())
            token = f"{body}.{b64(mac.digest()[:16])}"
            unsub = f"{base}/u/{token}"
            text_summary = ", ".join(summary)
            links = {
                "unsubscribe_url": unsub,
                "unsubscribe_all_url": unsub + "~all",
                "preferences_url": f"{base}/preferences/{token}",
            }
            name_part = f" {name}" if name else ""
            subject = fill(shells["subject"], {"subject_summary": text_summary.capitalize(), "summary": text_summary})
            text = fill(
                shells["text"],
                {
                    **links,
                    "name_part": name_part,
                    "summary": text_summary,
                    "sections_text": "".join(text_parts),
                    "why_text": why,
                    "subject_summary": "",
                    "sections_html": "",
                },
            ).replace(nr, token)
            html = fill(
                shells["html"],
                {
                    **links,
                    "name_part": str(escape(name_part)),
                    "summary": str(escape(text_summary)),
                    "sections_html": "".join(html_parts),
                    "why_text": why,
                    "subject_summary": "",
                    "sections_text": "",
                },
            ).replace(nr, token)
            headers = {"List-Unsubscribe": f"<{unsub}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
            z = copy_base.copy()
            raw = encoder.encode({"subject": subject, "text": text, "html": html, "headers": headers})
            sent_rows.append((f"digest:{sid}:{PERIOD}", sid, b"\x01" + z.compress(raw) + z.flush()))
            personalizations.append(
                {
                    "to": [{"email": email, "name": name}],
                    "subject": subject,
                    "headers": headers,
                    "substitutions": {"-crm_text-": text, "-crm_html-": html},
                    "custom_args": {"crm_outbox_id": str(sid), "crm_kind": "digest"},
                }
            )
            digests += 1
        with c:  # the exactly-once record: what was sent and its ledger rows, one transaction per batch
            c.executemany("insert or ignore into floor_sent values (?, ?, ?)", sent_rows)
            c.executemany(
                "insert or ignore into digest_deliveries (subscription_id, items, period, sent_at) values (?, ?, ?, ?)",
                ledger,
            )
            statements += 2
        if personalizations:
            payload = encoder.encode(
                {
                    "from": {"email": "digest@roundtable.example.org"},
                    "subject": "digest",
                    "content": [
                        {"type": "text/plain", "value": "-crm_text-"},
                        {"type": "text/html", "value": "-crm_html-"},
                    ],
                    "personalizations": personalizations,
                }
            )
            out_bytes += len(payload)
            conn.request("POST", "/v3/mail/send", body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert response.status == 202, response.status
            requests += 1
        last = subs[-1][0]
    conn.close()
    return {
        "mode": "floor",
        "digests": digests,
        "cpu": time.process_time() - cpu0,
        "seconds": time.perf_counter() - wall0,
        "statements": statements,
        "requests": requests,
        "request_mb": out_bytes / 1e6,
        "rss_mb": rss_mb(),
    }


# --- the app ----------------------------------------------------------------------------------------------------


def run_app(path: str, dispatch: bool, store_bodies: bool, url: str | None, concurrency: int = 0) -> dict:
    from sqlalchemy import event, func, select

    from crm import models as m
    from crm.db import create_db_engine, create_session_factory
    from crm.digests import engine as digest_engine
    from crm.digests import periods
    from crm.digests.render import DigestRenderer, render_claimed
    from crm.domains import EXTENSIONS
    from crm.mailing.dispatch import drain
    from crm.mailing.transports.sendgrid import SendGridTransport

    counter = {"n": 0}
    extra = {"mail_transport": "sendgrid", "sendgrid_api_url": url, "sendgrid_api_key": "SG.bench"} if dispatch else {}
    if dispatch and concurrency:
        extra["sendgrid_concurrency"] = concurrency  # batches of 1,000 in flight at once
    settings = settings_for(path, **extra)
    eng = create_db_engine(settings)
    factory = create_session_factory(eng)

    @event.listens_for(eng, "before_cursor_execute")
    def _count(*args):
        counter["n"] += 1

    period = periods.parse(PERIOD)
    size_before = os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0)
    cpu0, started = time.process_time(), time.perf_counter()  # modules imported: time the work only
    renderer = DigestRenderer(settings) if store_bodies else None
    stats = digest_engine.run_period(factory, settings, period, now=NOW, render_at_build=renderer)
    build_cpu, build_seconds = time.process_time() - cpu0, time.perf_counter() - started
    build_statements = counter["n"]
    out = {
        "mode": "app" + (" (bodies stored)" if store_bodies else ""),
        "digests": stats.sent,
        "skipped": stats.skipped_empty,
        "build_cpu": build_cpu,
        "build_seconds": build_seconds,
        "statements": build_statements,
        "batches": stats.batches,
    }
    if dispatch:
        transport = SendGridTransport(settings)
        d = drain(factory, transport, settings, renderers=EXTENSIONS.deferred_renderers)
        transport.close()
        out["dispatch"] = {"sent": d.sent, "failed": d.failed, "retried": d.retried}
        out["dispatch_statements"] = counter["n"] - build_statements
    else:
        # Render exactly as the dispatcher does, claim by claim, without the HTTP part.
        ids = [r[0] for r in eng.connect().execute(select(m.OutboxMessage.id).order_by(m.OutboxMessage.id))]
        sizes = []
        for i in range(0, len(ids), 1000):
            with factory() as session:
                rows = list(session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.id.in_(ids[i : i + 1000]))))
                if store_bodies:
                    sizes.extend(len(json.dumps({"t": r.text_body, "h": r.html_body})) for r in rows[:50])
                    continue
                rendered = render_claimed(session, rows, settings, NOW)
                for v in list(rendered.values())[:50]:
                    sizes.append(len(json.dumps({"t": v[0].text, "h": v[0].html})))
        out["substitution_bytes_p50"] = sorted(sizes)[len(sizes) // 2] if sizes else 0
        out["substitution_bytes_max_sample"] = max(sizes) if sizes else 0
    out["cpu"], total = time.process_time() - cpu0, time.perf_counter() - started
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
    if args.child == "floor":
        result = run_floor(args.db, args.url)
    else:
        result = run_app(args.db, args.dispatch, args.store_bodies, args.url, args.sendgrid_concurrency)
    print("RESULT " + json.dumps(result))


def spawn(mode: str, db: str, args) -> dict:
    fake, url = start_fake() if (mode == "floor" or args.dispatch) else (None, "")
    cmd = [sys.executable, __file__, "--child", mode, "--db", db, "--url", url]
    if args.dispatch:
        cmd.append("--dispatch")
    if args.store_bodies:
        cmd.append("--store-bodies")
    if args.sendgrid_concurrency:
        cmd += ["--sendgrid-concurrency", str(args.sendgrid_concurrency)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        counts = fake_counts(url) if fake else {}
    finally:
        if fake:
            fake.terminate()
            fake.wait()
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[7:]), "fake": counts}
    raise SystemExit(f"{mode} failed:\n{out.stderr[-4000:]}")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dispatch", action="store_true", help="send through the SendGrid transport to a fake server")
    parser.add_argument("--store-bodies", action="store_true", help="render at build time and store bodies")
    parser.add_argument(
        "--sendgrid-concurrency",
        type=int,
        default=0,
        help="CRM_SENDGRID_CONCURRENCY: batches of 1,000 with the provider at once (default: the setting's default)",
    )
    parser.add_argument("--child", choices=["floor", "app"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows = []
    print(f"CPU {os.cpu_count()} cores; load average at start {load()}")
    for n in args.subscribers:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "bench.sqlite3")
            t = time.perf_counter()
            generate(db, n, args.seed)
            floor_db = os.path.join(tmp, "floor.sqlite3")
            shutil.copyfile(db, floor_db)
            print(f"N={n}: data generated in {time.perf_counter() - t:.1f} s", flush=True)
            load_before = load()
            floor = spawn("floor", floor_db, args)
            app = spawn("app", db, args)
            load_after = load()
        rows.append((n, floor, app))
        budget = 3 * math.ceil(n / 1000) + 10
        f_us = floor["cpu"] / max(1, floor["digests"]) * 1e6
        a_us = app["cpu"] / max(1, app["digests"]) * 1e6
        b_us = app["build_cpu"] / max(1, app["digests"]) * 1e6
        print(f"N={n} (load average {load_before} before, {load_after} after)")
        print(
            f"  floor: {floor['digests']} digests, CPU {floor['cpu']:.2f} s = {f_us:.0f} us per digest, "
            f"wall {floor['seconds']:.2f} s, {floor['statements']} statements, {floor['requests']} requests "
            f"({floor['request_mb']:.0f} MB), peak RSS {floor['rss_mb']:.0f} MB"
        )
        print(
            f"  {app['mode']}: {app['digests']} digests (+{app['skipped']} empty), CPU {app['cpu']:.2f} s = "
            f"{a_us:.0f} us per digest end to end (build {b_us:.0f} us, "
            f"{'dispatch' if 'dispatch' in app else 'render'} {a_us - b_us:.0f} us), wall {app['seconds']:.2f} s "
            f"(build {app['build_seconds']:.2f} s), {app['statements']} build statements "
            f"({app['statements'] / max(1, app['batches']):.2f} per batch; budget {budget}), "
            f"peak RSS {app['rss_mb']:.0f} MB"
        )
        print(
            f"  database grew {app['db_growth_mb']:.1f} MB = {app['db_growth_mb'] * 1e6 / max(1, app['digests']):,.0f} "
            "B per digest"
            + (
                f" (stored copy of what was sent: {app['sent_copy_bytes']:,.0f} B average)"
                if app.get("sent_copy_bytes")
                else ""
            )
        )
        if "dispatch" in app:
            print(
                f"  SendGrid fake: {app['fake'].get('requests')} requests, {app['fake'].get('personalizations')} "
                f"personalizations, {app['dispatch']}, {app['dispatch_statements']} dispatch statements"
            )
        else:
            print(
                f"  substitution size per digest: median {app['substitution_bytes_p50']} B, "
                f"max sampled {app['substitution_bytes_max_sample']} B"
            )
        print(f"  ours as % of the floor's speed (CPU): {f_us / a_us:.0%}  [target >= 40%; <= 250 us per digest]")
        db_bytes = app["db_growth_mb"] * 1e6 / max(1, app["digests"])
        checks = [
            ("CPU <= 250 us per digest end to end", a_us <= 250, f"{a_us:.0f} us"),
            (">= 40% of the like-for-like floor (same run)", f_us / a_us >= 0.40, f"{f_us / a_us:.0%}"),
            ("database <= 2 kB per digest", db_bytes <= 2000, f"{db_bytes:,.0f} B"),
        ]
        if "dispatch" in app and n >= 100_000:
            checks += [
                ("peak RSS < 250 MB (100k, with dispatch)", app["rss_mb"] < 250, f"{app['rss_mb']:.0f} MB"),
                ("100k end to end <= 30 s wall", app["seconds"] <= 30, f"{app['seconds']:.1f} s"),
            ]
        for name, met, value in checks:
            print(f"  target {name}: {value} -- {'met' if met else 'NOT met'}")
    if len(rows) >= 2:
        (n1, _, a1), (n2, _, a2) = rows[0], rows[-1]
        print(f"RSS ratio app N={n2} / N={n1}: {a2['rss_mb'] / a1['rss_mb']:.2f}")
        print(f"statements ratio: {a2['statements'] / a1['statements']:.2f}")


if __name__ == "__main__":
    main()
