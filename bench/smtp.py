"""Benchmark: SMTP end to end (queue + send) into a local aiosmtpd sink, ours beside a plain floor (issue 15.4).

    .venv/bin/python bench/smtp.py                    # 1,000 emails, each path once
    .venv/bin/python bench/smtp.py --n 5000 --reps 3  # interleaved repetitions, medians printed
    .venv/bin/python bench/smtp.py --database-url postgresql+psycopg://...   # an EMPTY scratch database

One run measures, into the same sink and with the same personalised ~10 kB emails (a digest-like bulk email of
5-10 funding calls with the compliance footer and RFC 8058 headers):

- ours: ``enqueue_bulk_many`` into the outbox (rendering, signed links, batched INSERTs), then ``drain`` with
  the dispatcher and ``SMTPTransport`` (persistent pooled connections) until the sink has every email;
- floor: Jinja (the same templates, contexts and links prepared before the clock) + stdlib MIME
  (``MIMEMultipart``/``MIMEText`` 8bit, ``BytesGenerator``: the peer harness's floor) + ONE smtplib connection.

Each path runs in its own process pinned with ``taskset -c 0`` (the sink gets ``-c 1``, as the peer harness
does), so its CPU time (all its threads: ``time.process_time``) and peak RSS are its own. Printed per path:
emails/s, CPU ms per email, SQL statements per email (a ``before_cursor_execute`` listener on the engine, from
the first INSERT to the last recorded outcome), peak RSS, and the sink's CPU per email. The peer's figure is
quoted, not re-run: the harness is ``../shared/peers/django-post-office`` (see its README).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PEER = (
    "django-post-office: 310 emails/s at 2.8 ms CPU per email end to end (queue + send_queued_mail, 1,000 "
    "personalised ~10 kB emails into a local aiosmtpd sink, quiet machine), measured in "
    "../shared/peers/django-post-office on this machine (issue 15)"
)
TARGET_RATE = 310.0
TARGET_SQL = 0.05

# A digest-like bulk email; it extends email/_bulk.html (our layout and compliance footer), ~10 kB per email.
TEMPLATES = {
    "email/bench_smtp.subject.txt": "{{ name }}, {{ items|length }} new funding calls for you this week",
    "email/bench_smtp.txt": """Hello {{ name }},

Here are {{ items|length }} funding calls that match your interests this week, earliest deadline first.
{% for item in items %}

* {{ item.title }}
  Funder:   {{ item.funder }}
  Deadline: {{ item.deadline }}
  Details:  {{ item.link }}
{% endfor %}

