"""Issue 17.1 for funding calls: the import preview shows old → new, fills empty fields by default, replaces a
column only when chosen, is a batch that can be undone (fields edited since are left, created calls a partnership
now refers to are kept), reads Excel's Windows-1252 files, and the CLI takes --replace."""

from __future__ import annotations

import datetime as dt
import re

from click.testing import CliRunner
from sqlalchemy import select

from crm import models as m
from crm.cli import main
from crm.domains import EXTENSIONS
from crm.funding import importer
from crm.funding import services as fs
from crm.imports import undo
from tests import factories
from tests.conftest import post_form
from tests.funding.helpers import make_call

SUMMARY = "Grants for research co-produced with peer-support groups."
HEADER = "external_ref,title,funder,summary,url,amount_max,deadlines,status\n"


def _setup(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    call = make_call(db, funder, "Community awards", summary=SUMMARY, external_ref="NT-1")
    db.commit()
    return call


def _file(summary="A different summary from the spreadsheet.", extra=""):
    return (
        HEADER + f'NT-1,Community awards,Northfield Trust,{summary},https://funder.example.org/awards,"£50,000",'
        "Full=2099-03-01 12:00,\n" + extra
    )


def _fresh(db, call_id):
    db.expire_all()
    return db.get(m.FundingCall, call_id)


def _preview(client, text: str, content: bytes | None = None):
    return client.post(
        "/admin/funding-calls/import",
        files={"file": ("calls.csv", content if content is not None else text.encode(), "text/csv")},
        data={"_csrf_token": client.cookies.get("crm_csrf") or _csrf(client)},
    )


def _csrf(client):
    client.get("/sign-in")
    return client.cookies.get("crm_csrf")


def test_preview_shows_old_to_new_and_the_default_fills_empty_fields_only(admin_client, db):
    call = _setup(db)
    page = _preview(admin_client, _file())
    assert page.status_code == 200
    text = page.text
    assert re.search(r"<td>Summary</td><td>" + re.escape(SUMMARY) + r"</td><td>A different summary", text)
    assert "kept</span> (replace summary" in text
    assert re.search(r"<td>Web address</td><td>\(empty\)</td><td>https://funder.example.org/awards</td>", text)
    assert re.search(r"<td>Maximum amount</td><td>\(empty\)</td><td>£50,000</td>", text)
    assert "Replace summaries from the file (1 record)" in text
    done = post_form(admin_client, "/admin/funding-calls/import/confirm", {"csv_text": _file()})
    assert done.status_code == 200 and "Imported: 0 new, 1 updated" in done.text
    call = _fresh(db, call.id)
    assert call.summary == SUMMARY and call.url == "https://funder.example.org/awards" and call.amount_max == 50000
    assert call.status == m.CallStatus.PUBLISHED  # a blank status cell changes nothing
    entry = db.scalar(
        select(m.AuditEntry)
        .where(m.AuditEntry.entity == "funding_call", m.AuditEntry.entity_id == call.id)
        .order_by(m.AuditEntry.id.desc())
    )
    assert entry.changes["url"] == ["", "https://funder.example.org/awards"] and "summary" not in entry.changes


def test_replace_column_then_undo_puts_back_and_removes_created_calls(admin_client, db):
    call = _setup(db)
    new_row = "NT-2,Second call,Northfield Trust,New one,,,2099-05-01,draft\n"
    done = post_form(
        admin_client,
        "/admin/funding-calls/import/confirm",
        {"csv_text": _file(extra=new_row), "replace": "summary", "filename": "calls.csv"},
    )
    assert "Imported: 1 new, 1 updated" in done.text
    assert _fresh(db, call.id).summary == "A different summary from the spreadsheet."
    entry = db.scalar(
        select(m.AuditEntry.changes).where(m.AuditEntry.entity_id == call.id, m.AuditEntry.action == "updated")
    )
    assert entry["summary"] == [SUMMARY, "A different summary from the spreadsheet."]
    batch = db.scalar(select(m.ImportBatch))
    assert (batch.kind, batch.filename, batch.created, batch.updated, batch.replaced) == (
        "funding_calls",
        "calls.csv",
        1,
        1,
        ["summary"],
    )
    page = admin_client.get(f"/admin/imports/{batch.id}")
    assert "Funding calls" in page.text and "Undo this import" in page.text
    assert f"Summary: {SUMMARY} → A different summary" in page.text and "Maximum amount: (empty) → £50,000" in page.text
    second = db.scalar(select(m.FundingCall.id).where(m.FundingCall.external_ref == "NT-2"))
    r = post_form(admin_client, f"/admin/imports/{batch.id}/undo")
    assert r.status_code == 200 and "The import was undone" in r.text
    call = _fresh(db, call.id)
    assert (call.summary, call.url, call.amount_max) == (SUMMARY, "", None)
    assert db.get(m.FundingCall, second) is None


def test_undo_leaves_edited_fields_and_keeps_a_call_a_partnership_refers_to(db):
    call = _setup(db)
    now = dt.datetime.now(dt.UTC)
    text = _file(extra="NT-2,Second call,Northfield Trust,New one,,,2099-05-01,draft\n")
    report = importer.run_import(db, text, apply=True, now=now, replace={"summary"}, filename="calls.csv")
    db.commit()
    # After the import: the fellow edits the summary, and a partnership is started on the new call.
    fs.update_call(db, None, call, _with(db, call, summary="Edited by the fellow."), now=now)
    second = db.scalar(select(m.FundingCall).where(m.FundingCall.external_ref == "NT-2"))
    db.add(m.Partnership(title="Peer research bid", funding_call_id=second.id))
    db.commit()
    result = undo.undo(db, None, report.batch_id, EXTENSIONS, now=now)
    db.commit()
    call = _fresh(db, call.id)
    assert call.summary == "Edited by the fellow." and call.url == "" and call.amount_max is None
    assert result.left == ["Community awards: Summary was changed after the import; left as it is."]
    assert len(result.kept) == 1 and "Funding call 'Second call' was kept" in result.kept[0]
    assert "partnership" in result.kept[0]
    assert db.get(m.FundingCall, second.id) is not None


def _with(db, call, **changes):
    from crm.funding import import_values as iv

    values = iv.call_values(db, call)
    values.update(changes)
    return iv.to_input(values)


def test_windows_1252_upload_is_read_with_a_note(admin_client, db):
    _setup(db)
    text = HEADER + "NT-9,Café fund,Northfield Trust,Up to £5k for cafés,,,2099-05-01,\n"
    page = _preview(admin_client, text, b"\xef\xbb\xbf" + text.encode("cp1252"))
    assert page.status_code == 200
    assert "This file was saved in Windows-1252 (Excel); we read it as such." in page.text
    assert "Café fund" in page.text
    encoding = re.search(r'name="encoding" value="([^"]+)"', page.text).group(1)
    assert encoding == "Windows-1252 with BOM"
    post_form(admin_client, "/admin/funding-calls/import/confirm", {"csv_text": text, "encoding": encoding})
    assert db.scalar(select(m.FundingCall.summary).where(m.FundingCall.external_ref == "NT-9")) == "Up to £5k for cafés"
    assert db.scalar(select(m.ImportBatch.encoding)) == "Windows-1252 with BOM"
    bad = _preview(admin_client, "", b"title,funder,deadlines\nX\x81,Y,2099-01-01\n")
    assert bad.status_code == 422 and "neither UTF-8 nor Windows-1252" in bad.text


def test_cli_replace_progress_and_undo(db, database, tmp_path):
    call = _setup(db)
    path = tmp_path / "calls.csv"
    path.write_bytes(_file().encode("cp1252"))
    env = {"CRM_DATABASE_URL": database.url, "CRM_ENV": "test"}
    runner = CliRunner()
    help_text = " ".join(runner.invoke(main, ["funding", "import", "--help"], env=env).output.split())
    assert "--replace COLUMNS" in help_text and "Windows-1252" in help_text
    dry = runner.invoke(main, ["funding", "import", str(path), "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "Windows-1252 (Excel)" in dry.output and "Checking" in dry.output
    assert f"row 2, Community awards: Summary: kept {SUMMARY}" in dry.output
    done = runner.invoke(main, ["funding", "import", str(path), "--replace", "summary"], env=env)
    assert done.exit_code == 0, done.output
    assert _fresh(db, call.id).summary == "A different summary from the spreadsheet."
    batch_id = re.search(r"Recorded as import #(\d+)", done.output).group(1)
    undone = runner.invoke(main, ["imports", "undo", batch_id], env=env)
    assert undone.exit_code == 0, undone.output
    assert _fresh(db, call.id).summary == SUMMARY
