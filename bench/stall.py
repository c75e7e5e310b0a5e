"""One slow request must not stall everyone (issue 21.2): the latency of ``GET /organisations`` from one uvicorn
process while four heavy requests run at once (prints figures; never a timed test).

    .venv/bin/python bench/stall.py                                   # small default, a few minutes
    .venv/bin/python bench/stall.py --scale 1m --contacts 100000 --preview-rows 20000   # the issue's sizes

1. Prepares a SQLite database in a temporary directory: bench/datagen.py at ``--scale`` (internships and funding
   calls, what the dashboard counts at the million-row scale), then bench/dashboard.py's ``build`` with
   ``--contacts`` rows (contacts, partnerships, events, invitations, 2 x outbox and delivery events, consent),
   a ``--preview-rows`` CSV in the import folder (bench/import.py's file) and a signed-in admin.
2. Starts ONE uvicorn process of the app (pinned to core 0 with taskset when it exists; the load from core 1).
3. Baseline: ``GET /organisations`` (``Cache-Control: no-cache``, so the handler runs and not the store of
   answers) one after another for ``--seconds``; p50/p95/p99/max.
4. Loaded: four threads each loop over the heavy requests (export of every contact as CSV, the admin dashboard,
   the import preview, a directory search), starting at a different one so that four different heavy requests
   are in flight at once, while the same probe runs; p50/p95/p99/max again, and each heavy request's count and
   median time. Issue 21's target: loaded p99 <= 100 ms.

The dashboard, the import preview's check pass and the contacts export run in the app's heavy-work processes
(crm/web/offload.py), which inherit the core pin: the heavy work still shares core 0, at a lower priority
(``--nice``, ``--workers`` override the module's defaults). The load average is printed beside each phase: on a shared
machine, compare interleaved runs only.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.web import free_port, wait_up  # noqa: E402

TARGET_P99_MS = 100.0
PROBE = "/organisations"
HEAVY = {
    "contacts export.csv": "/admin/contacts/export.csv",
    "admin dashboard": "/admin",
    "import preview": "/admin/import/{token}",
    "directory search": "/organisations?q=org",
}


def prepare(tmp: Path, args: argparse.Namespace) -> tuple[Path, str, str]:
    """The database (datagen + the dashboard's tables), the import file's token and an admin's session cookie."""
    from sqlalchemy import text

    from bench.dashboard import build
    from crm import models as m
    from crm.accounts.services import create_session, ensure_user
    from crm.db import create_db_engine, create_session_factory
    from crm.directory.importer import import_dir
    from crm.settings import Settings

    write_csv = importlib.import_module("bench.import").write_csv  # bench/import.py: a keyword as its name
    db = Path(args.db) if args.db else tmp / "stall.sqlite3"
    started = time.perf_counter()
    settings = Settings(env="test", database_url=f"sqlite:///{db}", secret_keys=(SECRET,))
    fresh = not db.exists()
    if fresh:
        orgs = ["--organisations", str(args.organisations)]
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "datagen.py"), "--scale", args.scale, "--out", str(db), *orgs],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    engine = create_db_engine(settings)
    factory = create_session_factory(engine)
    with factory() as session:
        if fresh:
            # dashboard.build names its organisations org-0.. (datagen's are org-1..): datagen's move aside.
            session.execute(text("UPDATE organisations SET slug = 'dg-' || slug"))
            build(session, args.contacts)
        user = ensure_user(session, "stall-bench@example.org", m.Role.ADMIN, name="Bench")
        cookie = create_session(session, user, settings)
        session.commit()
        if fresh:
            session.execute(text("ANALYZE"))
    engine.dispose()
    token = secrets.token_hex(16)
    write_csv(import_dir() / f"{token}.csv", args.preview_rows)
    print(
        f"{'prepared' if fresh else 'reused'} {db} ({db.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s: {args.scale} internships"
        f" and funding calls, {args.organisations} + {args.contacts} organisations, {args.contacts} contacts,"
        f" {2 * args.contacts} outbox messages; import preview of {args.preview_rows} rows",
        flush=True,
    )
    return db, token, cookie


SECRET = "bench-stall-secret-0123456789-abcdefghijklmnopqrstuv"


def app() -> object:
    """The app as uvicorn's factory, with the switch interval the run asked for (``--switch-interval``)."""
    from crm.app import create_app

    interval = float(os.environ.get("BENCH_SWITCH_INTERVAL_MS") or 0)
    if interval:
        sys.setswitchinterval(interval / 1000)
    application = create_app()
    from crm.web import offload  # the worker pool of heavy work (issue 21.2): its priority and size, if asked

    offload.NICE = int(os.environ.get("BENCH_NICE") or offload.NICE)
    offload.WORKERS = int(os.environ.get("BENCH_WORKERS") or offload.WORKERS)
    tokens = int(os.environ.get("BENCH_THREAD_TOKENS") or 0)
    if tokens:  # at most this many handlers (and stream chunks) in the thread pool at once: a narrow "heavy lane"

        def narrow() -> None:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = tokens

        application.on_startup.append(narrow)
    return application


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, int, float]:
    """One request on a kept-alive connection: status, body bytes (read to the end), milliseconds."""
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    size = 0
    while chunk := response.read(1 << 16):
        size += len(chunk)
    return response.status, size, (time.perf_counter() - start) * 1000


