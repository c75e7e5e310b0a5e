"""Issue 21.2: heavy requests do not stall everyone else (both databases).

CPU-heavy work leaves the web process for a worker process (``crm.web.offload``): the admin dashboard, the directory
import's check pass (with its tables rendered), the contacts CSV export (page by page) and the other admin downloads
and reports (tests/web/test_offloaded_exports.py). What still runs in the web process runs in Litestar's thread pool:
the import write passes, undoing an import, bulk changes, and the public directory's searches. The offloaded functions give what
they gave in the web process (the same CSV bytes, the same preview); a worker that dies gives a clear 503, never a
hang, and the next request a fresh pool. bench/stall.py measures the latency figures (never timed here).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.directory import contacts as directory_contacts
from crm.directory import export, import_preview, pages
from crm.directory import importer as directory_importer
from crm.funding import importer as funding_importer
from crm.imports import undo
from crm.listing import ListParams
from crm.web import offload
from tests import factories
from tests.conftest import csrf_token, post_form
from tests.web import offload_probes as probes

STOPPED = "The background worker stopped before it was done."  # the 503 detail, below its heading
CSV = (
    "organisation_name,kind,region,contact_name,contact_email\n"
    "Heavy Test Group,vcse,London,Ada Heavy,ada.heavy@example.org\n"
)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to its end in a thread of its own (no event loop is left on the test's thread)."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(make())
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the call never returned"
    if "error" in out:
        raise out["error"]
    return out["value"]


def _watch(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[bool]:
    """Wrap ``owner.name`` in this process: each call records whether it ran on the event loop's thread."""
    seen: list[bool] = []
    original: Callable[..., Any] = getattr(owner, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(_on_event_loop())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, watched)
    return seen


