"""Digests on PostgreSQL with one and with several worker processes, end to end (issue 21.3, "Figures").

    .venv/bin/python bench/digests_workers.py --subscribers 1000000 --workers 1 2 [--keep] [--rounds 1]

Data: ``bench/digests.py``'s (~3 of 40 topics per subscriber, Zipf-skewed; half with a region; every subscriber
takes the funding digest, 40% event news, 30% internship alerts; ~500 open calls, events and internships), drawn
from the same seed by ``bench/digests_pg_seed.py`` and loaded with COPY. Without ``--keep`` the database is
dropped, created, migrated (``crm.migrate.upgrade``), seeded and ANALYZEd; with ``--keep`` a database this bench
seeded with the same N and seed is migrated to head and reused (seeding a million takes minutes). Before each run
the outbox, the delivery ledger, the digest runs, their shards and failures are emptied (TRUNCATE … RESTART
IDENTITY) and a CHECKPOINT is taken, so every run starts alike.

A run: W worker processes, each doing what a ``crm worker`` does for a digest period, started together once each
has imported the app. Process 1 is the leader: ``crm.digests.shards.plan`` then ``build_available``; the others
``build_available`` until the run is done (the shared ``digests.build_shards`` job). In every process a dispatch
thread drains the outbox meanwhile (``crm.mailing.dispatch.drain``, the SendGrid transport, claims of 1,000,
``CRM_SENDGRID_CONCURRENCY`` requests in flight, unpaced), again every ``--dispatch-interval`` seconds when
nothing is due, until the run is done and nothing is due. All processes send to one local fake SendGrid in a
process of its own (``tests.mailing.fake_sendgrid``; its CPU is printed, not counted as ours). ``--engine
run_period`` (one worker only) builds with ``crm.digests.engine.run_period`` instead of shards.

Printed per run: digests queued and sent; wall time from the start to every digest queued and to every digest
sent; CPU per digest of the worker processes (build = each process's building thread and its batch-reading threads,
dispatch = the rest of it: the drain, its sender and copier threads), and of PostgreSQL (its backends serving the bench database, read
from /proc; the whole server separately, which other users of the server share); peak RSS per process;
statements; database growth (``pg_database_size`` before and after, bytes per digest, the outbox and ledger
tables' share); the load average at the start and end (the machine is shared: figures are noisy); a check that
each active subscriber with something new got exactly one digest and the provider got each once; and the target
of issue 21.3 (1,000,000 subscribers in <= 5 minutes with two workers) as met or not. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.digests import NOW, PERIOD, fake_counts, load, start_fake  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_digests"
TARGET_SECONDS = 300
TRUNCATE = "truncate outbox_messages, digest_deliveries, digest_failures, digest_shards, digest_runs restart identity"


def pg_settings(database_url: str, **extra: object):  # -> crm.settings.Settings
    from crm.settings import Settings

    return Settings(
        env="test",
        database_url=database_url,
        secret_keys=("bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz",),
        base_url="https://roundtable.example.org",
        mail_rate_per_second=0,
        **extra,
    )


# --- one worker process -------------------------------------------------------------------------------------------


READER = "digest-read"  # crm.digests.engine reads a range's next batch on a thread of this name while it builds


def _count_batch_reads() -> dict[str, float]:
    """The CPU of the engine's batch-reading threads, which belongs to building (the threads end with their range,
    so each read's thread time is added as it finishes)."""
    from crm.digests import engine as digest_engine

    reads = {"cpu": 0.0}
    lock = threading.Lock()

    class Counted(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            def timed() -> Any:
                start = time.thread_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    with lock:
                        reads["cpu"] += time.thread_time() - start

            return super().submit(timed)

    digest_engine.ThreadPoolExecutor = Counted  # type: ignore[misc]
    return reads


def worker(args: argparse.Namespace) -> None:
    """One ``crm worker``'s share of a digest period: build in this (main) thread, dispatch in another."""
    from sqlalchemy import event, text

    from crm.db import create_db_engine, create_session_factory
    from crm.digests import periods
    from crm.domains import EXTENSIONS
    from crm.mailing.dispatch import DispatchStats, drain
    from crm.mailing.transports.sendgrid import SendGridTransport

    settings = pg_settings(
        args.database_url, mail_transport="sendgrid", sendgrid_api_url=args.url, sendgrid_api_key="SG.bench"
    )
    engine = create_db_engine(settings)
    factory = create_session_factory(engine)
    main = threading.main_thread()
    statements = {"build": 0, "dispatch": 0}
    reads = _count_batch_reads()

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_: object) -> None:
        building = threading.current_thread() is main or threading.current_thread().name.startswith(READER)
        statements["build" if building else "dispatch"] += 1

    period = periods.parse(PERIOD)
    index, name = args.child_index, f"bench-{args.child_index + 1}"
    if args.engine == "shards":
        from crm.digests import shards
    print("READY", flush=True)
    sys.stdin.readline()  # everyone starts at once, imports done
    cpu0, main0 = time.process_time(), time.thread_time()
    built = threading.Event()
    out: dict[str, object] = {"index": index}
    dispatched = DispatchStats()

    def dispatcher() -> None:
        transport = SendGridTransport(settings)
        try:
            while True:
                stats = drain(factory, transport, settings, renderers=EXTENSIONS.deferred_renderers)
                dispatched.add(stats)
                if stats.halted:
                    break
                if stats.claimed == 0:
                    if built.is_set():  # built before this drain found nothing: nothing more will come
                        break
                    built.wait(args.dispatch_interval)
                    if built.is_set():
                        continue  # one more drain after the build ended
        finally:
            transport.close()
            out["dispatch_end"] = time.time()

    thread = threading.Thread(target=dispatcher, name="dispatch")
    if not args.no_dispatch:
        thread.start()

    def run_status(run_id: int) -> str:
        with engine.connect() as conn:
            return conn.execute(text("select status from digest_runs where id = :i"), {"i": run_id}).scalar_one()

    try:
        if args.engine == "run_period":
            from crm.digests.engine import run_period

            stats = run_period(factory, settings, period, now=NOW, trigger="bench")
            out["built"] = stats.sent
        else:
            run_id = None
            if index == 0:
                run_id = shards.plan(factory, settings, period, now=NOW)
            deadline = time.time() + 300
            while run_id is None:  # the leader plans; the others join once its shards exist
                with engine.connect() as conn:
                    run_id = conn.execute(
                        text(
                            "select r.id from digest_runs r where r.period = :p and not r.dry_run and exists"
                            " (select 1 from digest_shards s where s.run_id = r.id) order by r.id desc limit 1"
                        ),
                        {"p": PERIOD},
                    ).scalar()
                if run_id is None:
                    if time.time() > deadline:
                        raise SystemExit("no planned run appeared within 300 s")
                    time.sleep(0.1)
            done_shards = []
            while True:
                done_shards += shards.build_available(factory, settings, now=NOW, worker=name)
                status = run_status(run_id)
                if status != "running":
                    break
                time.sleep(1.0)  # shards still being built by another process (the shared job: every 10 s)
            out.update(
                run_status=status, shards=len(done_shards), built=sum(getattr(s, "sent", 0) for s in done_shards)
            )
    finally:
        out["build_end"] = time.time()
        out["build_cpu"] = time.thread_time() - main0 + reads["cpu"]
        built.set()
        if thread.is_alive():
            thread.join()
    out.update(
        cpu=time.process_time() - cpu0,
        rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        statements=statements,
        dispatch={
            "claimed": dispatched.claimed,
            "sent": dispatched.sent,
            "failed": dispatched.failed,
            "retried": dispatched.retried,
            "ambiguous": dispatched.ambiguous,
            "halted": dispatched.halted,
        },
    )
    print("RESULT " + json.dumps(out), flush=True)


