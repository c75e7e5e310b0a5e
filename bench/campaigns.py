"""Campaign benchmark: resolve and queue an N-recipient campaign, then send it through SendGrid to a local fake.

    .venv/bin/python bench/campaigns.py                        # N = 100,000 on a fresh SQLite database
    .venv/bin/python bench/campaigns.py --recipients 10000 100000
    .venv/bin/python bench/campaigns.py --recipients 100000 --no-dispatch
    .venv/bin/python bench/campaigns.py --recipients 100000 --database-url postgresql+psycopg://…/scratch

The database is filled first (not timed): 80% of N active subscribers of "News and announcements" and 20% directory
contacts at approved organisations (one per 200 contacts, round robin; ``--contacts-percent`` changes the share).
The campaign goes to both parts.

- **queue** (the issue's target: ≤ 10 s on SQLite for 100,000): ``crm.campaigns.sending.send_now``'s work as the
  worker does it (``crm.campaigns.jobs.queue_one``): the audience resolved at send time
  (``crm.campaigns.audience.resolve``), recorded, and every recipient queued (outbox + ``campaign_recipients``)
  in batches of 1,000, each committed. Prints seconds, statements in all and per 1,000 recipients, and the
  share of each: resolving the audience, and recording + inserting the rows.
- **dispatch** (unless ``--no-dispatch``): the real dispatcher drains the outbox through ``SendGridTransport``
  against the fake SendGrid (``tests/mailing/fake_sendgrid.py``) in its own process, rendering each email at claim
  time (``crm.campaigns.delivery.render_claimed``). Prints the requests it received (target ⌈N/1000⌉), seconds
  and statements per 1,000.

Figures only, not a test. The machine is shared: the load average is printed with every line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert, select  # noqa: E402

from crm import models as m  # noqa: E402
from crm.campaigns import audience, jobs, state  # noqa: E402
from crm.campaigns.audience_segment import Segment  # noqa: E402
from crm.db import create_db_engine, create_session_factory, unit_of_work  # noqa: E402
from crm.domains import EXTENSIONS  # noqa: E402
from crm.mailing import dispatch  # noqa: E402
from crm.mailing.transports.sendgrid import SendGridTransport  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import Settings  # noqa: E402
from tests.mailing.fake_sendgrid import FakeSendGridProcess  # noqa: E402

BODY = """Dear colleagues,

The **MRC call for community-led research** is out. It funds partnerships between universities and VCSE
organisations, with up to £250,000 over two years.

## Join our briefing on Thursday