def _offloaded(monkeypatch: pytest.MonkeyPatch, before: Callable[[], Any] | None = None) -> list[str]:
    """Record the name of every function sent to a worker process; ``before()`` (a coroutine) runs ahead of each."""
    names: list[str] = []
    original = offload.run_heavy

    async def spied(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        names.append((args[1] if fn is offload.in_session else fn).__qualname__)
        if before is not None:
            await before()
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(offload, "run_heavy", spied)
    return names


# ------------------------------------------------------------------------------------------ the pool itself


def test_work_runs_in_a_reused_worker_process_at_a_lower_priority():
    first = _run(lambda: offload.run_heavy(probes.pid))
    pool = offload.started()
    again = {_run(lambda: offload.run_heavy(probes.pid)) for _ in range(4)}
    assert first != os.getpid() and os.getpid() not in again
    assert offload.started() is pool and len(again | {first}) <= offload.WORKERS  # the same pool, no new processes
    assert _run(lambda: offload.run_heavy(probes.niceness)) >= offload.NICE


def test_an_exception_in_the_worker_is_raised_in_the_web_process_and_the_pool_lives_on():
    with pytest.raises(ValueError, match="refused in the worker"):
        _run(lambda: offload.run_heavy(probes.fails))
    pool = offload.started()
    assert _run(lambda: offload.run_heavy(probes.pid)) != os.getpid() and offload.started() is pool


def test_a_crashed_worker_gives_a_clear_503_and_the_next_call_a_fresh_pool():
    _run(lambda: offload.run_heavy(probes.pid))
    broken = offload.started()
    with pytest.raises(offload.HeavyWorkFailed) as failure:
        _run(lambda: offload.run_heavy(probes.crash))
    assert failure.value.status_code == 503 and failure.value.detail == STOPPED
    assert _run(lambda: offload.run_heavy(probes.pid)) != os.getpid()
    assert offload.started() is not broken


def test_a_call_past_the_time_limit_gives_a_503_and_its_worker_is_stopped(monkeypatch, tmp_path):
    monkeypatch.setattr(offload, "TIMEOUT", 1.0)
    _run(lambda: offload.run_heavy(probes.pid))  # started before the limit counts
    stuck = offload.started()
    with pytest.raises(offload.HeavyWorkFailed) as failure:
        _run(lambda: offload.run_heavy(probes.hold, str(tmp_path / "never"), 60.0))
    assert failure.value.status_code == 503 and "took too long" in failure.value.detail
    assert offload.started() is not stuck
    monkeypatch.setattr(offload, "TIMEOUT", 60.0)
    assert _run(lambda: offload.run_heavy(probes.pid)) != os.getpid()


def test_shutdown_stops_the_workers_even_a_stuck_one_and_a_later_call_starts_a_new_pool(tmp_path):
    _run(lambda: offload.run_heavy(probes.pid))
    pool = offload.started()
    assert pool is not None
    begun = tmp_path / "begun"
    outcome: dict[str, Any] = {}

    def stuck() -> None:
        try:
            outcome["value"] = asyncio.run(offload.run_heavy(probes.hold, str(tmp_path / "never"), 60.0, str(begun)))
        except Exception as exc:  # what the waiting request gets
            outcome["error"] = exc

    waiting = threading.Thread(target=stuck)
    waiting.start()
    for _ in range(1500):
        if begun.exists():
            break
        threading.Event().wait(0.02)
    assert begun.exists(), "the call never started in its worker"
    processes = list(pool._processes.values())
    offload.shutdown(grace=0.5)
    waiting.join(30)
    assert not waiting.is_alive() and isinstance(outcome.get("error"), offload.HeavyWorkFailed)
    assert offload.started() is None and processes and not any(p.is_alive() for p in processes)
    assert _run(lambda: offload.run_heavy(probes.pid)) != os.getpid() and offload.started() is not pool


# --------------------------------------------------------------------------------------------- the dashboard


def test_the_dashboard_and_the_impact_report_are_made_in_a_worker(admin_client, monkeypatch):
    sent = _offloaded(monkeypatch)
    page = admin_client.get("/admin")
    assert page.status_code == 200 and "Partnerships by stage" in page.text
    report = admin_client.get("/admin/reports/impact.csv")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert sent == ["dashboard", "impact_csv"]  # the same bytes: tests/web/test_offloaded_exports.py


def test_a_dead_worker_gives_the_dashboard_a_503_page_and_the_next_request_works(admin_client, monkeypatch):
    crashes = [True, True]
    original = offload.run_heavy

    async def crash_once() -> None:
        if crashes:
            crashes.pop()
            await original(probes.crash)  # the worker dies before the dashboard is asked for

    _offloaded(monkeypatch, crash_once)
    failed = admin_client.get("/admin")
    assert failed.status_code == 503 and "<h1>Sorry, this could not be finished</h1>" in failed.text
    assert f"<p>{STOPPED}</p>" in failed.text and "could not be finished because" not in failed.text
    problem = admin_client.get("/admin", headers={"accept": "application/json"})
    assert problem.status_code == 503 and problem.headers["retry-after"] == "10"
    assert problem.json() == {
        "type": "about:blank",
        "title": "Service unavailable",
        "status": 503,
        "detail": STOPPED,
        "instance": "/admin",
    }
    again = admin_client.get("/admin")
    assert again.status_code == 200 and "Partnerships by stage" in again.text


def test_a_request_waiting_for_its_worker_does_not_stall_the_public_directory(admin_client, db, monkeypatch, tmp_path):
    factories.organisation(db, "Unstalled Peer Network")
    db.commit()
    flag = tmp_path / "directory-answered"
    held: list[bool] = []
    original = offload.run_heavy

    async def hold_first() -> None:
        if not held:
            held.append(await original(probes.hold, str(flag)))  # True only if the directory answered meanwhile

    _offloaded(monkeypatch, hold_first)
    statuses: list[int] = []
    slow = threading.Thread(target=lambda: statuses.append(admin_client.get("/admin").status_code))
    slow.start()
    try:
        directory = admin_client.get("/organisations", headers={"Cache-Control": "no-cache"})
        assert directory.status_code == 200 and "Unstalled Peer Network" in directory.text
        flag.touch()
    finally:
        flag.touch()
        slow.join(90)
    assert held == [True] and statuses == [200]


# ------------------------------------------------------------------------------------------------ the import


def test_the_import_check_pass_runs_in_a_worker_and_the_write_pass_in_a_thread(admin_client, db, monkeypatch):
    sent = _offloaded(monkeypatch)
    written = _watch(monkeypatch, directory_importer, "run_import")
    upload = admin_client.post(
        "/admin/import",
        files={"file": ("heavy.csv", CSV.encode(), "text/csv")},
        data={"_csrf_token": csrf_token(admin_client)},
    )
    assert upload.status_code == 200 and "Would import: 1 new" in upload.text and "Ada Heavy" in upload.text
    token = upload.text.split('action="/admin/import/', 1)[1][:32]
    again = admin_client.get(f"/admin/import/{token}")
    assert again.status_code == 200 and "Would import: 1 new" in again.text
    done = admin_client.post(f"/admin/import/{token}", data={"_csrf_token": csrf_token(admin_client)})
    assert done.status_code == 200 and "Imported: 1 new" in done.text
    assert sent == ["check"] * 3  # upload, preview again, the confirm's check pass
    assert written == [False]  # the write pass: in this process, off the event loop
    db.expire_all()
    # Written in a worker thread, committed by the request's one session: another session sees it.
    assert (
        db.scalar(select(func.count()).select_from(m.Organisation).where(m.Organisation.name == "Heavy Test Group"))
        == 1
    )


def test_a_preview_made_in_a_worker_is_the_preview_made_here(db, settings):
    factories.organisation(db, "Already Listed Group")
    db.commit()
    path = directory_importer.import_dir() / f"{'ab' * 16}.csv"
    path.write_text(
        CSV
        + "Already Listed Group,vcse,London,Bo Listed,bo.listed@example.org\n"
        + "Broken Row Group,vcse,London,Cy Broken,not-an-address\n",
        encoding="utf-8",
    )
    try:
        here = import_preview.check(db, path, [])
        db.rollback()
        there = _run(lambda: offload.run_in_session(settings, import_preview.check, path, []))
    finally:
        path.unlink(missing_ok=True)
    assert there == here
    assert here.report.total_rows == 3 and here.report.error_rows == 1
    assert here.report.rows == [] and here.report.problems == []  # sent back rendered, not as objects
    for shown in ("Ada Heavy", "Bo Listed", "Cy Broken", "Problems (1 row)"):
        assert shown in there.rows_html


# ------------------------------------------------------------------------------------------------ the exports


def _contacts_for_export(db: Any) -> int:
    org = factories.organisation(db, "Exported Collective")
    n = export.BATCH + 3
    for i in range(n - 2):
        factories.contact(db, f"Person {i}", f"person{i}@example.org", organisation=org)
    factories.contact(db, "=HYPERLINK(evil)", "formula@example.org")
    factories.contact(db, 'Smith, "Jo"', "quoted@example.org")
    db.commit()
    return n


def test_contact_csv_pages_join_to_the_bytes_of_the_stream(db):
    n = _contacts_for_export(db)
    params = ListParams.from_query({}, filter_names=directory_contacts.CONTACT_FILTERS)
    whole = b"".join(export.as_csv_chunks(export.contact_rows(db, params)))
    for size in (7, n, 1000):  # pages that end mid-batch, exactly at the last row, and one page for all
        joined, after, trips = b"", None, 0
        while True:
            page, after = export.contact_csv_page(db, params, None, after, rows=size)
            joined, trips = joined + page, trips + 1
            if after is None:
                break
        assert joined == whole and trips == n // size + 1
    assert whole.count(b"\r\n") == n + 1 and b"'=HYPERLINK(evil)" in whole and b'"Smith, ""Jo"""' in whole


def test_the_contacts_export_is_made_in_a_worker_with_the_same_bytes(admin_client, db, monkeypatch):
    _contacts_for_export(db)
    params = ListParams.from_query({}, filter_names=directory_contacts.CONTACT_FILTERS)
    whole = b"".join(export.as_csv_chunks(export.contact_rows(db, params)))
    db.rollback()
    sent = _offloaded(monkeypatch)
    got = admin_client.get("/admin/contacts/export.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.content == whole and sent == ["contact_csv_page"]
    filtered = admin_client.get("/admin/contacts/export.csv?q=quoted")
    assert filtered.status_code == 200 and filtered.text.count("\n") == 2 and "quoted@example.org" in filtered.text


def test_a_bulk_export_is_made_in_a_worker(admin_client, db, monkeypatch):
    org = factories.organisation(db, "Bulk Exported Collective")
    db.commit()
    sent = _offloaded(monkeypatch)
    chosen = post_form(admin_client, "/admin/organisations/bulk", {"action": "export", "ids": [org.id]})
    assert chosen.status_code == 200 and "Bulk Exported Collective" in chosen.text
    assert sent == ["selection_csv_page"]  # the same bytes: tests/web/test_offloaded_exports.py


# ------------------------------------------------------------------------------- the rest, in the thread pool


def test_a_directory_search_runs_off_the_event_loop_and_a_plain_page_on_it(client, db, monkeypatch):
    factories.organisation(db, "Searchable Peer Network")
    db.commit()
    seen = _watch(monkeypatch, pages, "_public_list")
    found = client.get("/organisations?q=searchable", headers={"Cache-Control": "no-cache"})
    assert found.status_code == 200 and "Searchable Peer Network" in found.text
    plain = client.get("/organisations", headers={"Cache-Control": "no-cache"})
    assert plain.status_code == 200 and "Searchable Peer Network" in plain.text
    assert seen == [False, True]


def test_funding_import_checks_in_a_worker_and_writes_and_undoes_off_the_event_loop(admin_client, db, monkeypatch):
    factories.organisation(db, "Heavy Funder", m.OrgKind.FUNDER)
    db.commit()
    sent = _offloaded(monkeypatch)
    seen = _watch(monkeypatch, funding_importer, "run_import")
    undone = _watch(monkeypatch, undo, "undo")
    text = (
        "external_ref,title,funder,summary,url,amount_max,deadlines,status\n"
        "HF-1,Heavy fund,Heavy Funder,For testing,https://funder.example.org/heavy,1000,Full=2099-03-01 12:00,\n"
    )
    preview = post_form(admin_client, "/admin/funding-calls/import", {"csv_text": text})
    assert preview.status_code == 200, preview.text
    done = post_form(admin_client, "/admin/funding-calls/import/confirm", {"csv_text": text})
    assert done.status_code == 200
    assert sent == ["check_import"] * 2  # the preview and the confirm's check pass, in a worker
    assert seen == [False]  # the write pass: in this process (the request's session), off the event loop
    batch = db.query(m.ImportBatch).order_by(m.ImportBatch.id.desc()).first()
    assert batch is not None and db.query(m.FundingCall).filter_by(title="Heavy fund").count() == 1
    back = post_form(admin_client, f"/admin/imports/{batch.id}/undo")
    assert back.status_code in {200, 303} and undone == [False]
    db.expire_all()
    assert db.query(m.FundingCall).filter_by(title="Heavy fund").count() == 0