def probe(port: int, seconds: float) -> list[float]:
    """``GET /organisations`` one after another for ``seconds``: each latency in ms (a non-200 fails the run)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    timings: list[float] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        status, _, ms = get(conn, PROBE, {"Cache-Control": "no-cache"})
        if status != 200:
            raise RuntimeError(f"GET {PROBE} answered {status}")
        timings.append(ms)
    conn.close()
    return timings


def heavy_loop(port: int, cookie: str, order: list[str], stop: threading.Event, out: dict[str, list[float]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Cookie": f"crm_session={cookie}", "Cache-Control": "no-cache"}
    i = 0
    while not stop.is_set():
        name = order[i % len(order)]
        status, size, ms = get(conn, HEAVY_URLS[name], headers)
        if status != 200 or size == 0:
            raise RuntimeError(f"{name} answered {status} ({size} bytes)")
        out[name].append(ms)
        i += 1
    conn.close()


HEAVY_URLS: dict[str, str] = {}


def percentiles(timings: list[float]) -> str:
    t = sorted(timings)
    pick = lambda q: t[min(len(t) - 1, int(len(t) * q))]  # noqa: E731
    return (
        f"n={len(t):>6}  p50 {statistics.median(t):7.1f} ms  p95 {pick(0.95):7.1f} ms  p99 {pick(0.99):7.1f} ms"
        f"  max {t[-1]:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="20k", help="datagen rows per table (internships, funding calls); 1m")
    parser.add_argument("--organisations", type=int, default=2000, help="datagen's organisations")
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts (and the dashboard's tables); 100000")
    parser.add_argument("--preview-rows", type=int, default=5000, help="rows of the previewed import; 20000")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--heavy", type=int, default=4, help="heavy requests in flight at once")
    parser.add_argument("--thread-tokens", type=int, default=0, help="the app's thread pool size (anyio's default 40)")
    parser.add_argument("--nice", type=int, default=0, help="the heavy-work processes' niceness (crm.web.offload: 10)")
    parser.add_argument("--workers", type=int, default=0, help="heavy-work processes (crm.web.offload: 2)")
    parser.add_argument("--only", default="", help="comma-separated heavy requests to use, e.g. 'import preview'")
    parser.add_argument("--db", default="", help="SQLite file: built there if missing, reused if present")
    parser.add_argument(
        "--switch-interval", type=float, default=0, help="ms: the app process's sys.setswitchinterval (GIL hand-over)"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-stall-"))
    token = ""
    proc = None
    try:
        db, token, cookie = prepare(tmp, args)
        HEAVY_URLS.update({name: url.format(token=token) for name, url in HEAVY.items()})
        port = free_port()
        env = dict(os.environ, CRM_DATABASE_URL=f"sqlite:///{db}", CRM_ENV="test", CRM_SECRET_KEY=SECRET)
        env |= {"CRM_RUN_WORKER_IN_PROCESS": "false", "CRM_LOG_LEVEL": "WARNING"}
        env |= {"BENCH_SWITCH_INTERVAL_MS": str(args.switch_interval), "BENCH_THREAD_TOKENS": str(args.thread_tokens)}
        env |= {"BENCH_NICE": str(args.nice or ""), "BENCH_WORKERS": str(args.workers or "")}
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--log-level"]
        uvicorn += ["warning", "--no-access-log", "--factory", "bench.stall:app"]
        proc = subprocess.Popen([*pin, *uvicorn], env=env, cwd=ROOT)
        if pin:
            os.sched_setaffinity(0, {1})
        wait_up(f"http://127.0.0.1:{port}/health")
        probe(port, 2)  # warm-up, discarded
        for name in HEAVY:  # each heavy request once, alone: what it costs without company
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            status, size, ms = get(conn, HEAVY_URLS[name], {"Cookie": f"crm_session={cookie}"})
            conn.close()
            print(f"alone: {name:22} {status}  {size / 1e6:6.2f} MB  {ms:8.0f} ms", flush=True)
        load_alone = ", ".join(f"{n:.1f}" for n in os.getloadavg())
        baseline = probe(port, args.seconds)
        stop = threading.Event()
        done: dict[str, list[float]] = {name: [] for name in HEAVY}
        names = [n.strip() for n in args.only.split(",") if n.strip() in HEAVY] if args.only else list(HEAVY)
        threads = [
            threading.Thread(
                target=heavy_loop,
                args=(port, cookie, names[i % len(names) :] + names[: i % len(names)], stop, done),
                daemon=True,
            )
            for i in range(args.heavy)
        ]
        for t in threads:
            t.start()
        time.sleep(1)  # the heavy requests are in flight
        loaded = probe(port, args.seconds)
        stop.set()
        for t in threads:
            t.join(600)
        interval = f"{args.switch_interval} ms" if args.switch_interval else "Python's default, 5 ms"
        load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
        interval += f"; thread pool {args.thread_tokens or 40}; worker nice {args.nice or 'default'}"
        interval += f", workers {args.workers or 'default'}"
        print(f"\nGET {PROBE} (one uvicorn process, Cache-Control: no-cache; switch interval {interval}; load {load})")
        print(f"  alone (load {load_alone}):  {percentiles(baseline)}")
        print(f"  with {args.heavy} heavy requests at once: {percentiles(loaded)}")
        for name, times in done.items():
            median = f"{statistics.median(times):8.0f} ms" if times else "       - ms"
            print(f"  heavy {name:22} {len(times):>4} done, median {median}")
        p99 = sorted(loaded)[min(len(loaded) - 1, int(len(loaded) * 0.99))]
        verdict = "met" if p99 <= TARGET_P99_MS else "NOT met"
        print(f"loaded p99 {p99:.1f} ms (target <= {TARGET_P99_MS:.0f} ms): {verdict}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        if token:
            from crm.directory.importer import import_dir

            for suffix in (".csv", ".name"):
                (import_dir() / f"{token}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