We will go through the criteria, the timeline and how to find a partner. [Book a place](https://roundtable.example.org/events/briefing).

- Who can apply: VCSE organisations with a university partner
- Closes: 12 January
- Questions: reply to this email
"""


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(factory, n: int, contacts_percent: int = 20) -> int:
    """N people (by default 80% subscribers to news, 20% contacts at organisations) and a draft campaign to both
    parts."""
    now = dt.datetime.now(dt.UTC)
    subscribers = n * (100 - contacts_percent) // 100
    contacts = n - subscribers
    chunk = 5000
    with unit_of_work(factory) as session:
        orgs = max(1, contacts // 200)
        session.execute(
            insert(m.Organisation),
            [
                {
                    "name": f"Bench Org {i}",
                    "name_normalised": f"bench org {i}",
                    "slug": f"bench-org-{i}",
                    "kind": "vcse",
                }
                for i in range(orgs)
            ],
        )
        org_ids = list(session.scalars(select(m.Organisation.id).order_by(m.Organisation.id)))
    for start in range(0, subscribers, chunk):
        with unit_of_work(factory) as session:
            session.execute(
                insert(m.Subscription),
                [
                    {
                        "email": f"reader{i}@example.org",
                        "name": f"Reader {i}",
                        "mailings": [m.Mailing.NEWS.value],
                        "status": m.SubscriptionStatus.ACTIVE,
                        "confirmed_at": now,
                    }
                    for i in range(start, min(subscribers, start + chunk))
                ],
            )
    for start in range(0, contacts, chunk):
        with unit_of_work(factory) as session:
            rows = [
                {"name": f"Contact {i}", "email": f"contact{i}@example.org"}
                for i in range(start, min(contacts, start + chunk))
            ]
            ids = list(session.scalars(insert(m.Contact).returning(m.Contact.id), rows))
            session.execute(
                insert(m.Affiliation),
                [
                    {"contact_id": cid, "organisation_id": org_ids[k % len(org_ids)], "is_primary": True}
                    for k, cid in enumerate(ids)
                ],
            )
    with unit_of_work(factory) as session:
        campaign = m.Campaign(
            subject="The MRC call is out: join our briefing on Thursday",
            preheader="Up to £250,000 for community-led research partnerships",
            body=BODY,
            cta_label="Book a place",
            cta_url="https://roundtable.example.org/events/briefing",
            sender_name="Ada, Roundtable fellow",
            audience=Segment(subscribers=True, mailing=m.Mailing.NEWS.value, contacts=True).to_json(),
            track_opens=True,
            track_clicks=True,
        )
        session.add(campaign)
        session.flush()
        return campaign.id


def run(
    n: int, database_url: str | None, do_dispatch: bool, latency: float, concurrency: int, contacts_percent: int
) -> dict[str, float]:
    if database_url is None:
        database_url = f"sqlite:///{tempfile.mkdtemp(prefix='crm-bench-campaigns-')}/bench.sqlite3"
    out: dict[str, float] = {"n": n, "contacts_percent": contacts_percent}
    with FakeSendGridProcess(latency) as fake:
        settings = Settings(
            database_url=database_url,
            base_url="https://roundtable.example.org",
            mail_transport="sendgrid",
            sendgrid_api_key="SG.bench",
            sendgrid_api_url=fake.url,
            sendgrid_concurrency=concurrency,
            sendgrid_timeout=30.0,
            mail_rate_per_second=0,
        )
        engine = create_db_engine(settings)
        upgrade(engine)
        factory = create_session_factory(engine)
        t = time.perf_counter()
        campaign_id = fill(factory, n, contacts_percent)
        out["fill_seconds"] = time.perf_counter() - t
        statements = [0]

        def count(*_args: object) -> None:
            statements[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        resolving = [0.0, 0]
        resolve = audience.resolve

        def timed_resolve(*args, **kwargs):  # the audience helper's part, timed apart from the inserts
            t0, n0 = time.perf_counter(), statements[0]
            try:
                return resolve(*args, **kwargs)
            finally:
                resolving[0] += time.perf_counter() - t0
                resolving[1] += statements[0] - n0

        audience.resolve = timed_resolve
        now = dt.datetime.now(dt.UTC)
        t, cpu = time.perf_counter(), time.process_time()
        with unit_of_work(factory) as session:
            assert state.begin_sending(session, campaign_id, now)
        stats = jobs.queue_one(factory, campaign_id, now)
        out["queue_seconds"] = time.perf_counter() - t
        out["queue_cpu"] = time.process_time() - cpu
        out["queue_statements"] = statements[0]
        out["resolve_seconds"], out["resolve_statements"] = resolving
        with factory() as session:
            campaign = session.get(m.Campaign, campaign_id)
            out["recipients"] = campaign.recipients
            out["status_sent"] = float(campaign.status == m.CampaignStatus.SENT)
        out["queued"] = stats.queued if stats else 0
        out["load_queue"] = os.getloadavg()[0]
        if do_dispatch:
            statements[0] = 0
            transport = SendGridTransport(settings)
            t, cpu = time.perf_counter(), time.process_time()
            total = dispatch.drain(factory, transport, settings, renderers=EXTENSIONS.deferred_renderers)
            out["dispatch_seconds"] = time.perf_counter() - t
            out["dispatch_cpu"] = time.process_time() - cpu
            transport.close()
            out["dispatch_statements"] = statements[0]
            out["sent"] = total.sent
            counts = fake.counts()
            out["requests"] = counts["requests"]
            out["personalizations"] = counts["personalizations"]
            out["load_dispatch"] = os.getloadavg()[0]
        event.remove(engine, "before_cursor_execute", count)
        engine.dispose()
    out["peak_rss_mb"] = rss_mb()
    return out


def report(r: dict[str, float]) -> str:
    n = int(r["n"])
    per = 1000 / max(1, n)
    lines = [
        f"N={n:,} ({int(r['contacts_percent'])}% contacts): queue {r['queue_seconds']:.2f} s (CPU {r['queue_cpu']:.2f} s; target ≤ 10 s), "
        f"{int(r['queue_statements'])} statements ({r['queue_statements'] * per:.2f} per 1,000), "
        f"{int(r['recipients']):,} recipients recorded, sent={bool(r['status_sent'])}, load {r['load_queue']:.1f}",
        f"        of which resolving the audience {r['resolve_seconds']:.2f} s ({int(r['resolve_statements'])} "
        f"statements) and recording + inserting {r['queue_seconds'] - r['resolve_seconds']:.2f} s "
        f"({int(r['queue_statements'] - r['resolve_statements'])} statements, "
        f"{(r['queue_statements'] - r['resolve_statements']) * per:.2f} per 1,000)",
    ]
    if "requests" in r:
        lines.append(
            f"        dispatch {r['dispatch_seconds']:.1f} s (CPU {r['dispatch_cpu']:.1f} s), "
            f"{int(r['requests'])} SendGrid requests (⌈N/1000⌉ = {math.ceil(n / 1000)}), "
            f"{int(r['personalizations']):,} personalizations, {int(r['sent']):,} sent, "
            f"{int(r['dispatch_statements'])} statements ({r['dispatch_statements'] * per:.2f} per 1,000), "
            f"load {r['load_dispatch']:.1f}"
        )
    lines.append(f"        fill (not timed) {r['fill_seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, nargs="+", default=[100_000], help="N (default 100000)")
    parser.add_argument("--database-url", default=None, help="an empty scratch database (default: a new SQLite file)")
    parser.add_argument("--no-dispatch", action="store_true", help="queue only; do not send to the fake SendGrid")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake SendGrid takes per request")
    parser.add_argument("--concurrency", type=int, default=4, help="CRM_SENDGRID_CONCURRENCY")
    parser.add_argument("--contacts-percent", type=int, default=20, help="share of N that are directory contacts")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run(
            args.child, args.database_url, not args.no_dispatch, args.latency, args.concurrency, args.contacts_percent
        )
        print(json.dumps(result))
        return
    for n in args.recipients:  # each N in its own process: peak RSS is its own
        command = [sys.executable, __file__, "--child", str(n), "--latency", str(args.latency)]
        command += ["--concurrency", str(args.concurrency), "--contacts-percent", str(args.contacts_percent)]
        if args.database_url:
            command += ["--database-url", args.database_url]
        if args.no_dispatch:
            command.append("--no-dispatch")
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        print(report(json.loads(done.stdout.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
