"""Invitation benchmark: queue N event invitations, each with its iTIP calendar, into the outbox.

    .venv/bin/python bench/invitations.py                    # N = 2,000
    .venv/bin/python bench/invitations.py --invitees 10000
    .venv/bin/python bench/invitations.py --one-at-a-time    # queue_invitation per invitee (the slow path)

A scratch SQLite database (like the other benches) gets one published event and N invited contacts (some
with non-ASCII names, commas and quotes, so folding and parameter quoting are exercised); then the worker's
``crm.events.sending.queue_pending`` queues every invitation (timed). Prints invitations/s, SQL statements
(an executemany counts as one) and the process's peak RSS. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
NAMES = ["Ada Example", "Zoë Ñúñez-Éxample", 'Sam "Quoted" Person', "Lee, Jordan", "Ø. Long-Named Researcher Person"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(path: str, invitees: int, one_at_a_time: bool) -> dict[str, float]:
    from sqlalchemy import event, func, insert, select

    from crm import models as m
    from crm.db import create_db_engine, create_session_factory, unit_of_work
    from crm.events import lifecycle, sending
    from crm.events.lifecycle import host_name
    from crm.events.mail import Mailer, Recipient, queue_invitation
    from crm.mailing.render import EmailRenderer
    from crm.migrate import upgrade
    from crm.settings import Settings
    from crm.tokens import Signer

    settings = Settings(
        env="test",
        database_url=f"sqlite:///{path}",
        secret_keys=("bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz",),
        base_url="https://roundtable.example.org",
        mail_rate_per_second=0,
    )
    engine = create_db_engine(settings)
    upgrade(engine)
    factory = create_session_factory(engine)
    with unit_of_work(factory) as session:
        start = NOW + dt.timedelta(days=30)
        values = {
            "title": "Funding call networking, London — autumn round",
            "description": "Meet researchers and charities; bring questions about the call.\nDrinks after.",
            "starts_at": start,
            "ends_at": start + dt.timedelta(hours=2),
            "venue": "Friends Room, 1 Example Street, London",
            "online_url": "https://meet.example.org/roundtable-autumn",
        }
        ev = lifecycle.create_event(session, None, settings.base_url, values)
        lifecycle.publish_event(session, None, ev, NOW)
        contacts = [
            {"name": f"{NAMES[i % len(NAMES)]} {i}", "email": f"invitee{i}@example.org"} for i in range(invitees)
        ]
        session.execute(insert(m.Contact), contacts)
        ids = session.scalars(select(m.Contact.id).order_by(m.Contact.id)).all()
        session.execute(
            insert(m.Invitation),
            [
                {"event_id": ev.id, "contact_id": cid, "status": m.InvitationStatus.INVITED, "invited_at": NOW}
                for cid in ids
            ],
        )
        event_id = ev.id
    mailer = Mailer(EmailRenderer(settings), Signer(settings), settings)
    for part in ("subject.txt", "txt"):  # compile the templates once, as a running worker has
        mailer.renderer.text_env.get_template(f"email/event_invitation.{part}")
    mailer.renderer.html_env.get_template("email/event_invitation.html")
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        if one_at_a_time:
            ev = session.get(m.Event, event_id)
            host = host_name(session, ev)
            rows = session.execute(
                select(m.Invitation.id, m.Contact.id, m.Contact.name, m.Contact.email)
                .join(m.Contact, m.Contact.id == m.Invitation.contact_id)
                .where(m.Invitation.event_id == event_id)
                .order_by(m.Invitation.id)
            ).all()
            for inv_id, cid, name, email in rows:
                recipient = Recipient(inv_id, cid, name, email, m.InvitationStatus.INVITED)
                queue_invitation(session, mailer, ev, recipient, host, now=NOW)
            queued = len(rows)
        else:
            queued = sending.queue_pending(session, mailer, NOW, batch=invitees)
    seconds = time.perf_counter() - started
    event.remove(engine, "before_cursor_execute", count)
    with unit_of_work(factory) as session:
        rows = session.scalar(select(func.count()).select_from(m.OutboxMessage))
    assert queued == invitees == rows, (queued, invitees, rows)
    return {"queued": queued, "seconds": seconds, "statements": statements, "rss": rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invitees", type=int, default=2000, help="how many invitations to queue (default 2000)")
    parser.add_argument(
        "--one-at-a-time", action="store_true", help="queue_invitation per invitee instead of the worker's batch"
    )
    args = parser.parse_args()
    if args.invitees < 1:
        parser.error("--invitees must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        r = run(str(Path(tmp) / "bench.sqlite"), args.invitees, args.one_at_a_time)
    path = "one at a time" if args.one_at_a_time else "queue_pending"
    print(
        f"{path}: {r['queued']:,} invitations in {r['seconds']:.2f} s = {r['queued'] / r['seconds']:,.0f} invitations/s, "
        f"{r['statements']:,} SQL statements ({r['statements'] / r['queued']:.3f} per invitation), "
        f"peak RSS {r['rss']:.0f} MB"
    )


if __name__ == "__main__":
    main()
