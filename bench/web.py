"""Public pages at scale: database time per page and HTTP throughput of the internship list, search and detail
pages and their JSON API twins, next to a bare Litestar endpoint that runs the same SQL through raw sqlite3.

    .venv/bin/python bench/datagen.py --scale 1m --seed 42        # once: bench/results/scale-1m.sqlite3
    .venv/bin/python bench/web.py [--db bench/results/scale-1m.sqlite3] [--seconds 5] [--connections 8]

The regional map's pages (/map by measure, with and without a topic) are measured in step 1: the database p95 of
their statements (reads of the stored tally, counted here once as the map's job would, crm/map/tally.py), then 100
whole requests in process each.

1. In process: follows the API's keyset cursors to page --deep (5,000 by default), then for every target
   captures the SQL the app runs (statement count per page) and replays it through raw sqlite3 200 times
   (database time p50/p95).
2. Over HTTP: the app (uvicorn, one process) and the bare endpoints (``bare_app``: the JSON list's SQL through
   raw sqlite3, and the HTML list's SQL + one compiled Jinja template) each pinned to core 0 with taskset, the
   load generator (wrk, from apt) pinned to core 1; requests/s, latency percentiles and CPU per request (from
   /proc) per target. Bare JSON, bare HTML, the JSON list, the HTML list and the JSON list answered 304 (its
   ETag sent back as If-None-Match) run in --rounds interleaved rounds; the ratios are their medians, against
   issue 21's targets: JSON >= 40% of bare JSON, HTML >= 40% of bare HTML, a 304 >= 80% of bare JSON.
3. The per-request CPU split by layer (bench/web_cpu.py): the same three requests in process under cProfile.

Before measuring, the worker's hourly jobs run once (the data was generated at a fixed moment), and the script
prints each target against the issue's figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Response, get

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPLAYS = 1000
REPLAY_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# ---------------------------------------------------------------------------------------------- bare server


BARE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Internships</title></head>
<body><header><nav><a href="/organisations">Directory</a> <a href="/internships">Internships</a></nav></header>
<main><h1>Internships</h1><ul class="cards">
{% for r in rows %}<li><h2><a href="/internships/{{ r[2] }}">{{ r[1] }}</a></h2><p>{{ r[-3] }}</p>
<dl><dt>Pay</dt><dd>{{ r[6] }} {{ r[7] }}</dd><dt>Closes</dt><dd>{{ r[9] }}</dd><dt>Where</dt><dd>{{ r[4] }}, {{ r[-2] }}</dd>
<dt>Hours</dt><dd>{{ r[8] }} a week</dd><dt>For</dt><dd>{{ r[3] }}</dd></dl></li>{% endfor %}
</ul><p>{{ menus | length }} topics and regions</p></main></body></html>"""


def _statements(path: str) -> list[tuple[str, tuple[Any, ...]]]:
    return [(s["sql"], tuple(s["params"])) for s in json.loads(Path(path).read_text())]


def bare_app() -> Any:
    """A Litestar app with the bare endpoints: ``/bare`` runs the captured SQL of the JSON list through raw sqlite3
    and encodes the rows; ``/bare.html`` runs the HTML list's captured SQL and renders the page's rows (and the
    menus' count) with one compiled Jinja template. What the product's layers are measured against."""
    from jinja2 import Environment

    conn = sqlite3.connect(os.environ["BENCH_DB"], check_same_thread=False)
    statements = _statements(os.environ["BENCH_SQL_FILE"])
    html_statements = _statements(os.environ["BENCH_HTML_SQL_FILE"])
    page = Environment(autoescape=True).from_string(BARE_PAGE)

    @get("/bare", sync_to_thread=False)
    def bare() -> Response[bytes]:
        rows: list[Any] = []
        for sql, params in statements:
            rows = conn.execute(sql, params).fetchall()
        return Response(msgspec.json.encode({"items": rows}), media_type="application/json")

    @get("/bare.html", sync_to_thread=False)
    def bare_html() -> Response[str]:
        results = [conn.execute(sql, params).fetchall() for sql, params in html_statements]
        rows = max(results, key=lambda r: len(r[0]) if r else 0)  # the page's rows: the widest result
        menus = [r for r in results if r is not rows]
        return Response(page.render(rows=rows, menus=menus), media_type="text/html")

    return Litestar([bare, bare_html])