{% include "email/_bulk_footer.txt" %}
""",
    "email/bench_smtp.html": """{% extends "email/_bulk.html" %}
{% block title %}Your weekly funding digest{% endblock %}
{% block body %}
<h1 style="margin:0 0 12px;font-size:22px;line-height:28px;color:#1f2421;">Your weekly funding digest</h1>
<p style="margin:0 0 12px;">Hello {{ name }},</p>
<p style="margin:0 0 12px;">We found <strong>{{ items|length }}</strong> funding calls that match your saved \
interests this week. They are listed below with their closing dates; the earliest deadlines come first.</p>
{% for item in items %}
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border:1px solid \
#dcdcd6;margin:0 0 12px;">
<tr><td style="padding:12px 16px;font-size:13px;line-height:19px;color:#3d4a43;">
<a href="{{ item.link }}" style="font-size:16px;font-weight:bold;color:#1d5c4a;text-decoration:none;">\
{{ item.title }}</a><br>
Funder: {{ item.funder }}<br>
Deadline: <strong style="color:#b91c1c;">{{ item.deadline }}</strong>
&nbsp;&middot;&nbsp;<a href="{{ item.link }}" style="color:#1d5c4a;">View details</a>
<p style="margin:8px 0 0;">{{ item.summary }}</p>
</td></tr>
</table>
{% endfor %}
{% endblock %}
""",
}
FIRST = ["Alice", "Bob", "Chidi", "Dana", "Eero", "Fatima", "Goran", "Hana", "Ines", "Jonas", "Zoë", "Siân"]
LAST = ["Anders", "Baptiste", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat", "Okafor", "Ó Briain"]
TOPIC = ["Community Mental Health", "Peer Support", "Youth Wellbeing", "Recovery Colleges", "Crisis Care"]
KIND = ["Capital Grant", "Seed Fund", "Research Fellowship", "Innovation Award", "Small Grants Round"]
FUNDER = ["National Lottery Community Fund", "Wellcome Trust", "Esmée Fairbairn Foundation", "Nuffield Foundation"]


def recipients(n: int, seed: int = 777) -> list[tuple[str, str, dict[str, Any]]]:
    """(address, display name, context) per recipient: 5-10 calls each from a pool of 500, deterministic."""
    rnd = random.Random(12345)
    pool = [
        {
            "title": f"{rnd.choice(TOPIC)} {rnd.choice(KIND)} {2026 + rnd.randint(0, 1)} (round {rnd.randint(1, 9)})",
            "funder": rnd.choice(FUNDER),
            "deadline": f"2027-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
            "link": f"https://crm.example.org/funding/{100000 + i}?utm_source=digest&utm_medium=email",
            "summary": "For VCSE organisations working with an academic partner on mental-health support "
            "in their community; match funding is not required.",
        }
        for i in range(500)
    ]
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        items = sorted(rnd.sample(pool, rnd.randint(5, 10)), key=lambda item: item["deadline"])
        out.append((f"user{i:06d}@example.com", name, {"name": name, "items": items}))
    return out


# --- the sink (its own process) ------------------------------------------------------------------------------


def run_sink(port: int, ctl_port: int) -> None:
    """A stock aiosmtpd server that counts and discards; ``STATS``/``RESET``/``QUIT`` on the control port."""
    from aiosmtpd.smtp import SMTP

    counts = {"messages": 0, "bytes": 0, "sessions": 0}

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counts["messages"] += 1
            counts["bytes"] += len(envelope.content)
            return "250 OK"

    class Counting(SMTP):
        def connection_made(self, transport: Any) -> None:
            counts["sessions"] += 1
            super().connection_made(transport)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        server = await loop.create_server(
            lambda: Counting(Handler(), hostname="sink.localhost", ident="bench-sink"), "127.0.0.1", port
        )

        async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            line = (await reader.readline()).decode().strip().upper()
            t = os.times()
            writer.write((json.dumps({**counts, "cpu_s": t.user + t.system}) + "\n").encode())
            await writer.drain()
            writer.close()
            if line == "RESET":
                counts.update(messages=0, bytes=0, sessions=0)
            elif line == "QUIT" and not stop.done():
                stop.set_result(None)

        ctl = await asyncio.start_server(control, "127.0.0.1", ctl_port)
        loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
        await stop
        server.close()
        ctl.close()

    asyncio.run(main())


def sink_command(ctl_port: int, command: str) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", ctl_port), timeout=10) as sock:
        sock.sendall(command.encode() + b"\n")
        return json.loads(sock.makefile().readline())


def wait_for_sink(ctl_port: int, n: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    stats = sink_command(ctl_port, "STATS")
    while stats["messages"] < n and time.monotonic() < deadline:
        time.sleep(0.01)
        stats = sink_command(ctl_port, "STATS")
    return stats


# --- the two paths (each in its own process) -----------------------------------------------------------------


def _renderer(settings: Any) -> Any:
    from jinja2 import ChoiceLoader, DictLoader

    from crm.mailing.render import EmailRenderer

    renderer = EmailRenderer(settings)
    for env in (renderer.html_env, renderer.text_env):
        env.loader = ChoiceLoader([DictLoader(TEMPLATES), env.loader])
    return renderer


def migrate(database_url: str) -> None:
    """Bring the database to the head revision (run in a process of its own: not part of what is measured)."""
    from crm.db import create_db_engine
    from crm.migrate import upgrade
    from crm.settings import Settings

    engine = create_db_engine(Settings(database_url=database_url))
    upgrade(engine)
    engine.dispose()


def run_ours(n: int, port: int, ctl_port: int, database_url: str, connections: int) -> dict[str, Any]:
    from sqlalchemy import event

    from crm.db import create_db_engine, create_session_factory, unit_of_work
    from crm.domains import EXTENSIONS
    from crm.mailing.dispatch import drain
    from crm.mailing.outbox import BulkEmail, enqueue_bulk_many
    from crm.mailing.transports.smtp import SMTPTransport
    from crm.settings import Settings
    from crm.tokens import Signer

    settings = Settings(database_url=database_url, mail_transport="smtp", smtp_port=port, smtp_connections=connections)
    engine = create_db_engine(settings)
    factory = create_session_factory(engine)
    renderer, signer = _renderer(settings), Signer(settings)
    run_id = f"{os.getpid()}-{time.time_ns()}"
    emails = [
        BulkEmail(key=f"bench-smtp:{run_id}:{i}", to=to, to_name=name, context=context)
        for i, (to, name, context) in enumerate(recipients(n))
    ]
    transport = SMTPTransport(settings)
    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    sink_command(ctl_port, "RESET")
    event.listen(engine, "before_cursor_execute", count)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, n, 1000):
        with unit_of_work(factory) as session:
            enqueue_bulk_many(
                session,
                renderer,
                signer,
                emails[start : start + 1000],
                kind="funding_digest",
                template="bench_smtp",
                why="You subscribed to the weekly funding-call digest.",
                mailing="funding_digest",
            )
    queued, queue_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    stats = drain(factory, transport, settings, renderers=EXTENSIONS.deferred_renderers)
    sink = wait_for_sink(ctl_port, n)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    event.remove(engine, "before_cursor_execute", count)
    transport.close()
    engine.dispose()
    return {
        "path": f"ours: enqueue_bulk_many + drain, SMTPTransport ({connections} connections)",
        "sent": stats.sent,
        "queue_s": queued,
        "queue_cpu_s": queue_cpu,
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "sql": statements[0],
        "sink": sink,
    }


def run_floor(n: int, port: int, ctl_port: int) -> dict[str, Any]:
    """Jinja + stdlib MIME + one smtplib connection: the same emails, nothing queued or recorded."""
    import io
    import smtplib
    from email import charset
    from email.generator import BytesGenerator
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import formataddr, formatdate, make_msgid

    from crm.mailing.compliance import bulk_context, list_unsubscribe_headers
    from crm.settings import Settings
    from crm.tokens import Signer

    settings = Settings(smtp_port=port)
    renderer, signer = _renderer(settings), Signer(settings)
    why = "You subscribed to the weekly funding-call digest."
    prepared = []  # contexts and links before the clock, as the peer's floor does
    for to, name, context in recipients(n):
        footer = bulk_context(signer, settings, to, "funding_digest", why)
        prepared.append(
            (to, name, {**context, **footer}, list_unsubscribe_headers(signer, settings, to, "funding_digest"))
        )
    subject_t = renderer.text_env.get_template("email/bench_smtp.subject.txt")
    text_t = renderer.text_env.get_template("email/bench_smtp.txt")
    html_t = renderer.html_env.get_template("email/bench_smtp.html")
    utf8 = charset.Charset("utf-8")
    utf8.body_encoding = None  # 8bit, as Django and the peer's floor write it

    def build(to: str, name: str, context: dict[str, Any], headers: dict[str, str]) -> bytes:
        msg = MIMEMultipart("alternative")
        msg["Subject"] = subject_t.render(context)
        msg["From"] = settings.mail_from
        msg["To"] = formataddr((name, to))
        msg["Date"] = formatdate()
        msg["Message-ID"] = make_msgid(domain="roundtable.example.org")
        for key, value in headers.items():
            msg[key] = value
        msg.attach(MIMEText(text_t.render(context), "plain", utf8))
        msg.attach(MIMEText(html_t.render(context), "html", utf8))
        out = io.BytesIO()
        BytesGenerator(out, mangle_from_=False).flatten(msg, unixfrom=False, linesep="\r\n")
        return out.getvalue()

    sink_command(ctl_port, "RESET")
    cpu0, t0 = time.process_time(), time.perf_counter()
    client = smtplib.SMTP("127.0.0.1", port, local_hostname="localhost")
    for to, name, context, headers in prepared:
        client.sendmail("hello@roundtable.example.org", [to], build(to, name, context, headers))
    client.quit()
    sink = wait_for_sink(ctl_port, n)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "path": "floor: Jinja + stdlib MIME + 1 smtplib connection",
        "sent": n,
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "sql": 0,
        "sink": sink,
    }


# --- the parent: sink, children, table -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pinned(cpu: int) -> list[str]:
    """``taskset -c cpu`` when there are two CPUs or more and taskset exists (else unpinned)."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)]
    return []


