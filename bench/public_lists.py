"""The public lists of the directory, funding calls, events and news and their API lists, timed whole in process
(handler, SQL, template or JSON), anonymous and past the stored public answers (``Cache-Control: no-cache``), on
SQLite or PostgreSQL.

    .venv/bin/python bench/public_lists.py [--root DIR] [--db sqlite|postgres] [--orgs 20000] [--events 2000]
                                           [--news 1000] [--calls 2000] [--runs 300] [--rounds 3] [--only /api/]

``--root``: the source tree to import ``crm`` from (a ``git archive`` of an older commit measures "before" with the
same script). Each round times every URL ``--runs`` times in turn (interleaved: a busy moment of the machine hits
every URL alike); printed per URL: statements per request, then p50 / p95 ms and the CPU time per request of each
round, with the load average.
``--only``: the URLs holding this text (``/api/``: the API lists alone). Each organisation has two topics and a region.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

URLS = (
    "/organisations",
    "/organisations?kind=vcse&sort=newest",
    "/organisations?q=peer",
    "/events",
    "/events?sort=latest&page_size=50",
    "/news",
    "/news?sort=oldest",
    "/funding-calls",
    "/api/v1/organisations",
    "/api/v1/organisations?kind=vcse&sort=newest",
    "/api/v1/funding-calls",
    "/api/v1/events",
)
NO_STORE = {"Cache-Control": "no-cache"}


def seed(engine: Any, m: Any, orgs: int, events: int, news: int, calls: int) -> None:
    from sqlalchemy import insert, select, update

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    words = ("peer", "support", "carers", "river", "mental", "health", "research", "network", "young", "voices")
    with engine.begin() as conn:
        for start in range(0, orgs, 5000):
            conn.execute(
                insert(m.Organisation),
                [
                    {
                        "name": f"{words[i % 10].title()} {words[(i // 10) % 10].title()} {i}",
                        "name_normalised": f"{words[i % 10]} {words[(i // 10) % 10]} {i}",
                        "slug": f"org-{i}",
                        "kind": m.OrgKind.VCSE if i % 4 else m.OrgKind.ACADEMIC,
                        "description": " ".join(words[(i * k) % 10] for k in range(1, 12)),
                    }
                    for i in range(start, min(orgs, start + 5000))
                ],
            )
        topics = list(conn.scalars(select(m.Topic.id).order_by(m.Topic.id)))
        regions = list(conn.scalars(select(m.Region.id).order_by(m.Region.id)))
        org_ids = list(conn.scalars(select(m.Organisation.id)))
        links = [{"organisation_id": o, "topic_id": topics[(o + k) % len(topics)]} for o in org_ids for k in (0, 5)]
        conn.execute(insert(m.organisation_topics), links)
        for n, region in enumerate(regions):
            conn.execute(update(m.Organisation).where(m.Organisation.id % len(regions) == n).values(region_id=region))
        funder = org_ids[0]
        conn.execute(
            insert(m.FundingCall),
            [
                {
                    "title": f"Fund {i}",
                    "title_normalised": f"fund {i}",
                    "slug": f"fund-{i}",
                    "funder_id": funder,
                    "summary": "Money for peer research.",
                    "status": m.CallStatus.PUBLISHED,
                    "next_deadline_at": now + dt.timedelta(hours=i + 1),
                    "last_deadline_at": now + dt.timedelta(hours=i + 1),
                    "amount_max": 1000 * (i % 50 + 1),
                    "published_at": now - dt.timedelta(hours=i),
                }
                for i in range(calls)
            ],
        )
        conn.execute(
            insert(m.Event),
            [
                {
                    "uid": f"bench-{i}@example.org",
                    "title": f"Event {i}",
                    "slug": f"event-{i}",
                    "starts_at": now + dt.timedelta(hours=i),
                    "ends_at": now + dt.timedelta(hours=i + 2),
                    "venue": "A room",
                    "status": m.EventStatus.PUBLISHED,
                }
                for i in range(events)
            ],
        )
        conn.execute(
            insert(m.Campaign),
            [
                {
                    "subject": f"Announcement {i}",
                    "preheader": "",
                    "body": "The call is out. **Join** our briefing on Thursday.",
                    "status": m.CampaignStatus.SENT,
                    "publish_as_news": True,
                    "news_slug": f"news-{i}",
                    "published_at": now - dt.timedelta(hours=i),
                    "sent_at": now - dt.timedelta(hours=i),
                }
                for i in range(news)
            ],
        )


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/lists.sqlite3"
        return
    from sqlalchemy import create_engine, text

    server = "postgresql+psycopg://postgres@127.0.0.1:5432"
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--orgs", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--news", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--only", default="", help="only the URLs holding this text")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    from litestar.testing import TestClient
    from sqlalchemy import event, text
    from sqlalchemy.orm import Session

    from crm import models as m
    from crm.app import create_app
    from crm.directory.reference import ensure_reference_data
    from crm.migrate import upgrade
    from crm.settings import Settings

    urls = [u for u in URLS if args.only in u]
    print(f"code from {args.root}, {args.db}: {args.orgs:,} organisations, {args.events:,} events, {args.news:,} news,")
    print(f"{args.calls:,} funding calls")
    with database(args.db) as url:
        settings = Settings(env="test", database_url=url, run_worker_in_process=False)
        app = create_app(settings)
        engine = app.state.engine
        upgrade(engine)
        with Session(engine) as session:  # the regions and topics every installation has
            ensure_reference_data(session)
            session.commit()
        seed(engine, m, args.orgs, args.events, args.news, args.calls)
        if args.db == "postgres":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        statements = [0]
        event.listen(engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
        results: dict[str, list[tuple[float, float]]] = {u: [] for u in urls}
        per_request: dict[str, int] = {}
        with TestClient(app) as client:
            for url in urls:  # warm: templates compiled, menus kept, statements built
                for _ in range(3):
                    assert client.get(url, headers=NO_STORE).status_code == 200, url
                statements[0] = 0
                client.get(url, headers=NO_STORE)
                per_request[url] = statements[0]
            for n in range(args.rounds):
                load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"round {n + 1}: load average {load}", flush=True)
                for url in urls:
                    timings = []
                    cpu = time.process_time()
                    for _ in range(args.runs):
                        started = time.perf_counter()
                        client.get(url, headers=NO_STORE)
                        timings.append((time.perf_counter() - started) * 1000)
                    cpu_ms = (time.process_time() - cpu) * 1000 / args.runs
                    timings.sort()
                    results[url].append((statistics.median(timings), timings[int(len(timings) * 0.95) - 1], cpu_ms))
        engine.dispose()
    # CPU: this process's CPU time per request (client, app and, on SQLite, the database): on a busy machine it moves
    # far less than the wall-clock times, which include waiting for a core.
    print(f"\n{'URL':44} {'SQL':>3}  p50 / p95 ms, CPU ms per request, per round")
    for url in urls:
        rounds = "  ".join(f"{p50:6.2f} / {p95:6.2f}, {cpu:5.2f}" for p50, p95, cpu in results[url])
        print(f"{url:44} {per_request[url]:>3}  {rounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
