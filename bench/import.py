"""Benchmark: CSV import of a 50,000-row file (organisations + contacts) — time and peak memory.

Usage: .venv/bin/python bench/import.py [--rows N] [--database-url URL]
Default: 50,000 rows into a fresh SQLite file under /tmp. Prints time for the check pass and the write pass and the
peak resident memory (ru_maxrss) of the process, measured before and after, so memory growth is visible.
Every 100th row is deliberately bad (unknown region) and skipped, as with --skip-bad-rows.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.db import create_db_engine, create_session_factory, unit_of_work  # noqa: E402
from crm.directory.importer import run_import  # noqa: E402
from crm.directory.reference import ensure_reference_data  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import Settings  # noqa: E402

REGIONS = ["London", "Wales", "Scotland", "North East", "South West", "UK-wide"]
TOPICS = ["Carers", "Psychosis", "Peer support", "Trauma", "Older adults"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(
            "organisation_name,kind,description,website,region,charity_number,topics,contact_name,contact_email,"
            "contact_role\n"
        )
        for i in range(rows):
            region = "Atlantis" if i % 100 == 99 else REGIONS[i % len(REGIONS)]
            topics = f"{TOPICS[i % 5]};{TOPICS[(i + 2) % 5]}"
            fh.write(
                f"Bench Group {i},vcse,A peer support group number {i} for people with lived experience,"
                f"https://bench{i}.example.org,{region},{3000000 + i},{topics},Person {i},person{i}@example.org,Chair\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="rows in the generated CSV (default 50,000)")
    parser.add_argument("--database-url", default="", help="database to import into (default: a fresh SQLite file)")
    args = parser.parse_args()
    rows = args.rows
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-import-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    settings = Settings(env="test", database_url=url, secret_keys=("bench-" * 8,), base_url="http://bench")
    engine = create_db_engine(settings)
    upgrade(engine)
    factory = create_session_factory(engine)
    with unit_of_work(factory) as session:
        ensure_reference_data(session)
    csv_path = tmp / "bench.csv"
    write_csv(csv_path, rows)
    print(f"{rows} rows, {csv_path.stat().st_size / 1e6:.1f} MB CSV, database {engine.dialect.name}")
    print(f"peak RSS before import: {peak_mb():.0f} MB")
    with unit_of_work(factory) as session:
        t0 = time.perf_counter()
        report = run_import(session, csv_path, apply=False)
        t1 = time.perf_counter()
        print(f"check pass (dry run): {t1 - t0:.2f} s — {report.summary()}")
        print(f"peak RSS after check: {peak_mb():.0f} MB")
        t2 = time.perf_counter()
        report = run_import(session, csv_path, apply=True)
        t3 = time.perf_counter()
    t4 = time.perf_counter()
    print(f"write pass: {t3 - t2:.2f} s, commit {t4 - t3:.2f} s — {report.summary()}")
    print(f"rows/s (write pass): {report.total_rows / (t3 - t2):.0f}")
    print(f"peak RSS after import: {peak_mb():.0f} MB")
    engine.dispose()
    if url.startswith("sqlite"):
        os.remove(tmp / "bench.sqlite3")
    csv_path.unlink()


if __name__ == "__main__":
    main()
