"""Issue 17.1: an import never silently changes what is there. Preview old → new, fill empty fields by default,
replace per column, one batch per import with its page, undo within 30 days (fields edited since are left, created
records something refers to are kept), Excel's Windows-1252 files, the CLI."""

from __future__ import annotations

import datetime as dt
import re

from click.testing import CliRunner
from sqlalchemy import func, select, update

from crm import models as m
from crm.cli import main
from crm.directory import importer
from tests import factories
from tests.conftest import csrf_token, post_form
from tests.funding.helpers import make_call

MIND = "National mental-health charity with local Minds."
FILE = (
    "organisation_name,description,website,region,contact_name,contact_email\n"
    "Mind,Mental health charity (from the spreadsheet).,https://www.mind.example.org,London,,\n"
    "Brand New Group,A new group.,,,Nia Newcomer,nia@example.org\n"
)


def _mind(db):
    return factories.organisation_via_form(db, "Mind", description=MIND)


def _upload(client, content: bytes, name="orgs.csv"):
    return client.post(
        "/admin/import", files={"file": (name, content, "text/csv")}, data={"_csrf_token": csrf_token(client)}
    )


def _token(page: str) -> str:
    return re.search(r'action="/admin/import/([a-f0-9]{32})"', page).group(1)


def _fresh(db, model, record_id):
    db.expire_all()
    return db.get(model, record_id)


def test_preview_shows_every_change_old_to_new_and_the_default_keeps_what_is_there(admin_client, db):
    mind = _mind(db)
    db.commit()
    page = _upload(admin_client, FILE.encode())
    assert page.status_code == 200
    text = page.text.replace("&#39;", "'")
    # The matched record's fields, old → new: the description differs (kept by default), the website and the
    # region were empty (filled).
    assert re.search(r"<td>Description</td><td>" + re.escape(MIND) + r"</td><td>Mental health charity", text)
    assert "kept</span> (replace description" in text
    assert re.search(r"<td>Website</td><td>\(empty\)</td><td>https://www.mind.example.org</td>", text)
    assert re.search(r"<td>Region</td><td>\(empty\)</td><td>London</td>", text)
    assert "Replace descriptions from the file (1 record)" in text
    assert "1 new and 1 updated organisations" in text
    r = post_form(admin_client, f"/admin/import/{_token(text)}", {"filename": "orgs.csv", "action": "import"})
    assert r.status_code == 200 and "Imported: 1 new and 1 updated organisations" in r.text
    mind = _fresh(db, m.Organisation, mind.id)
    assert mind.description == MIND  # the default fills empty fields only
    assert mind.website == "https://www.mind.example.org" and mind.region_id is not None
    entry = db.scalar(
        select(m.AuditEntry).where(
            m.AuditEntry.entity == "organisation",
            m.AuditEntry.entity_id == mind.id,
            m.AuditEntry.action == "updated by import",
        )
    )
    assert entry.changes["website"] == ["", "https://www.mind.example.org"]
    london = db.scalar(select(m.Region.id).where(m.Region.name == "London"))
    assert entry.changes["region_id"] == [None, london] and "description" not in entry.changes


def test_replacing_a_column_overwrites_and_the_audit_keeps_the_old_value(admin_client, db):
    mind = _mind(db)
    db.commit()
    token = _token(_upload(admin_client, FILE.encode()).text)
    # "Show the preview with these choices" writes nothing and shows the choice.
    again = post_form(admin_client, f"/admin/import/{token}", {"replace": "description", "action": "preview"})
    assert again.status_code == 200 and "replaced</span> " + MIND in again.text
    assert _fresh(db, m.Organisation, mind.id).description == MIND
    post_form(admin_client, f"/admin/import/{token}", {"replace": "description", "action": "import"})
    assert _fresh(db, m.Organisation, mind.id).description == "Mental health charity (from the spreadsheet)."
    entry = db.scalar(
        select(m.AuditEntry).where(m.AuditEntry.entity_id == mind.id, m.AuditEntry.action == "updated by import")
    )
    assert entry.changes["description"] == [MIND, "Mental health charity (from the spreadsheet)."]