# --- the parent: database, runs, figures --------------------------------------------------------------------------


def worker_url(args: argparse.Namespace) -> str:
    """The workers' database URL: with ``--jit off``, their connections run with ``jit = off`` (libpq options)."""
    if args.jit == "server":
        return args.database_url
    from sqlalchemy.engine import make_url

    url = make_url(args.database_url).update_query_dict({"options": "-c jit=off"})
    return url.render_as_string(hide_password=False)


def prepare(args: argparse.Namespace) -> None:
    from bench import digests_pg_seed as pg_seed

    if args.keep and pg_seed.seeded(args.database_url) == (args.subscribers, args.seed):
        print(f"reusing {args.database_url} ({args.subscribers:,} subscribers, seed {args.seed})", flush=True)
        from crm.db import create_db_engine
        from crm.migrate import upgrade

        engine = create_db_engine(pg_settings(args.database_url))
        upgrade(engine)  # a database seeded by older code gets the newer migrations (a no-op when at head)
        engine.dispose()
        return
    started = time.perf_counter()
    print(f"creating and migrating {args.database_url}", flush=True)
    pg_seed.recreate(args.database_url, pg_settings)
    print(f"seeding {args.subscribers:,} subscribers (seed {args.seed})", flush=True)
    pg_seed.seed(args.database_url, args.subscribers, args.seed, progress=lambda line: print(line, flush=True))
    print(f"database ready in {time.perf_counter() - started:.0f} s", flush=True)


