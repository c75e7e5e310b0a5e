"""Dashboard, impact report and erasure on a larger SQLite database (prints figures; never a timed test).

    .venv/bin/python bench/dashboard.py [--n 20000]

Builds ``--n`` partnerships, events × 10 invitations, outbox messages + delivery events, consent entries and
organisations in a throwaway SQLite file, then times ``dashboard()`` (statement count printed too), the impact
report for a year, and one erasure (targeted + sweep of every text column).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert  # noqa: E402

from crm import models as m  # noqa: E402
from crm.dashboard import reports  # noqa: E402
from crm.dashboard import services as ds  # noqa: E402
from crm.db import create_db_engine, create_session_factory  # noqa: E402
from crm.directory.reference import ensure_reference_data  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.privacy.erasure import erase  # noqa: E402
from crm.privacy.subjects import find_subject  # noqa: E402
from crm.settings import Settings  # noqa: E402

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def build(session, n: int) -> None:
    day = dt.timedelta(days=1)
    session.execute(
        insert(m.Organisation),
        [
            {
                "name": f"Org {i}",
                "name_normalised": f"org {i}",
                "slug": f"org-{i}",
                "kind": m.OrgKind.VCSE,
                "review_status": m.ReviewStatus.SUBMITTED if i % 50 == 0 else m.ReviewStatus.APPROVED,
            }
            for i in range(n)
        ],
    )
    stages = list(m.PartnershipStage)
    session.execute(
        insert(m.Partnership),
        [
            {
                "title": f"P {i}",
                "stage": stages[i % 7],
                "created_at": NOW - day * (i % 400),
                "updated_at": NOW,
                "stage_changed_at": NOW - day * (i % 300),
                "last_activity_at": NOW - day * (i % 200),
                "next_step": "x" if i % 3 else "",
                "next_step_due": (NOW - day * (i % 20 - 10)).date(),
            }
            for i in range(n)
        ],
    )
    session.execute(insert(m.Contact), [{"name": f"Person {i}", "email": f"p{i}@example.org"} for i in range(n)])
    events = n // 20
    session.execute(
        insert(m.Event),
        [
            {
                "uid": f"e{i}",
                "title": f"E {i}",
                "slug": f"e-{i}",
                "starts_at": NOW + day * (i % 60 - 30),
                "ends_at": NOW + day * (i % 60 - 30),
                "capacity": 30,
                "status": m.EventStatus.PUBLISHED,
            }
            for i in range(events)
        ],
    )
    session.execute(
        insert(m.Invitation),
        [
            {"event_id": 1 + i % events, "contact_id": 1 + i, "status": list(m.InvitationStatus)[i % 6]}
            for i in range(min(n, events * 10))
        ],
    )
    session.execute(
        insert(m.OutboxMessage),
        [
            {
                "idempotency_key": f"k{i}",
                "kind": "x",
                "recipient": f"p{i % n}@example.org",
                "status": m.OutboxStatus.SENT,
                "sent_at": NOW - day * (i % 60),
                "text_body": f"Hello Person {i % n}, p{i % n}@example.org",
            }
            for i in range(n * 2)
        ],
    )
    session.execute(
        insert(m.DeliveryEvent),
        [
            {
                "sg_event_id": f"s{i}",
                "event": ("delivered", "bounce", "spamreport", "open")[i % 4],
                "email": f"p{i % n}@example.org",
                "occurred_at": NOW - day * (i % 60),
                "received_at": NOW,
            }
            for i in range(n * 2)
        ],
    )
    session.execute(
        insert(m.ConsentEntry),
        [
            {
                "email": f"p{i}@example.org",
                "action": m.ConsentAction.UNSUBSCRIBE if i % 5 == 0 else m.ConsentAction.SUBSCRIBE,
                "created_at": NOW - day * (i % 60),
            }
            for i in range(n)
        ],
    )


def timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="test", database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        engine = create_db_engine(settings)
        upgrade(engine)
        factory = create_session_factory(engine)
        with factory() as session:
            ensure_reference_data(session)
            t0 = time.perf_counter()
            build(session, args.n)
            session.commit()
            print(f"built n={args.n} in {time.perf_counter() - t0:.1f}s")
            statements = []
            event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
            ds.dashboard(session, now=NOW, settings=settings)
            print(f"dashboard statements: {len(statements)}")
            print(f"dashboard(): {timed(lambda: ds.dashboard(session, now=NOW, settings=settings)):.1f} ms median")
            year = reports.Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
            print(f"impact_report(year): {timed(lambda: reports.impact_report(session, year, now=NOW)):.1f} ms median")
            t0 = time.perf_counter()
            counts = erase(session, find_subject(session, email="p7@example.org"), None, now=NOW)
            print(
                f"erase(one person, sweep of every text column): {(time.perf_counter() - t0) * 1000:.0f} ms; {counts}"
            )
            session.rollback()


if __name__ == "__main__":
    main()
