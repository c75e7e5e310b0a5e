"""What ``bench/digests_workers.py`` measures outside its worker processes: PostgreSQL's CPU read from /proc, the
database's counters and sizes, and the check that every subscriber got exactly one digest.

PostgreSQL's CPU is read, not estimated: every ``postgres`` process's utime + stime from ``/proc/<pid>/stat``,
sampled about once a second. A backend is ours when its title names the bench database (its connections come and
go with the workers' pools, and a backend's CPU at its last sample is kept after it exits: at most a second of it
is missed). The server's total also counts the postmaster's children that exited (its ``cutime + cstime``) and
the background processes (checkpointer, WAL writer, background writer): those are shared with whatever else uses
the server (other helpers' tests), so the total is an upper bound and the backends' figure is ours.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum", "logical replication")


def _stat(pid: str) -> tuple[str, list[str]] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace")
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    if comm != "postgres" and not title.startswith("postgres"):
        return None
    return title, raw[raw.rindex(")") + 2 :].split()


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) a live process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


class PostgresCPU:
    """CPU seconds of the PostgreSQL server between ``start()`` and the last ``sample()`` (see the module
    docstring): ``ours`` (backends of ``database``, except ``exclude_pid``: the bench's own monitoring connection),
    ``background`` and ``server`` (everything, exited children included)."""

    def __init__(self, database: str, exclude_pid: int | None = None) -> None:
        self.database = database
        self.exclude = str(exclude_pid) if exclude_pid else ""
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.kind: dict[str, str] = {}
        self.children0 = self.children = 0.0

    def _read(self) -> tuple[dict[str, tuple[str, float]], float]:
        out: dict[str, tuple[str, float]] = {}
        children = 0.0
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid == self.exclude:
                continue
            got = _stat(pid)
            if got is None:
                continue
            title, f = got
            cpu = (int(f[11]) + int(f[12])) / TICK
            if f[1] == "1" or "postgres -D" in title or title.startswith("/usr/lib/postgresql"):
                kind = "postmaster"
                children = (int(f[13]) + int(f[14])) / TICK
            elif any(b in title for b in BACKGROUND):
                kind = "background"
            elif f" {self.database} " in title:
                kind = "ours"
            else:
                kind = "other"
            out[pid] = (kind, cpu)
        return out, children

    def start(self) -> None:
        procs, self.children0 = self._read()
        self.children = self.children0
        self.first = {pid: cpu for pid, (_, cpu) in procs.items()}
        self.last = dict(self.first)
        self.kind = {pid: kind for pid, (kind, _) in procs.items()}

    def sample(self) -> None:
        procs, self.children = self._read()
        for pid, (kind, cpu) in procs.items():
            self.kind.setdefault(pid, kind)
            self.last[pid] = cpu

    def seconds(self) -> dict[str, float]:
        by_kind: dict[str, float] = {"ours": 0.0, "background": 0.0, "other": 0.0, "postmaster": 0.0}
        for pid, cpu in self.last.items():
            by_kind[self.kind[pid]] += cpu - self.first.get(pid, 0.0)
        exited = max(0.0, self.children - self.children0)
        return {
            "ours": by_kind["ours"],
            "background": by_kind["background"],
            "server": sum(by_kind.values()) + exited,
        }


def database_counters(conn: Any, database: str) -> dict[str, int]:
    row = conn.execute(
        "select xact_commit, tup_inserted, tup_updated, tup_returned, tup_fetched, blks_read, blks_hit, temp_bytes,"
        " pg_database_size(datname) from pg_stat_database where datname = %s",
        (database,),
    ).fetchone()
    names = ("commits", "inserted", "updated", "returned", "fetched", "blks_read", "blks_hit", "temp_bytes", "size")
    return dict(zip(names, (int(v or 0) for v in row), strict=True))


def table_sizes(conn: Any) -> dict[str, int]:
    """Bytes of the tables a digest run writes, with their indexes and TOAST."""
    return {
        table: int(conn.execute("select pg_total_relation_size(%s)", (table,)).fetchone()[0])
        for table in ("outbox_messages", "digest_deliveries", "digest_runs", "digest_shards")
    }


def check_exactly_once(conn: Any, period: str, personalizations: int, sharded: bool) -> list[tuple[str, bool, str]]:
    """Every active weekly subscriber got at most one digest, those with something new exactly one, and each
    went to the (fake) provider once: counted from the outbox, the ledger, the run and its shards."""
    active = conn.execute(
        "select count(*) from subscriptions where status = 'active' and frequency = 'weekly'"
    ).fetchone()[0]
    runs = conn.execute(
        "select id, status, considered, sent, skipped_empty, already_sent, failed from digest_runs where not dry_run"
    ).fetchall()
    rows, subs, keys, sent, bad_keys = conn.execute(
        "select count(*), count(distinct subscription_id), count(distinct idempotency_key),"
        " count(*) filter (where status = 'sent'),"
        " count(*) filter (where idempotency_key <> 'digest:' || subscription_id || ':' || %s)"
        " from outbox_messages where kind = 'digest'",
        (period,),
    ).fetchone()
    statuses = dict(conn.execute("select status, count(*) from outbox_messages group by status").fetchall())
    ledger_rows, ledger_subs = conn.execute(
        "select count(*), count(distinct subscription_id) from digest_deliveries where period = %s", (period,)
    ).fetchone()
    checks: list[tuple[str, bool, str]] = []
    if len(runs) != 1:
        return [("exactly one digest run", False, f"{len(runs)} runs")]
    _, status, considered, run_sent, skipped, already, failed = runs[0]
    checks += [
        (
            "one run, done, every active subscriber considered",
            status == "done" and considered == active,
            f"{status}, considered {considered:,} of {active:,}",
        ),
        (
            "queued + nothing new + failed = active subscribers",
            run_sent + skipped + failed == active and failed == 0,
            f"{run_sent:,} + {skipped:,} + {failed} = {run_sent + skipped + failed:,}",
        ),
        (
            "one outbox row per digest, no duplicate subscriber or key",
            rows == subs == keys == run_sent and not bad_keys,
            f"{rows:,} rows, {subs:,} subscribers, {keys:,} keys, run says {run_sent:,}, {bad_keys} malformed keys",
        ),
        (
            "subscribers without a digest = the run's 'nothing new'",
            active - subs == skipped,
            f"{active - subs:,} vs {skipped:,} (already queued by a rival: {already})",
        ),
        (
            "every digest has its ledger row (one each)",
            ledger_subs == rows == ledger_rows,
            f"{ledger_rows:,} ledger rows for {ledger_subs:,} subscribers",
        ),
        (
            "every digest sent, nothing left queued or in flight",
            sent == rows and set(statuses) <= {"sent"},
            ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items())),
        ),
        (
            "the provider received each digest once",
            personalizations == rows,
            f"{personalizations:,} personalizations for {rows:,} digests",
        ),
    ]
    if sharded:
        n, done, s_sent, s_considered = conn.execute(
            "select count(*), count(*) filter (where status = 'done'), coalesce(sum(sent), 0),"
            " coalesce(sum(considered), 0) from digest_shards"
        ).fetchone()
        checks.append(
            (
                "every shard done, shards' sums = the run's",
                n > 0 and n == done and s_sent == run_sent and s_considered == considered,
                f"{done}/{n} shards done, sent {s_sent:,}, considered {s_considered:,}",
            )
        )
    return checks


def live_bytes(conn: Any) -> dict[str, dict[str, int]]:
    """What of the outbox and ledger heaps is live rows, dead rows (each outbox row is updated ~4 times while it
    is dispatched; until VACUUM the old versions stay) and free space (``pgstattuple``, a full scan), and their
    indexes' size: growth as the files show it is not what a vacuumed database keeps."""
    conn.execute("create extension if not exists pgstattuple")
    out = {}
    for table in ("outbox_messages", "digest_deliveries"):
        live, dead, free, total = conn.execute(
            "select tuple_len, dead_tuple_len, free_space, table_len from pgstattuple(%s)", (table,)
        ).fetchone()
        toast = conn.execute(
            "select coalesce(pg_total_relation_size(reltoastrelid), 0) from pg_class where oid = %s::regclass",
            (table,),
        ).fetchone()[0]
        indexes = conn.execute("select pg_indexes_size(%s)", (table,)).fetchone()[0]
        out[table] = {"live": live, "dead": dead, "free": free, "heap": total, "toast": toast, "indexes": indexes}
    return out
