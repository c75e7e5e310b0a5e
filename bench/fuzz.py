"""The long API fuzzing run: every operation of /schema/openapi.json, many generated examples each, as an
admin API key and anonymously, in process against a fresh SQLite database with the demo data.

    .venv/bin/python bench/fuzz.py [--examples 200] [--seed 42 | --random] [--only /api/v1/internships]

Prints one line per operation and auth (examples run, first failure) and a summary; exits 1 on failures.
The bounded version runs in `make test` (tests/api_fuzz).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm import models as m  # noqa: E402
from crm.accounts.services import create_api_key  # noqa: E402
from crm.app import create_app  # noqa: E402
from crm.db import create_db_engine, unit_of_work  # noqa: E402
from crm.demo import seed_demo  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import Settings  # noqa: E402
from tests.api_fuzz.fuzzing import FUZZED_PREFIXES, fuzz, load_schema  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=200, help="generated examples per operation and auth")
    parser.add_argument("--seed", type=int, default=42, help="derandomised run (the default)")
    parser.add_argument("--random", action="store_true", help="a new random run instead of the seeded one")
    parser.add_argument("--only", default="", help="only operations whose path starts with this")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{tmp}/fuzz.sqlite3",
            secret_keys=("bench-fuzz-secret-0123456789-abcdefghijklmnop",),
            base_url="http://testserver.local",
            run_worker_in_process=False,
        )
        engine = create_db_engine(settings)
        upgrade(engine)
        engine.dispose()
        app = create_app(settings)
        with unit_of_work(app.state.session_factory) as session:
            seed_demo(session, settings)
            _, key = create_api_key(session, "fuzzing", m.Role.ADMIN)
        admin = {"Authorization": f"Bearer {key}"}
        operations = [r.ok() for r in load_schema(app).get_all_operations()]
        operations = [op for op in operations if op.path.startswith(FUZZED_PREFIXES) and op.path.startswith(args.only)]
        seed = None if args.random else args.seed
        started = time.perf_counter()
        calls = 0
        failed: list[str] = []
        for op in operations:
            for who, headers in (("admin key", admin), ("anonymous", {})):
                app.state.rate_limiter.reset()
                outcome = fuzz(op, headers, who, args.examples, seed=seed)
                calls += outcome.calls
                status = "ok" if not outcome.failure else "FAIL"
                print(f"{status:4} {op.method.upper():6} {op.path:55} {who:10} {outcome.calls:5} examples")
                if outcome.failure:
                    failed.append(f"{op.method.upper()} {op.path} as {who}:\n{outcome.failure}\n")
        elapsed = time.perf_counter() - started
    print(
        f"\n{len(operations)} operations x 2 auths, {calls} requests in {elapsed:.1f} s "
        f"({calls / elapsed:.0f} requests/s), {len(failed)} failing"
    )
    for failure in failed:
        print("\n" + failure)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