def run_once(args: argparse.Namespace, workers: int) -> dict:
    import psycopg
    from sqlalchemy.engine import make_url

    from bench import digests_workers_stats as st
    from bench.digests_pg_seed import dsn

    database = make_url(args.database_url).database
    with psycopg.connect(dsn(args.database_url), autocommit=True) as conn:
        conn.execute(TRUNCATE)
        conn.execute("checkpoint")
    fake, url = start_fake()
    monitor = psycopg.connect(dsn(args.database_url), autocommit=True)
    pg = st.PostgresCPU(database, exclude_pid=monitor.info.backend_pid)
    logs = [open(f"{args.log_dir}/worker-{workers}w-{i + 1}.log", "w") for i in range(workers)]  # noqa: SIM115
    cmd = [
        sys.executable,
        __file__,
        "--child-index",
        "0",
        "--database-url",
        worker_url(args),
        "--url",
        url,
        "--engine",
        args.engine,
        "--dispatch-interval",
        str(args.dispatch_interval),
    ]
    cmd += ["--no-dispatch"] if args.no_dispatch else []
    procs = []
    for i in range(workers):
        cmd[3] = str(i)
        procs.append(
            subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logs[i], text=True)
        )
    for p in procs:
        if p.stdout.readline().strip() != "READY":
            raise SystemExit(f"a worker did not start: see {args.log_dir}")
    before = st.database_counters(monitor, database)
    load_start = load()
    pg.start()
    started = time.time()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results: dict[int, dict] = {}

    def reader(i: int, p: subprocess.Popen) -> None:
        for line in p.stdout:
            if line.startswith("RESULT "):
                results[i] = json.loads(line[7:])

    readers = [threading.Thread(target=reader, args=(i, p), daemon=True) for i, p in enumerate(procs)]
    for t in readers:
        t.start()
    peak_load, last_print = 0.0, time.time()
    while any(p.poll() is None for p in procs):
        time.sleep(1)
        pg.sample()
        peak_load = max(peak_load, float(load().split()[0]))
        if time.time() - started > args.timeout or any(p.poll() not in (None, 0) for p in procs):
            for p in procs:
                p.kill()
            why = f"timed out after {args.timeout} s" if time.time() - started > args.timeout else "a worker failed"
            raise SystemExit(f"{why}; logs in {args.log_dir}")
        if time.time() - last_print >= args.progress_every:
            last_print = time.time()
            shards = monitor.execute(
                "select count(*), count(*) filter (where status = 'done'), coalesce(sum(sent), 0) from digest_shards"
            ).fetchone()
            queued = shards[2] or monitor.execute("select coalesce(max(sent), 0) from digest_runs").fetchone()[0]
            print(
                f"  {time.time() - started:6.0f} s: shards done {shards[1]}/{shards[0]}, queued {queued:,}, "
                f"provider received {fake_counts(url)['personalizations']:,}; load {load()}",
                flush=True,
            )
    for t in readers:
        t.join(5)
    pg.sample()
    load_end = load()
    after = st.database_counters(monitor, database)
    counts = fake_counts(url)
    fake_cpu = st.process_cpu(fake.pid)
    fake.terminate()
    fake.wait()
    for f in logs:
        f.close()
    if len(results) != workers or any(p.returncode for p in procs):
        raise SystemExit(f"a worker failed (exit codes {[p.returncode for p in procs]}): see {args.log_dir}")
    checks = st.check_exactly_once(monitor, PERIOD, counts["personalizations"], args.engine == "shards")
    sizes = st.table_sizes(monitor)
    digests = monitor.execute("select count(*) from outbox_messages where kind = 'digest'").fetchone()[0]
    finished = monitor.execute("select max(finished_at) from digest_runs").fetchone()[0]
    live = st.live_bytes(monitor)
    monitor.close()
    ordered = [results[i] for i in range(workers)]
    return {
        "workers": workers,
        "digests": digests,
        "sent": counts["personalizations"],
        "requests": counts["requests"],
        "to_queued": max(r["build_end"] for r in ordered) - started,
        "to_sent": max(r.get("dispatch_end", r["build_end"]) for r in ordered) - started,
        "run_seconds": finished.timestamp() - started if finished else None,
        "live": live,
        "procs": ordered,
        "pg": pg.seconds(),
        "fake_cpu": fake_cpu,
        "db": {k: after[k] - before[k] for k in after},
        "size_before": before["size"],
        "tables": sizes,
        "load": (load_start, load_end, peak_load),
        "checks": checks,
    }


