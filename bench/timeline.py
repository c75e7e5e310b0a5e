"""Benchmark: the timeline of one busy contact (and of its organisation) with N items per source, among other
people's rows: the first page, a page deep in the list (reached by cursor), and a filtered page, each timed over a
few runs, with its statement count. Prints figures; asserts nothing.

Usage: .venv/bin/python bench/timeline.py [--per-source N] [--others M] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm import models as m  # noqa: E402
from crm.db import create_db_engine, create_session_factory, unit_of_work  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import Settings  # noqa: E402
from crm.timeline.query import Owner, timeline  # noqa: E402

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def seed(session, per_source: int, others: int) -> tuple[int, int, str]:  # type: ignore[no-untyped-def]
    org = m.Organisation(name="Busy Org", name_normalised="busy org", slug="busy-org", kind=m.OrgKind.VCSE)
    session.add(org)
    session.flush()
    people = [m.Contact(name=f"Person {i}", email=f"p{i}@example.org") for i in range(others + 1)]
    session.add_all(people)
    session.flush()
    session.execute(
        insert(m.Affiliation), [{"contact_id": p.id, "organisation_id": org.id, "is_primary": True} for p in people[:5]]
    )
    me = people[0]
    step = dt.timedelta(minutes=7)
    outbox, audit, consent, notes = [], [], [], []
    for p in people:
        n = per_source if p is me else max(1, per_source // 10)
        for i in range(n):
            when = T0 + i * step
            outbox.append(
                {
                    "idempotency_key": f"b:{p.id}:{i}",
                    "kind": "notice",
                    "recipient": p.email,
                    "subject": f"Mail {i}",
                    "status": "sent",
                    "created_at": when,
                    "sent_at": when,
                    "next_attempt_at": when,
                }
            )
            audit.append(
                {
                    "at": when,
                    "actor": "bench",
                    "action": "updated",
                    "entity": "contact",
                    "entity_id": p.id,
                    "summary": p.name,
                    "changes": {"job_title": [str(i), str(i + 1)]},
                }
            )
            consent.append({"email": p.email, "action": "preferences", "created_at": when})
            notes.append({"contact_id": p.id, "body": f"Note {i}", "created_at": when, "updated_at": when})
    for table, rows in (
        (m.OutboxMessage, outbox),
        (m.AuditEntry, audit),
        (m.ConsentEntry, consent),
        (m.TimelineNote, notes),
    ):
        for start in range(0, len(rows), 5000):
            session.execute(insert(table), rows[start : start + 5000])
    return me.id, org.id, me.email  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-source", type=int, default=5_000, help="items per source for the busy contact")
    parser.add_argument("--others", type=int, default=2_000, help="other contacts (each with a tenth as many)")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-timeline-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    settings = Settings(env="test", database_url=url, secret_keys=("bench-" * 8,), base_url="http://bench")
    engine = create_db_engine(settings)
    upgrade(engine)
    factory = create_session_factory(engine)
    t0 = time.perf_counter()
    with unit_of_work(factory) as session:
        contact_id, org_id, email = seed(session, args.per_source, args.others)
    print(
        f"{engine.dialect.name}: {args.per_source} items x 4 sources for the contact, {args.others} others; "
        f"seeded in {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.1f}"
    )
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def measure(label: str, owner: Owner, pages: int = 1, **kwargs) -> None:  # type: ignore[no-untyped-def]
        with factory() as session:
            cursor = ""
            for _ in range(pages - 1):  # walk to the page by cursor, as a person clicking "Older" would
                cursor = timeline(session, owner, cursor=cursor, **kwargs).next_cursor or ""
            times = []
            for _ in range(7):
                statements.clear()
                t = time.perf_counter()
                page = timeline(session, owner, cursor=cursor, **kwargs)
                times.append((time.perf_counter() - t) * 1000)
            print(
                f"  {label}: median {statistics.median(times):.1f} ms (min {min(times):.1f}), "
                f"{len(page.items)} items, {len(statements)} statements"
            )

    person = Owner(contact_id=contact_id, contact_email=email)
    org = Owner(organisation_id=org_id)
    measure("contact, first page of 25", person)
    measure("contact, page 40 (by cursor)", person, pages=40)
    measure("contact, first page of 100", person, page_size=100)
    measure("contact, notes only, page 40", person, pages=40, kinds=["note"])
    measure("organisation (5 people), first page", org)
    measure("organisation, page 40", org, pages=40)


if __name__ == "__main__":
    main()