def test_a_batch_has_its_page_and_undo_puts_back_fields_and_removes_what_it_created(admin_client, db):
    mind = _mind(db)
    db.commit()
    token = _token(_upload(admin_client, FILE.encode()).text)
    done = post_form(admin_client, f"/admin/import/{token}", {"replace": "description", "filename": "orgs.csv"})
    batch = db.scalar(select(m.ImportBatch))
    assert f'href="/admin/imports/{batch.id}"' in done.text
    assert (batch.filename, batch.actor, batch.created, batch.updated, batch.errors) == (
        "orgs.csv",
        "fellow@example.org",
        2,  # Brand New Group and Nia Newcomer
        1,
        0,
    )
    listing = admin_client.get("/admin/imports")
    assert listing.status_code == 200 and f"#{batch.id}" in listing.text and "orgs.csv" in listing.text
    assert f"#{batch.id}" in admin_client.get("/admin/import").text  # listed under the import area
    page = admin_client.get(f"/admin/imports/{batch.id}")
    assert page.status_code == 200 and "Undo this import" in page.text
    assert f"Description: {MIND} → Mental health charity" in page.text and "Region: (empty) → London" in page.text
    new_org = db.scalar(select(m.Organisation.id).where(m.Organisation.name == "Brand New Group"))
    nia = db.scalar(select(m.Contact.id).where(m.Contact.email == "nia@example.org"))
    undone = post_form(admin_client, f"/admin/imports/{batch.id}/undo")
    assert undone.status_code == 200 and "The import was undone" in undone.text
    mind = _fresh(db, m.Organisation, mind.id)
    assert (mind.description, mind.website, mind.website_domain, mind.region_id) == (MIND, "", "", None)
    assert db.get(m.Organisation, new_org) is None and db.get(m.Contact, nia) is None
    assert db.scalar(select(func.count()).select_from(m.Affiliation)) == 0
    assert db.scalar(
        select(m.AuditEntry.changes).where(m.AuditEntry.entity_id == mind.id, m.AuditEntry.action == "import undone")
    )["description"] == ["Mental health charity (from the spreadsheet).", MIND]
    assert db.scalar(
        select(m.AuditEntry).where(m.AuditEntry.entity == "import_batch", m.AuditEntry.action == "import undone")
    )
    # Once is enough.
    twice = post_form(admin_client, f"/admin/imports/{batch.id}/undo")
    assert twice.status_code == 409 and "Not undone" in twice.text and "already been undone" in twice.text


def test_undo_keeps_a_created_record_something_now_refers_to_and_says_so(admin_client, db, settings):
    token = _token(_upload(admin_client, FILE.encode()).text)
    post_form(admin_client, f"/admin/import/{token}", {})
    created = db.scalar(select(m.Organisation).where(m.Organisation.name == "Brand New Group"))
    make_call(db, created, "Community research fund")  # a funding call now names it as funder
    db.commit()
    batch_id = db.scalar(select(m.ImportBatch.id))
    page = post_form(admin_client, f"/admin/imports/{batch_id}/undo", follow_redirects=True)
    text = page.text.replace("&#39;", "'")
    assert "Organisation 'Brand New Group' was kept" in text and "Community research fund" in text
    db.expire_all()
    assert db.get(m.Organisation, created.id) is not None
    assert db.scalar(select(m.Contact.id).where(m.Contact.email == "nia@example.org")) is None  # nothing refers to her


def test_undo_leaves_a_field_edited_after_the_import_and_says_which(db):
    mind = _mind(db)
    db.commit()
    report = _import_text(db, FILE, replace={"description"})
    db.execute(update(m.Organisation).where(m.Organisation.id == mind.id).values(description="Edited by the fellow."))
    db.commit()
    from crm.domains import EXTENSIONS
    from crm.imports import undo

    result = undo.undo(db, None, report.batch_id, EXTENSIONS, now=dt.datetime.now(dt.UTC))
    db.commit()
    mind = _fresh(db, m.Organisation, mind.id)
    assert mind.description == "Edited by the fellow." and mind.website == ""  # website put back, description left
    assert result.left == ["Mind: Description was changed after the import; left as it is."]
    batch = db.get(m.ImportBatch, report.batch_id)
    assert batch.undone_at is not None and batch.undo_notes == result.left


def test_undo_is_refused_after_30_days(db):
    _mind(db)
    report = _import_text(db, FILE)
    db.execute(update(m.ImportBatch).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=31)))
    from crm.domains import EXTENSIONS
    from crm.imports import undo

    try:
        undo.undo(db, None, report.batch_id, EXTENSIONS, now=dt.datetime.now(dt.UTC))
    except undo.UndoRefused as exc:
        assert "30 days" in exc.errors["batch"]
    else:
        raise AssertionError("an import older than 30 days was undone")


def test_excel_windows_1252_file_is_read_with_a_note(admin_client, db):
    content = "organisation_name,description\nCafé Collective,Raised £500 for the café\n".encode("cp1252")
    for raw in (content, b"\xef\xbb\xbf" + content):  # without and with a BOM
        page = _upload(admin_client, raw)
        assert page.status_code == 200
        assert "This file was saved in Windows-1252 (Excel); we read it as such." in page.text
        assert "Café Collective" in page.text
    post_form(admin_client, f"/admin/import/{_token(page.text)}", {})
    org = db.scalar(select(m.Organisation).where(m.Organisation.name == "Café Collective"))
    assert org.description == "Raised £500 for the café"
    assert db.scalar(select(m.ImportBatch.encoding)) == "Windows-1252 with BOM"
    utf8_bom = _upload(admin_client, "\ufefforganisation_name\nZoë's Group\n".encode())
    assert "Zoë&#39;s Group" in utf8_bom.text and "Windows-1252" not in utf8_bom.text