# ---------------------------------------------------------------------------------------------- measuring


def capture_and_replay(app: Any, client: Any, url: str, db_path: str) -> dict[str, Any]:
    from sqlalchemy import event

    captured: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            captured.append((statement, parameters))

    event.listen(app.state.engine, "before_cursor_execute", listener)
    try:
        response = client.get(url, headers={"Cache-Control": "no-cache"})  # past the store of answers
    finally:
        event.remove(app.state.engine, "before_cursor_execute", listener)
    conn = sqlite3.connect(db_path)
    timings: list[float] = []
    budget = time.perf_counter() + REPLAY_SECONDS  # slow pages get fewer replays (at least 5)
    while len(timings) < REPLAYS and (len(timings) < 5 or time.perf_counter() < budget):
        start = time.perf_counter()
        for sql, params in captured:
            conn.execute(sql, params).fetchall()
        timings.append((time.perf_counter() - start) * 1000)
    conn.close()
    timings.sort()
    return {
        "status": response.status_code,
        "statements": len(captured),
        "db_p50_ms": statistics.median(timings),
        "db_p95_ms": timings[max(0, int(len(timings) * 0.95) - 1)],
        "replays": len(timings),
        "sql": [{"sql": s, "params": list(p) if isinstance(p, list | tuple) else []} for s, p in captured],
    }


def time_requests(client: Any, url: str, runs: int = 100) -> dict[str, Any]:
    """Whole in-process requests (SQL, template, SVG), after the one capture_and_replay made: what a visitor waits
    for: the map reads the stored tally the map's job counts (crm/map/tally.py)."""
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {"p50_ms": statistics.median(timings), "p95_ms": timings[int(runs * 0.95) - 1], "runs": runs}


def run_hourly_jobs(app: Any) -> None:
    """The data was generated at a fixed moment (perhaps by an older schema): migrate it, then bring it to now as the
    worker's jobs would in production, the map's tally included."""
    import datetime as dt

    from crm.funding.services import refresh_deadlines_and_close
    from crm.internships.lifecycle import close_expired
    from crm.map.tally import refresh
    from crm.migrate import upgrade

    upgrade(app.state.engine)
    now = dt.datetime.now(dt.UTC)
    with app.state.session_factory() as session:
        calls = refresh_deadlines_and_close(session, now)
        internships = close_expired(session, now=now)
        counted = refresh(session, now=now)
        session.commit()
    print(f"hourly jobs: funding calls {calls}, internships closed {internships}, map tally {len(counted)} measures")


def deep_cursor(client: Any, pages: int) -> tuple[str, int]:
    cursor, reached = "", 1
    for page in range(1, pages):
        body = client.get("/api/v1/internships" + (f"?cursor={cursor}" if cursor else "")).json()
        if not body.get("next_cursor"):
            break
        cursor, reached = body["next_cursor"], page + 1
    return cursor, reached