def child(args: argparse.Namespace, path: str, port: int, ctl_port: int, database_url: str) -> dict[str, Any]:
    cmd = [*_pinned(0), sys.executable, __file__, "--child", path, "--port", str(port), "--ctl-port", str(ctl_port)]
    cmd += ["--n", str(args.n), "--connections", str(args.connections), "--database-url", database_url]
    before = sink_command(ctl_port, "STATS")["cpu_s"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["sink_cpu_s"] = result["sink"]["cpu_s"] - before
    return result


def line(r: dict[str, Any], n: int) -> str:
    sink = r["sink"]
    ok = "ok" if sink["messages"] == n and r["sent"] == n else f"MISMATCH sink={sink['messages']} sent={r['sent']}"
    return (
        f"  {r['path']}\n"
        f"    {n / r['elapsed_s']:7.0f} emails/s   {1000 * r['cpu_s'] / n:5.2f} ms CPU per email   "
        f"{r['sql'] / n:.3f} SQL statements per email ({r['sql']})   peak RSS {r['rss_mb']:.0f} MB   "
        f"{sink['bytes'] / max(1, sink['messages']) / 1000:.1f} kB per email   sink CPU {1000 * r['sink_cpu_s'] / n:.2f} "
        f"ms per email   {sink['sessions']} SMTP session(s)   {ok}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="emails per path (default 1,000)")
    parser.add_argument("--reps", type=int, default=1, help="interleaved repetitions; medians printed (default 1)")
    parser.add_argument("--connections", type=int, default=4, help="CRM_SMTP_CONNECTIONS for ours (default 4)")
    parser.add_argument("--database-url", default=None, help="an EMPTY scratch database (default: a temp SQLite)")
    parser.add_argument("--child", choices=["ours", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--migrate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--ctl-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.sink:
        run_sink(args.port, args.ctl_port)
        return
    if args.migrate:
        migrate(args.database_url)
        return
    if args.child:
        if args.child == "ours":
            result = run_ours(args.n, args.port, args.ctl_port, args.database_url, args.connections)
        else:
            result = run_floor(args.n, args.port, args.ctl_port)
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    port, ctl_port = _free_port(), _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-smtp-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    pristine = f"sqlite:///{tmp}/pristine.sqlite3"
    subprocess.run(
        [sys.executable, __file__, "--migrate", "--database-url", args.database_url or pristine], check=True, env=env
    )

    def fresh_sqlite(folder: Path) -> str:
        """A copy of the migrated database per run, so every run starts from the same empty outbox."""
        shutil.copy(folder / "pristine.sqlite3", folder / "run.sqlite3")
        return f"sqlite:///{folder}/run.sqlite3"

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    sink = subprocess.Popen(
        [*_pinned(1), sys.executable, __file__, "--sink", "--port", str(port), "--ctl-port", str(ctl_port)],
        env=env,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                sink_command(ctl_port, "STATS")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "floor": []}
        for _ in range(args.reps):
            database_url = args.database_url or fresh_sqlite(tmp)
            for path in ("ours", "floor"):
                runs[path].append(child(args, path, port, ctl_port, database_url))
        sink_command(ctl_port, "QUIT")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if sink.poll() is None:
            sink.terminate()
        sink.wait()
    pinned = "sink on CPU 1, each path on CPU 0" if _pinned(0) else "not pinned"
    print(
        f"SMTP into a local aiosmtpd sink (stock, counting): {args.n:,} personalised emails per path, "
        f"{args.reps} run(s) each{', medians' if args.reps > 1 else ''}; {pinned}; load average before "
        f"{load}, after {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    medians = {}
    for path, results in runs.items():
        r = min(results, key=lambda x: abs(x["elapsed_s"] - statistics.median(y["elapsed_s"] for y in results)))
        r = {**r, "cpu_s": statistics.median(x["cpu_s"] for x in results)}
        medians[path] = r
        print(line(r, args.n))
    ours, floor = medians["ours"], medians["floor"]
    rate, cpu, sql = args.n / ours["elapsed_s"], ours["cpu_s"] / args.n, ours["sql"] / args.n
    print(
        f"  ours / floor: rate {rate * floor['elapsed_s'] / args.n:.2f}x, CPU per email {ours['cpu_s'] / floor['cpu_s']:.2f}x"
    )
    print(f"  peer, quoted: {PEER}")
    print(
        f"  targets: rate >= {TARGET_RATE:.0f}/s: {'met' if rate >= TARGET_RATE else 'NOT met'} ({rate:.0f}/s); "
        f"CPU per email <= the floor's: {'met' if cpu <= floor['cpu_s'] / args.n else 'NOT met'} "
        f"({1000 * cpu:.2f} vs {1000 * floor['cpu_s'] / args.n:.2f} ms); <= {TARGET_SQL} SQL per email: "
        f"{'met' if sql <= TARGET_SQL else 'NOT met'} ({sql:.3f}); ours queued in {ours['queue_s']:.2f} s of "
        f"{ours['elapsed_s']:.2f} s ({1000 * ours['queue_cpu_s'] / args.n:.2f} ms CPU per email queueing)"
    )


if __name__ == "__main__":
    main()