def test_bad_rows_are_reported_by_line_and_never_a_500(admin_client, db):
    text = "organisation_name,website,kind\nGood Group,,\nBad Site,http://[bad,\nOdd Kind,,spaceship\n"
    page = _upload(admin_client, text.encode())
    assert page.status_code == 200
    assert re.search(r"<td>3</td><td>(website|whole row)</td>", page.text)
    assert re.search(r"<td>4</td><td>kind</td><td>Unknown kind", page.text.replace("&#39;", "'"))
    post_form(admin_client, f"/admin/import/{_token(page.text)}", {"skip_bad_rows": "1"})
    assert db.scalar(select(m.Organisation.name)) == "Good Group"
    batch = db.scalar(select(m.ImportBatch))
    assert batch.errors == 2 and [p[0] for p in batch.problems] == [3, 4]
    assert "Unknown kind" in admin_client.get(f"/admin/imports/{batch.id}").text


def test_cli_replace_option_help_and_undo(db, database, tmp_path):
    mind = _mind(db)
    db.commit()
    path = tmp_path / "orgs.csv"
    path.write_text(FILE, encoding="utf-8")
    env = {"CRM_DATABASE_URL": database.url, "CRM_ENV": "test"}
    runner = CliRunner()
    help_text = runner.invoke(main, ["import", "organisations", "--help"], env=env).output
    assert "--replace COLUMNS" in help_text and "only fills empty fields" in " ".join(help_text.split())
    dry = runner.invoke(main, ["import", "organisations", str(path), "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert f"row 2, Mind: Description: kept {MIND} (the file has Mental health charity" in dry.output
    assert "Use --replace description to take the file's" in dry.output
    wrong = runner.invoke(main, ["import", "organisations", str(path), "--replace", "descripton"], env=env)
    assert wrong.exit_code == 1 and "unknown column(s) descripton" in wrong.output
    done = runner.invoke(main, ["import", "organisations", str(path), "--replace", "description"], env=env)
    assert done.exit_code == 0, done.output
    batch_id = int(re.search(r"Recorded as import #(\d+)", done.output).group(1))
    assert _fresh(db, m.Organisation, mind.id).description.startswith("Mental health charity")
    listed = runner.invoke(main, ["imports", "list"], env=env)
    assert f"#{batch_id}" in listed.output and "'orgs.csv'" in listed.output
    undone = runner.invoke(main, ["imports", "undo", str(batch_id)], env=env)
    assert undone.exit_code == 0 and "Undone: 1 record(s) put back, 2 created record(s) removed" in undone.output
    assert _fresh(db, m.Organisation, mind.id).description == MIND
    again = runner.invoke(main, ["imports", "undo", str(batch_id)], env=env)
    assert again.exit_code == 1 and "already been undone" in again.output


def _import_text(db, text: str, **kwargs):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orgs.csv"
        path.write_text(text, encoding="utf-8")
        report = importer.run_import(db, path, apply=True, **kwargs)
    db.commit()
    return report


def test_undo_removes_topics_and_links_it_added_to_existing_records(db):
    mind = _mind(db)
    pat = factories.contact_via_form(db, "Pat Peer", "pat@example.org")
    factories.topic(db, "Carers")
    db.commit()
    text = (
        "organisation_name,topics,contact_name,contact_email,contact_role\nMind,Carers,Pat Peer,pat@example.org,Chair\n"
    )
    report = _import_text(db, text)
    assert report.rows[0].org_action == "update" and report.affiliations_new == 1
    assert [(c.field, c.how, c.new_text) for c in report.rows[0].changes] == [("topics", "added", "Carers")]
    from crm.domains import EXTENSIONS
    from crm.imports import undo

    result = undo.undo(db, None, report.batch_id, EXTENSIONS, now=dt.datetime.now(dt.UTC))
    db.commit()
    assert (result.restored, result.unlinked, result.removed, result.left) == (1, 1, 0, [])
    assert db.scalar(select(func.count()).select_from(m.organisation_topics)) == 0
    assert db.scalar(select(func.count()).select_from(m.Affiliation).where(m.Affiliation.contact_id == pat.id)) == 0
    assert db.get(m.Organisation, mind.id) is not None and db.get(m.Contact, pat.id) is not None


def test_two_rows_matching_one_record_by_different_keys_plan_in_turn_and_undo_cleanly(db):
    mind = factories.organisation_via_form(db, "Mind", charity_number="123456")
    db.commit()
    text = (
        "organisation_name,charity_number,website,description\n"
        "Mind,,https://a.example.org,\n"
        "Mind Charity,123456,https://b.example.org,Second row's words.\n"
    )
    report = _import_text(db, text)
    assert [r.org_action for r in report.rows] == ["update", "update"]
    assert [(c.field, c.how) for c in report.rows[1].changes] == [("description", "filled"), ("website", "kept")]
    mind = _fresh(db, m.Organisation, mind.id)
    assert (mind.website, mind.description) == ("https://a.example.org", "Second row's words.")
    from crm.domains import EXTENSIONS
    from crm.imports import undo

    result = undo.undo(db, None, report.batch_id, EXTENSIONS, now=dt.datetime.now(dt.UTC))
    db.commit()
    mind = _fresh(db, m.Organisation, mind.id)
    assert (mind.website, mind.website_domain, mind.description, result.left) == ("", "", "", [])
