"""Benchmark: drain N bulk digest-like messages through the SendGrid transport against a local fake SendGrid.

    .venv/bin/python bench/dispatch.py                 # N = 10,000 and 100,000, each in its own process
    .venv/bin/python bench/dispatch.py --messages 10000
    .venv/bin/python bench/dispatch.py --messages 100000 --database-url postgresql+psycopg://...

Prints messages/second, provider requests (target ⌈N/1000⌉), SQL statements per dispatch batch, and the peak
RSS of the process. The fake server adds ``--latency`` seconds (default 0.05) to every request. The outbox is
filled first (not timed) with lean per-recipient bodies, each under the 10,000-byte substitution limit.
"""

from __future__ import annotations

import argparse
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

from sqlalchemy import event, insert  # noqa: E402

from crm import models as m  # noqa: E402
from crm.db import create_db_engine, create_session_factory  # noqa: E402
from crm.domains import EXTENSIONS  # noqa: E402
from crm.mailing import dispatch  # noqa: E402
from crm.mailing.compliance import list_unsubscribe_headers, preferences_url, unsubscribe_url  # noqa: E402
from crm.mailing.transports.sendgrid import SendGridTransport  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import Settings  # noqa: E402
from crm.tokens import Signer  # noqa: E402
from tests.mailing.fake_sendgrid import FakeSendGridProcess  # noqa: E402

HTML = (
    '<!doctype html><html><body style="font-family:Arial,sans-serif;">'
    "<p>Hello {name},</p><p>{count} new funding calls match your interests this week.</p>{items}"
    '<p style="font-size:13px;">You get this because you subscribed to the funding-call digest. '
    '<a href="{prefs}">Change what you receive</a> &middot; <a href="{unsub}">Unsubscribe</a></p>'
    "<p>Roundtable CRM, 1 Example Street, London</p></body></html>"
)
ITEM = '<h2 style="font-size:16px;"><a href="https://crm.example.org/funding-calls/{i}">Call {i}: research partnership fund</a></h2><p>Closes 12 January. Needs a VCSE partner.</p>'
TEXT = "Hello {name},\n\n{count} new funding calls match your interests.\n{items}\n--\nChange what you receive: {prefs}\nUnsubscribe: {unsub}\n"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(factory, settings: Settings, n: int, chunk: int = 5000) -> None:
    signer = Signer(settings)
    table = m.OutboxMessage.__table__
    for start in range(0, n, chunk):
        rows = []
        for i in range(start, min(n, start + chunk)):
            email = f"subscriber{i}@example.org"
            unsub = unsubscribe_url(signer, settings, email, "funding_digest")
            prefs = preferences_url(signer, settings, email)
            count = 3 + i % 4
            items_html = "".join(ITEM.format(i=i * 10 + k) for k in range(count))
            items_text = "\n".join(
                f"- Call {i * 10 + k}: https://crm.example.org/funding-calls/{i * 10 + k}" for k in range(count)
            )
            rows.append(
                {
                    "idempotency_key": f"bench-digest:{i}",
                    "kind": "funding_digest",
                    "bulk": True,
                    "recipient": email,
                    "recipient_name": f"Subscriber {i}",
                    "subject": f"{count} new funding calls for you",
                    "text_body": TEXT.format(
                        name=f"Subscriber {i}", count=count, items=items_text, prefs=prefs, unsub=unsub
                    ),
                    "html_body": HTML.format(
                        name=f"Subscriber {i}", count=count, items=items_html, prefs=prefs, unsub=unsub
                    ),
                    "headers": list_unsubscribe_headers(signer, settings, email, "funding_digest"),
                    "attachments": [],
                    "status": m.OutboxStatus.QUEUED,
                    "mailing": "funding_digest",
                }
            )
        with factory() as session:
            session.execute(insert(table), rows)
            session.commit()


def run(n: int, database_url: str | None, latency: float, concurrency: int) -> dict[str, float]:
    tmp = None
    if database_url is None:
        tmp = tempfile.mkdtemp(prefix="crm-bench-")
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
    with FakeSendGridProcess(latency) as fake:
        settings = Settings(
            database_url=database_url,
            mail_transport="sendgrid",
            sendgrid_api_key="SG.bench",
            sendgrid_api_url=fake.url,
            sendgrid_concurrency=concurrency,
            sendgrid_timeout=30.0,
            mail_rate_per_second=50_000.0,
        )
        engine = create_db_engine(settings)
        upgrade(engine)
        factory = create_session_factory(engine)
        t0 = time.perf_counter()
        fill(factory, settings, n)
        fill_seconds = time.perf_counter() - t0
        rss_after_fill = _rss_mb()
        statements = [0]

        def count(*_args: object) -> None:
            statements[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        transport = SendGridTransport(settings)
        start = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        total = dispatch.drain(factory, transport, settings, renderers=EXTENSIONS.deferred_renderers)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        batches = math.ceil(total.claimed / max(settings.outbox_batch_size, transport.preferred_claim))
        seconds = time.perf_counter() - start
        transport.close()
        event.remove(engine, "before_cursor_execute", count)
        engine.dispose()
        return {
            "messages": n,
            "sent": total.sent,
            "seconds": seconds,
            "per_second": total.sent / seconds if seconds else 0.0,
            "requests": fake.counts()["requests"],
            "personalizations": fake.counts()["personalizations"],
            "expected_requests": math.ceil(n / 1000),
            "batches": batches,
            "sql_per_batch": statements[0] / max(1, batches),
            "sql_total": statements[0],
            "fill_seconds": fill_seconds,
            "rss_after_fill_mb": rss_after_fill,
            "peak_rss_mb": _rss_mb(),
            "cpu_seconds": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
            "load": os.getloadavg()[0],
        }


def report(r: dict[str, float]) -> str:
    return (
        f"N={int(r['messages']):>7,}  sent={int(r['sent']):>7,}  drain={r['seconds']:6.2f}s  {r['per_second']:8.0f} msg/s  "
        f"requests={int(r['requests'])} (target {int(r['expected_requests'])}, {int(r['personalizations']):,} personalizations)  batches={int(r['batches'])}  "
        f"SQL/batch={r['sql_per_batch']:.1f} (total {int(r['sql_total'])})  peak RSS={r['peak_rss_mb']:.0f} MB "
        f"(after fill {r['rss_after_fill_mb']:.0f} MB; fill {r['fill_seconds']:.1f}s)  "
        f"drain CPU={r['cpu_seconds']:.1f}s  load avg={r['load']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if args.messages:
        print(report(run(args.messages, args.database_url, args.latency, args.concurrency)), flush=True)
        return
    for n in (10_000, 100_000):
        cmd = [
            sys.executable,
            __file__,
            "--messages",
            str(n),
            "--latency",
            str(args.latency),
            "--concurrency",
            str(args.concurrency),
        ]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


if __name__ == "__main__":
    main()