def run_wrk(url: str, seconds: int, connections: int, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    extra = [arg for header in headers for arg in ("-H", header)]
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "requests": requests,
        "p50": pct.get("50", "?"),
        "p99": pct.get("99", "?"),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def print_database_figures(
    db_results: dict[str, Any], map_requests: dict[str, Any], reached: int, *, lists_only: bool
) -> None:
    print(f"\n{'target':34} {'status':>6} {'SQL':>4} {'db p50 ms':>10} {'db p95 ms':>10} {'runs':>5}")
    for name, r in db_results.items():
        print(
            f"{name:34} {r['status']:>6} {r['statements']:>4} {r['db_p50_ms']:>10.2f} {r['db_p95_ms']:>10.2f}"
            f" {r['replays']:>5}",
            flush=True,
        )
    if lists_only:
        return
    p1 = db_results["JSON list p1"]["db_p95_ms"]
    deep = db_results[f"JSON list p{reached}"]["db_p95_ms"]
    print(f"list DB p95 at page {reached}: {deep:.2f} ms (target <= 2 ms)")
    print(f"p95(page {reached}) / p95(page 1) = {deep / p1:.2f} (target <= 1.5)")
    maps = {n: r["db_p95_ms"] for n, r in db_results.items() if "map" in n}
    slowest_map = max(maps, key=maps.__getitem__)
    print(f"slowest map DB p95: {maps[slowest_map]:.2f} ms, {slowest_map} (target <= 50 ms)")
    print(f"\n{'map page, whole request in process':34} {'p50 ms':>10} {'p95 ms':>10} {'runs':>5}")
    for name, r in map_requests.items():
        print(f"{name:34} {r['p50_ms']:>10.2f} {r['p95_ms']:>10.2f} {r['runs']:>5}")
    worst_request = max(map_requests, key=lambda n: map_requests[n]["p95_ms"])
    print(
        f"slowest map request p95: {map_requests[worst_request]['p95_ms']:.2f} ms, {worst_request} (target <= 50 ms;"
        " the figures are read from the stored tally, counted every 5 minutes by the map's job)"
    )
    searches = {n: r["db_p95_ms"] for n, r in db_results.items() if "search" in n}
    worst = max(searches, key=searches.__getitem__)
    print(f"slowest search DB p95: {searches[worst]:.2f} ms, {worst} (target <= 50 ms)")
    most = max(r["statements"] for r in db_results.values())
    print(f"most SQL statements on one page: {most} (target <= 3)")
    counting = [
        n for n, r in db_results.items() if "map" not in n and any("count(" in q["sql"].lower() for q in r["sql"])
    ]
    print(f"pages running COUNT: {counting or 'none'} (target: no exact COUNT over > 100,000 rows; the map counts)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=str(ROOT / "bench" / "results" / "scale-1m.sqlite3"))
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of bare / JSON / HTML list")
    parser.add_argument("--db-only", action="store_true", help="database times and statement counts only, no HTTP")
    parser.add_argument("--lists-only", action="store_true", help="over HTTP, only the interleaved rounds")
    parser.add_argument("--deep", type=int, default=5000, help="page number for the deep-page measurement")
    parser.add_argument("--common-word", default="mental", help="the most common word (datagen prints it)")
    parser.add_argument("--rare-word", default="tosune")
    args = parser.parse_args()
    db = Path(args.db)
    if not db.exists():
        print(f"skipped: {db} does not exist; run bench/datagen.py --scale 1m --seed 42 first")
        return 0
    if not args.db_only and (not shutil.which("wrk") or not shutil.which("taskset")):
        print("needs wrk and taskset (apt-get install wrk util-linux)")
        return 2

    from litestar.testing import TestClient

    from crm.app import create_app
    from crm.settings import Settings

    settings = Settings(
        env="test",
        database_url=f"sqlite:///{db}",
        secret_keys=("bench-web-secret-0123456789-abcdefghijklmnopqrstuv",),
        run_worker_in_process=False,
    )
    app = create_app(settings)
    run_hourly_jobs(app)
    with TestClient(app) as client:
        started = time.perf_counter()
        cursor, reached = deep_cursor(client, 2 if args.lists_only else args.deep)
        print(f"followed the API's cursors to page {reached} in {time.perf_counter() - started:.1f} s")
        one = client.get("/api/v1/internships?page_size=1").json()["items"]
        slug = one[0]["slug"] if one and "slug" in one[0] else "internship-1"
        item_id = one[0]["id"] if one else 1
        targets = {
            "HTML list p1": "/internships",
            f"HTML list p{reached}": f"/internships?cursor={cursor}",
            "JSON list p1": "/api/v1/internships",
            f"JSON list p{reached}": f"/api/v1/internships?cursor={cursor}",
            f"HTML search '{args.common_word}'": f"/internships?q={args.common_word}",
            f"JSON search '{args.common_word}'": f"/api/v1/internships?q={args.common_word}",
            f"HTML search '{args.rare_word}'": f"/internships?q={args.rare_word}",
            f"JSON search '{args.rare_word}'": f"/api/v1/internships?q={args.rare_word}",
            "HTML detail": f"/internships/{slug}",
            "JSON detail": f"/api/v1/internships/{item_id}",
            "HTML funding list p1": "/funding-calls",
            "JSON funding list p1": "/api/v1/funding-calls",
            f"HTML funding search '{args.common_word}'": f"/funding-calls?q={args.common_word}",
            f"JSON funding search '{args.rare_word}'": f"/api/v1/funding-calls?q={args.rare_word}",
            # The regional map (issue 19): one grouped statement per measure over the whole table.
            "HTML map organisations": "/map",
            "HTML map open funding calls": "/map?measure=funding-calls",
            "HTML map calls, one topic": "/map?measure=funding-calls&topic=psychosis",
            "HTML map open internships": "/map?measure=internships",
            "HTML map internships, one topic": "/map?measure=internships&topic=psychosis",
            "HTML map upcoming events": "/map?measure=events",
        }
        db_results = {}
        if args.lists_only:
            targets = {name: targets[name] for name in ("JSON list p1", "HTML list p1")}
        for name, url in targets.items():
            db_results[name] = capture_and_replay(app, client, url, str(db))
            print(f"  measured {name}", flush=True)
        map_requests = {name: time_requests(client, url) for name, url in targets.items() if "map" in name}
    app.state.engine.dispose()

    print_database_figures(db_results, map_requests, reached, lists_only=args.lists_only)

    if args.db_only:
        return 0
    before = os.getloadavg()
    http, rounds, cpu = measure_http(args, settings.secret_key, db, db_results, targets)
    after = os.getloadavg()
    print(f"\nload average (1, 5, 15 min) before the HTTP rounds {before}, after {after}: the machine is shared")
    print(f"\n{'target':34} {'req/s':>8} {'p50':>9} {'p99':>9} {'non-2xx':>8} {'CPU us/req':>10}")
    for name, r in http.items():
        print(f"{name:34} {r['rps']:>8.0f} {r['p50']:>9} {r['p99']:>9} {r['non2xx']:>8} {r.get('cpu_us', 0):>10.0f}")
    for name, bare, target in RATIOS:
        ratios = sorted(a["rps"] / b["rps"] for a, b in zip(rounds[name], rounds[bare], strict=True))
        cpu_ratios = sorted(b["cpu_us"] / a["cpu_us"] for a, b in zip(rounds[name], rounds[bare], strict=True))
        print(f"{name} / {bare}, by CPU per request: {cpu_ratios[len(cpu_ratios) // 2]:.0%} median")
        print(
            f"{name} / {bare} = {ratios[len(ratios) // 2]:.0%} median of {len(ratios)} interleaved rounds"
            f" (min {ratios[0]:.0%}, max {ratios[-1]:.0%}; target >= {target:.0%})"
        )
    print(
        f"\nper-request CPU by layer, in process (CPU time of {cpu['runs']} ASGI calls each, shared out by cProfile's own time per function)"
    )
    layers = list(next(iter(cpu["split"].values())))
    print(f"{'request':22}" + "".join(f"{layer:>14}" for layer in layers) + f"{'total':>10}")
    for name, split in cpu["split"].items():
        print(
            f"{name:22}" + "".join(f"{split[layer]:>11.0f} us" for layer in layers) + f"{sum(split.values()):>7.0f} us"
        )
    return 0


# (round, the bare endpoint it is compared with, the target)
RATIOS = (
    ("JSON list p1", "bare JSON", 0.40),
    ("JSON list p1, whole path", "bare JSON", 0.40),
    ("HTML list p1", "bare HTML", 0.40),
    ("HTML list p1, whole path", "bare HTML", 0.40),
    ("JSON list p1, 304", "bare JSON", 0.80),
)
NO_CACHE = "Cache-Control: no-cache"  # skips the app's store of public answers: handler, SQL and rendering each time


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat), to divide by the requests it answered."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def current_etag(url: str, seconds: int) -> str:
    """The list's ETag, fetched so that the round ahead fits in one window of the change stamps (crm/httpcache.py):
    a window turning mid-round would turn the rest of the round into 200s."""
    from crm.httpcache import WINDOW

    left = WINDOW - time.time() % WINDOW
    if left < seconds + 2:
        time.sleep(left + 0.2)
    with urllib.request.urlopen(url, timeout=5) as r:
        tag = r.headers["ETag"]
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers={"If-None-Match": tag}), timeout=5)
    except urllib.error.HTTPError as exc:  # urllib reports a 304 as an error
        if exc.code == 304:
            return tag
    raise RuntimeError(f"{url} did not answer 304 to its own ETag {tag}")