def report(args: argparse.Namespace, r: dict) -> None:
    n, w = max(1, r["digests"]), r["workers"]
    cpu = sum(p["cpu"] for p in r["procs"])
    build = sum(p["build_cpu"] for p in r["procs"])
    stmts = [p["statements"] for p in r["procs"]]
    print(
        f"\n{args.subscribers:,} subscribers, {w} worker process{'es' if w > 1 else ''} ({args.engine}, jit {args.jit}), load "
        f"average {r['load'][0]} at the start, {r['load'][1]} at the end (1-min peak {r['load'][2]:.2f})"
    )
    print(f"  digests queued {r['digests']:,}, sent {r['sent']:,} ({r['requests']:,} SendGrid requests)")
    print(
        f"  wall: all queued {r['to_queued']:.1f} s, all sent {r['to_sent']:.1f} s"
        + (f" (the run row finished at {r['run_seconds']:.1f} s)" if r["run_seconds"] else "")
    )
    print(
        f"  CPU, workers: {cpu:.1f} s = {cpu / n * 1e6:.0f} us per digest (build {build / n * 1e6:.0f} us, "
        f"dispatch {(cpu - build) / n * 1e6:.0f} us)"
    )
    for p in r["procs"]:
        print(
            f"    process {p['index'] + 1}: CPU {p['cpu']:.1f} s (build {p['build_cpu']:.1f} s), peak RSS "
            f"{p['rss_mb']:.0f} MB, built {p.get('built', 0):,}"
            + (f" in {p['shards']} shards" if "shards" in p else "")
            + f", dispatched {p['dispatch']['sent']:,}, statements build {p['statements']['build']:,} "
            f"dispatch {p['statements']['dispatch']:,}"
        )
    pg = r["pg"]
    print(
        f"  CPU, PostgreSQL: backends of the bench database {pg['ours']:.1f} s = {pg['ours'] / n * 1e6:.0f} us per "
        f"digest; background writers {pg['background']:.1f} s; whole server {pg['server']:.1f} s (shared)"
    )
    print(f"  CPU, fake SendGrid (not ours): {r['fake_cpu']:.1f} s")
    total = cpu + pg["ours"]
    print(
        f"  CPU, workers + our backends: {total:.1f} s = {total / n * 1e6:.0f} us per digest; over "
        f"{r['to_sent']:.0f} s of wall on {os.cpu_count()} cores = {total / max(1e-9, r['to_sent']):.2f} cores busy"
    )
    db, t = r["db"], r["tables"]
    print(
        f"  database grew {db['size'] / 1e6:,.0f} MB = {db['size'] / n:,.0f} B per digest (outbox "
        f"{t['outbox_messages'] / n:,.0f} B, ledger {t['digest_deliveries'] / n:,.0f} B with indexes); "
        f"{sum(s['build'] + s['dispatch'] for s in stmts):,} statements, {db['commits']:,} commits, "
        f"{db['inserted']:,} rows inserted, {db['updated']:,} updated, temp {db['temp_bytes'] / 1e6:.0f} MB"
    )
    for table, v in r["live"].items():
        print(
            f"    {table}: heap {v['heap'] / n:,.0f} B per digest = live rows {v['live'] / n:,.0f} + dead "
            f"{v['dead'] / n:,.0f} + free {v['free'] / n:,.0f} (+ the rest page overhead); indexes "
            f"{v['indexes'] / n:,.0f} B, TOAST {v['toast'] / n:,.0f} B"
        )
    for name, met, value in r["checks"]:
        print(f"  check: {name}: {value} -- {'ok' if met else 'FAILED'}")
    if w == 2 and args.subscribers >= 1_000_000:
        met = r["to_sent"] <= TARGET_SECONDS
        print(
            f"  target 1,000,000 in <= 5 minutes with two workers: {r['to_sent']:.0f} s -- "
            f"{'met' if met else 'NOT met'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"PostgreSQL only (default {DEFAULT_URL})")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes per run (each)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the --workers list (interleaved rounds)")
    parser.add_argument("--keep", action="store_true", help="reuse a database this bench seeded with the same N")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--check-same",
        action="store_true",
        help="seed, then compare with bench/digests.py's SQLite data for the same N and seed (use a small N)",
    )
    parser.add_argument("--prepare-only", action="store_true", help="create and seed the database, run nothing")
    parser.add_argument(
        "--engine",
        choices=["shards", "run_period"],
        default="shards",
        help="build with crm.digests.shards (default) or engine.run_period (one worker)",
    )
    parser.add_argument(
        "--jit",
        choices=["server", "off"],
        default="server",
        help="PostgreSQL JIT for the workers' connections: the server's setting (default) or off",
    )
    parser.add_argument("--no-dispatch", action="store_true", help="build only: no dispatch thread")
    parser.add_argument(
        "--dispatch-interval",
        type=float,
        default=1.0,
        help="seconds a dispatch thread waits when nothing is due (the worker's job: 5)",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a run is killed")
    parser.add_argument("--progress-every", type=float, default=15, help="seconds between progress lines")
    parser.add_argument("--log-dir", default="/tmp", help="where each worker's stderr goes")
    parser.add_argument("--json", help="also write every run's figures to this file")
    parser.add_argument("--child-index", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_index is not None:
        worker(args)
        return
    if args.engine == "run_period" and args.workers != [1]:
        parser.error("--engine run_period builds in one process: use --workers 1")
    print(f"CPU {os.cpu_count()} cores; load average at start {load()}", flush=True)
    prepare(args)
    if args.check_same:
        from bench.digests_pg_seed import compare_with_sqlite

        differences = compare_with_sqlite(args.database_url, args.subscribers, args.seed)
        print("the same data as bench/digests.py's SQLite" if not differences else "\n".join(differences))
        return
    if args.prepare_only:
        return
    runs = []
    for _ in range(args.rounds):
        for w in args.workers:
            print(f"run: {w} worker(s), load {load()}", flush=True)
            runs.append(run_once(args, w))
            report(args, runs[-1])
    if args.json:
        Path(args.json).write_text(json.dumps({"subscribers": args.subscribers, "runs": runs}, indent=1, default=str))


if __name__ == "__main__":
    main()
