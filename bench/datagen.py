"""Build a large database for the scale benchmarks: N internships and N funding calls with Zipf-distributed
text (a few words very common, a long tail of rare ones, like real prose) and realistic filter columns.

    .venv/bin/python bench/datagen.py --scale 1m --seed 42 [--out bench/results/scale-1m.sqlite3]

The schema comes from the migrations; organisations (hosts and funders), topics and regions are made first.
Rows go in with executemany in chunks, inside one transaction per chunk. Deterministic for a given seed.
Prints the row counts, the most common word (the worst case for search) and the time taken.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, select  # noqa: E402

from crm import models as m  # noqa: E402
from crm.db import create_db_engine  # noqa: E402
from crm.directory.reference import ensure_reference_data  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import Settings  # noqa: E402

CHUNK = 20_000
DOMAIN_WORDS = [
    "mental",
    "health",
    "research",
    "community",
    "peer",
    "support",
    "wellbeing",
    "young",
    "people",
    "carers",
    "lived",
    "experience",
    "recovery",
    "anxiety",
    "depression",
    "psychosis",
    "trauma",
    "suicide",
    "prevention",
    "charity",
    "university",
    "placement",
    "project",
    "evaluation",
    "participation",
    "coproduction",
    "data",
    "interviews",
    "survey",
    "grant",
    "partnership",
    "training",
    "digital",
    "housing",
    "employment",
    "loneliness",
    "older",
    "adults",
    "families",
    "schools",
    "crisis",
    "service",
    "design",
    "volunteers",
]


def parse_scale(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


class Zipf:
    """Words by rank with probability proportional to 1 / rank**s; rank 1 is the most common word."""

    def __init__(self, rng: random.Random, size: int = 6000, s: float = 1.07) -> None:
        syllables = ["ka", "lo", "mi", "ne", "ra", "to", "vi", "su", "de", "po", "an", "el", "or", "in", "ul"]
        words = list(DOMAIN_WORDS)
        seen = set(words)
        while len(words) < size:
            word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
            if word not in seen:
                seen.add(word)
                words.append(word)
        self.words = words
        weights = [1 / (rank**s) for rank in range(1, size + 1)]
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]
        self.rng = rng

    def text(self, n: int) -> str:
        rnd, cum, total, words = self.rng.random, self.cumulative, self.total, self.words
        return " ".join(words[bisect.bisect_left(cum, rnd() * total)] for _ in range(n))


def chunks(total: int, size: int = CHUNK):
    start = 0
    while start < total:
        yield start, min(total, start + size)
        start += size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="", help="rows per table: 10k, 100k, 1m ... (required)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="", help="SQLite file (default bench/results/scale-<scale>.sqlite3)")
    parser.add_argument("--organisations", type=int, default=5000)
    args = parser.parse_args()
    if not args.scale:
        print("bench/datagen.py builds a benchmark database; run it with --scale, e.g. --scale 1m --seed 42")
        return 0
    n = parse_scale(args.scale)
    out = Path(args.out or ROOT / "bench" / "results" / f"scale-{args.scale}.sqlite3")
    out.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    rng = random.Random(args.seed)
    zipf = Zipf(rng)
    started = time.perf_counter()
    settings = Settings(env="test", database_url=f"sqlite:///{out}")
    engine = create_db_engine(settings)

    @event.listens_for(engine, "connect")
    def _bulk_load(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA synchronous=OFF")  # a benchmark database: speed over durability
        dbapi_connection.execute("PRAGMA cache_size=-200000")

    upgrade(engine)
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            ensure_reference_data(session)
            session.flush()
        region_ids = list(conn.scalars(select(m.Region.id)))
        topic_ids = list(conn.scalars(select(m.Topic.id)))
        kinds = list(m.OrgKind)
        orgs = []
        for i in range(1, args.organisations + 1):
            name = f"{zipf.text(2).title()} {rng.choice(['Trust', 'Network', 'Collective', 'Institute', 'Centre'])} {i}"
            orgs.append(
                {
                    "id": i,
                    "name": name,
                    "name_normalised": name.lower(),
                    "slug": f"org-{i}",
                    "kind": kinds[i % len(kinds)],
                    "description": zipf.text(20),
                    "region_id": rng.choice(region_ids) if region_ids else None,
                }
            )
        conn.execute(insert(m.Organisation), orgs)
    print(f"organisations: {args.organisations}  topics: {len(topic_ids)}  regions: {len(region_ids)}")

    directions, modes = list(m.InternshipDirection), list(m.InternshipMode)
    periods = list(m.StipendPeriod)
    statuses = [m.InternshipStatus.PUBLISHED] * 8 + [m.InternshipStatus.CLOSED, m.InternshipStatus.DRAFT]
    for lo, hi in chunks(n):
        rows, topics = [], []
        for i in range(lo + 1, hi + 1):
            title = zipf.text(rng.randint(3, 7)).capitalize()
            closing = (now + dt.timedelta(days=rng.randint(-60, 180))).date()
            status = rng.choice(statuses)
            if status == m.InternshipStatus.PUBLISHED and closing < now.date():
                status = m.InternshipStatus.CLOSED  # as the hourly closing job leaves it
            paid = rng.random() < 0.6
            rows.append(
                {
                    "id": i,
                    "title": title[:200],
                    "slug": f"internship-{i}",
                    "host_organisation_id": rng.randint(1, args.organisations),
                    "direction": rng.choice(directions),
                    "description": zipf.text(rng.randint(20, 60)),
                    "region_id": rng.choice(region_ids) if region_ids and rng.random() < 0.8 else None,
                    "mode": rng.choice(modes),
                    "paid": paid,
                    "stipend_pence": rng.randint(50, 2000) * 100 if paid else None,
                    "stipend_period": rng.choice(periods) if paid else None,
                    "hours_per_week": rng.randint(4, 37),
                    "duration": f"{rng.randint(2, 26)} weeks",
                    "closing_date": closing,
                    "closes_at": dt.datetime.combine(closing, dt.time(23, 59), tzinfo=dt.UTC),
                    "status": status,
                    "published_at": now - dt.timedelta(minutes=n - i) if status != m.InternshipStatus.DRAFT else None,
                    "host_contact_name": "Placement Coordinator",
                    "host_contact_email": f"host{i % 997}@example.org",
                }
            )
            if topic_ids:
                topics.extend(
                    {"internship_id": i, "topic_id": t} for t in rng.sample(topic_ids, k=min(2, len(topic_ids)))
                )
        with engine.begin() as conn:
            conn.execute(insert(m.Internship), rows)
            if topics:
                conn.execute(insert(m.internship_topics), topics)
        print(f"\rinternships: {hi:>9,}", end="", flush=True)
    print()

    call_statuses = [m.CallStatus.PUBLISHED] * 8 + [m.CallStatus.CLOSED, m.CallStatus.DRAFT]
    for lo, hi in chunks(n):
        rows, deadlines, topics = [], [], []
        for i in range(lo + 1, hi + 1):
            title = f"{zipf.text(rng.randint(3, 8)).capitalize()} {i}"
            summary, eligibility = zipf.text(rng.randint(25, 70)), zipf.text(rng.randint(8, 20))
            due = now + dt.timedelta(days=rng.randint(-90, 365), hours=rng.randint(0, 23))
            funder = rng.randint(1, args.organisations)
            status = rng.choice(call_statuses)
            if status == m.CallStatus.PUBLISHED and due <= now:
                status = m.CallStatus.CLOSED  # as the hourly close job leaves it
            low = rng.randint(1, 50) * 1000
            rows.append(
                {
                    "id": i,
                    "title": title[:300],
                    "title_normalised": title.lower()[:300],
                    "slug": f"call-{i}",
                    "funder_id": funder,
                    "summary": summary,
                    "eligibility": eligibility,
                    "search_text": f"{title} {summary} {eligibility}".lower(),
                    "opens_at": due - dt.timedelta(days=60),
                    "next_deadline_at": due,  # one deadline: the next, or the last once it has passed
                    "last_deadline_at": due,
                    "amount_min": low,
                    "amount_max": low * rng.randint(2, 10),
                    "requires_vcse_partner": rng.random() < 0.3,
                    "status": status,
                    "published_at": now - dt.timedelta(minutes=n - i) if status != m.CallStatus.DRAFT else None,
                }
            )
            deadlines.append({"call_id": i, "label": "Full application", "due_at": due})
            if topic_ids:
                topics.append({"call_id": i, "topic_id": rng.choice(topic_ids)})
        with engine.begin() as conn:
            conn.execute(insert(m.FundingCall), rows)
            conn.execute(insert(m.FundingCallDeadline), deadlines)
            if topics:
                conn.execute(insert(m.funding_call_topics), topics)
        print(f"\rfunding calls: {hi:>9,}", end="", flush=True)
    print()

    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        counts = {
            "internships": conn.scalar(select(func.count()).select_from(m.Internship)),
            "funding_calls": conn.scalar(select(func.count()).select_from(m.FundingCall)),
        }
    engine.dispose()
    elapsed = time.perf_counter() - started
    print(f"{out}: {counts} in {elapsed:.0f} s; most common word: {zipf.words[0]!r}; rarest: {zipf.words[-1]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