def measure_http(
    args: Any, secret: str, db: Path, db_results: dict[str, Any], targets: dict[str, str]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """The app and the bare endpoints under wrk: interleaved rounds of bare JSON, bare HTML, the JSON list, the
    HTML list and the JSON list answered 304; then every other target once. CPU per request from /proc."""
    with tempfile.TemporaryDirectory() as tmp:
        sql_file, html_sql_file = Path(tmp) / "sql.json", Path(tmp) / "html-sql.json"
        sql_file.write_text(json.dumps(db_results["JSON list p1"]["sql"]))
        html_sql_file.write_text(json.dumps(db_results["HTML list p1"]["sql"]))
        env = dict(os.environ, CRM_DATABASE_URL=f"sqlite:///{db}", CRM_ENV="test", CRM_RUN_WORKER_IN_PROCESS="false")
        env |= {"CRM_SECRET_KEY": secret, "BENCH_DB": str(db), "BENCH_SQL_FILE": str(sql_file)}
        env |= {"BENCH_HTML_SQL_FILE": str(html_sql_file), "CRM_LOG_LEVEL": "WARNING"}
        app_port, bare_port = free_port(), free_port()
        uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
        app_proc, bare_proc = (
            subprocess.Popen(
                ["taskset", "-c", "0", *uvicorn, "--port", str(port), "--factory", factory], env=env, cwd=ROOT
            )
            for port, factory in ((app_port, "crm.app:create_app"), (bare_port, "bench.web:bare_app"))
        )
        app_url, bare_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
        try:
            wait_up(f"{app_url}/health")
            wait_up(f"{bare_url}/bare")
            urls = {
                "bare JSON": (bare_url + "/bare", bare_proc.pid),
                "bare HTML": (bare_url + "/bare.html", bare_proc.pid),
                "JSON list p1": (app_url + targets["JSON list p1"], app_proc.pid),
                "HTML list p1": (app_url + targets["HTML list p1"], app_proc.pid),
            }
            for url, _ in urls.values():
                run_wrk(url, 2, args.connections)  # warm-up, discarded

            def timed(name: str, url: str, pid: int, headers: tuple[str, ...] = ()) -> dict[str, Any]:
                before = cpu_seconds(pid)
                result = run_wrk(url, args.seconds, args.connections, headers)
                result["cpu_us"] = (cpu_seconds(pid) - before) / max(1, result["requests"]) * 1e6
                return result

            # The ratios are gated on medians of interleaved rounds (reference/performance.md §0.3: runs vary a lot).
            whole = ("JSON list p1, whole path", "HTML list p1, whole path")
            rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in (*urls, *whole, "JSON list p1, 304")}
            for _ in range(args.rounds):
                for name, (url, pid) in urls.items():
                    rounds[name].append(timed(name, url, pid))
                for name in whole:
                    url, pid = urls[name.split(",")[0]]
                    rounds[name].append(timed(name, url, pid, (NO_CACHE,)))
                tag = current_etag(urls["JSON list p1"][0], args.seconds)
                rounds["JSON list p1, 304"].append(
                    timed("304", urls["JSON list p1"][0], app_proc.pid, (f"If-None-Match: {tag}",))
                )
            http = {name: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2] for name, runs in rounds.items()}
            if not args.lists_only:
                for name, url in targets.items():
                    if name not in http:
                        http[name] = timed(name, app_url + url, app_proc.pid)
        finally:
            for proc in (app_proc, bare_proc):
                proc.terminate()
                proc.wait(10)
    from bench.web_cpu import cpu_split

    return http, rounds, cpu_split(db, secret, targets)


if __name__ == "__main__":
    sys.exit(main())
