"""Issue 21.2: heavy requests run off the event loop, so one slow request does not stall everyone (both databases).

The heavy work of the admin dashboard, the impact report, the directory and funding import previews and confirms,
undoing an import, bulk actions and CSV exports runs in Litestar's thread pool: the service is called where no event
loop runs, and while a dashboard is held inside its service the public directory still answers. bench/stall.py
measures the latency figures (never timed here).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.dashboard import services as ds
from crm.directory import export
from crm.directory import importer as directory_importer
from crm.funding import importer as funding_importer
from crm.imports import undo
from tests import factories
from tests.conftest import csrf_token, post_form

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


def _watch(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[bool]:
    """Wrap ``owner.name``: each call records whether it ran on the event loop's thread."""
    seen: list[bool] = []
    original: Callable[..., Any] = getattr(owner, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(_on_event_loop())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, watched)
    return seen


def _watch_rows(monkeypatch: pytest.MonkeyPatch, name: str) -> list[bool]:
    """Like ``_watch`` for an export's row generator: records where each batch of rows is read."""
    seen: list[bool] = []
    original = getattr(export, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        for row in original(*args, **kwargs):
            seen.append(_on_event_loop())
            yield row

    monkeypatch.setattr(export, name, watched)
    return seen


def test_the_dashboard_and_impact_report_are_computed_off_the_event_loop(admin_client, monkeypatch):
    seen = _watch(monkeypatch, ds, "dashboard")
    page = admin_client.get("/admin")
    assert page.status_code == 200 and "Partnerships by stage" in page.text
    report = admin_client.get("/admin/reports/impact.csv")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert seen == [False]


def test_a_held_dashboard_does_not_stall_the_public_directory(admin_client, db, monkeypatch):
    factories.organisation(db, "Unstalled Peer Network")
    db.commit()
    entered, gate = threading.Event(), threading.Event()
    released: list[bool] = []
    original = ds.dashboard

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        released.append(gate.wait(30))  # False only if nothing opened the gate: the directory never answered
        return original(*args, **kwargs)

    monkeypatch.setattr(ds, "dashboard", held)
    statuses: list[int] = []
    slow = threading.Thread(target=lambda: statuses.append(admin_client.get("/admin").status_code))
    slow.start()
    try:
        assert entered.wait(30), "the dashboard request never reached its service"
        directory = admin_client.get("/organisations", headers={"Cache-Control": "no-cache"})
        assert directory.status_code == 200 and "Unstalled Peer Network" in directory.text
    finally:
        gate.set()
        slow.join(60)
    assert released == [True] and statuses == [200]


def test_directory_import_preview_and_confirm_run_off_the_event_loop(admin_client, db, monkeypatch):
    seen = _watch(monkeypatch, directory_importer, "run_import")
    upload = admin_client.post(
        "/admin/import",
        files={"file": ("heavy.csv", CSV.encode(), "text/csv")},
        data={"_csrf_token": csrf_token(admin_client)},
    )
    assert upload.status_code == 200 and "Would import: 1 new" in upload.text
    token = upload.text.split('action="/admin/import/', 1)[1][:32]
    again = admin_client.get(f"/admin/import/{token}")
    assert again.status_code == 200 and "Would import: 1 new" in again.text
    done = admin_client.post(f"/admin/import/{token}", data={"_csrf_token": csrf_token(admin_client)})
    assert done.status_code == 200 and "Imported: 1 new" in done.text
    assert seen == [False] * 4  # upload, preview again, confirm's check pass and its write pass
    db.expire_all()
    # Written in a worker thread, committed by the request's one session: another session sees it.
    assert (
        db.scalar(select(func.count()).select_from(m.Organisation).where(m.Organisation.name == "Heavy Test Group"))
        == 1
    )


def test_funding_import_preview_confirm_and_undo_run_off_the_event_loop(admin_client, db, monkeypatch):
    factories.organisation(db, "Heavy Funder", m.OrgKind.FUNDER)
    db.commit()
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
    assert seen == [False] * 3  # the preview, the confirm's check pass and its write pass
    batch = db.query(m.ImportBatch).order_by(m.ImportBatch.id.desc()).first()
    assert batch is not None and db.query(m.FundingCall).filter_by(title="Heavy fund").count() == 1
    back = post_form(admin_client, f"/admin/imports/{batch.id}/undo")
    assert back.status_code in {200, 303} and undone == [False]
    db.expire_all()
    assert db.query(m.FundingCall).filter_by(title="Heavy fund").count() == 0


def test_csv_exports_read_their_rows_off_the_event_loop(admin_client, db, monkeypatch):
    org = factories.organisation(db, "Exported Collective")
    contacts = [factories.contact(db, f"Person {i}", f"person{i}@example.org") for i in range(export.BATCH + 3)]
    db.commit()
    rows = _watch_rows(monkeypatch, "contact_rows")
    whole = admin_client.get("/admin/contacts/export.csv")
    assert whole.status_code == 200
    assert len(whole.text.strip().splitlines()) == len(contacts) + 1  # every contact (two keyset pages) + header
    assert rows and not any(rows)
    orgs = _watch_rows(monkeypatch, "organisation_rows")
    chosen = post_form(admin_client, "/admin/organisations/bulk", {"action": "export", "ids": [org.id]})
    assert chosen.status_code == 200 and "Exported Collective" in chosen.text
    assert orgs and not any(orgs)
