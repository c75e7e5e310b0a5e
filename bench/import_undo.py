"""Benchmark: import a generated CSV of N new organisations with contacts, then re-import it with every description
changed and --replace description (N updated records), then undo both batches — times and peak memory.

Usage: .venv/bin/python bench/import_undo.py [--rows N] [--database-url URL]
Default: 10,000 rows into a fresh SQLite file under /tmp. Prints the time of each step and the peak resident memory
(ru_maxrss) after it, so an undo that grew with the batch would show.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from crm.domains import EXTENSIONS  # noqa: E402
from crm.imports import undo  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import Settings  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_csv(path: Path, rows: int, words: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("organisation_name,description,website,region,topics,contact_name,contact_email,contact_role\n")
        for i in range(rows):
            fh.write(
                f"Undo Group {i},{words} {i},https://undo{i}.example.org,London,Carers,Person {i},"
                f"undo{i}@example.org,Chair\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the generated CSV (default 10,000)")
    parser.add_argument("--database-url", default="", help="database to import into (default: a fresh SQLite file)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-undo-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    settings = Settings(env="test", database_url=url, secret_keys=("bench-" * 8,), base_url="http://bench")
    engine = create_db_engine(settings)
    upgrade(engine)
    factory = create_session_factory(engine)
    with unit_of_work(factory) as session:
        ensure_reference_data(session)
    first, second = tmp / "first.csv", tmp / "second.csv"
    write_csv(first, args.rows, "A peer support group")
    write_csv(second, args.rows, "Changed words for group")
    print(f"{args.rows} rows, database {engine.dialect.name}, load average {os.getloadavg()[0]:.1f}")

    def step(label: str, action):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        with unit_of_work(factory) as session:
            result = action(session)
        print(
            f"{label}: {time.perf_counter() - t0:.2f} s (with commit), peak RSS {peak_mb():.0f} MB — {result.summary()}"
        )
        return result

    created = step("import (all new)", lambda s: run_import(s, first, apply=True))
    updated = step(
        "re-import --replace description", lambda s: run_import(s, second, apply=True, replace={"description"})
    )
    now = dt.datetime.now(dt.UTC)
    step("undo the re-import", lambda s: undo.undo(s, None, updated.batch_id, EXTENSIONS, now=now))
    step("undo the first import", lambda s: undo.undo(s, None, created.batch_id, EXTENSIONS, now=now))
    engine.dispose()
    if url.startswith("sqlite"):
        os.remove(tmp / "bench.sqlite3")
    first.unlink()
    second.unlink()


if __name__ == "__main__":
    main()
