"""CSV import: the sample file's preview, nothing written before confirm, matching, bad files, CLI, suppression."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from crm import models as m
from crm.directory import importer
from crm.directory.organisations import find_organisation
from crm.settings import PROJECT_ROOT
from tests import factories
from tests.conftest import csrf_token

SAMPLE = PROJECT_ROOT / "docs" / "samples" / "organisations.csv"


def _count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def _upload(client, content: bytes, name="orgs.csv"):
    return client.post(
        "/admin/import",
        files={"file": (name, content, "text/csv")},
        data={"_csrf_token": csrf_token(client)},
    )


def test_sample_csv_preview_lists_every_problem_and_writes_nothing(admin_client, db):
    r = _upload(admin_client, SAMPLE.read_bytes())
    assert r.status_code == 200
    text = r.text
    assert "Would import: 5 new and 0 updated organisations, 5 new and 0 updated contacts" in text
    for row, column, reason in [
        (7, "region", "Unknown region"),
        (8, "topics", "Unknown topic(s): basket weaving"),
        (9, "user_led", "Use yes or no"),
        (9, "contact_email", "valid email"),
        (10, "whole row", "This row repeats row 4"),
        (11, "contact_email", "already used in row 2"),
        (12, "organisation_name", "neither an organisation nor a contact"),
    ]:
        assert re.search(rf"<td>{row}</td><td>{column}</td><td>[^<]*{re.escape(reason)}", text.replace("&#39;", "'")), (
            row,
            column,
        )
    assert _count(db, m.Organisation) == 0 and _count(db, m.Contact) == 0
    token = re.search(r'action="/admin/import/([a-f0-9]{32})"', text).group(1)
    # Confirming without skipping is refused while rows have errors.
    r = admin_client.post(f"/admin/import/{token}", data={"_csrf_token": csrf_token(admin_client)})
    assert r.status_code == 400 and "Nothing was imported" in r.text
    assert _count(db, m.Organisation) == 0
    r = admin_client.post(
        f"/admin/import/{token}", data={"_csrf_token": csrf_token(admin_client), "skip_bad_rows": "1"}
    )
    assert r.status_code == 200 and "Imported: 5 new" in r.text
    assert _count(db, m.Organisation) == 5 and _count(db, m.Contact) == 5
    riverside = db.scalar(select(m.Organisation).where(m.Organisation.name == "Riverside Voices Peer Network"))
    links = list(db.scalars(select(m.Affiliation).where(m.Affiliation.organisation_id == riverside.id)))
    assert len(links) == 2 and all(a.is_primary for a in links)
    assert (
        db.scalar(
            select(m.AuditEntry).where(m.AuditEntry.entity == "organisation", m.AuditEntry.entity_id == riverside.id)
        ).action
        == "imported"
    )
    assert _count(db, m.Subscription) == 0 if hasattr(m, "Subscription") else True
    # The uploaded file is gone after use.
    assert admin_client.get(f"/admin/import/{token}").status_code == 404
    # A second import matches what the first created.
    r = _upload(admin_client, SAMPLE.read_bytes())
    # A second import of the same file matches what the first created and changes nothing.
    assert (
        "0 new and 0 updated organisations, 0 new and 0 updated contacts, 0 new links; 10 matched records unchanged"
        in r.text
    )
    assert "matches existing (no change)" in r.text


def test_matching_by_charity_number_domain_and_name(db, tmp_path):
    a = factories.organisation_via_form(db, "The Harbour Trust", charity_number="123 456")
    b = factories.organisation_via_form(db, "Domain Org", website="https://www.domain-org.example.org/about")
    c = factories.organisation_via_form(db, "Name & Co")
    existing = factories.contact_via_form(db, "Pat", "pat@example.org")
    db.commit()
    path = tmp_path / "m.csv"
    path.write_text(
        "organisation_name,charity_number,website,description,contact_name,contact_email\n"
        "Completely Different Name,123456,,new words,,\n"
        "Another Name,,domain-org.example.org,,,\n"
        "name and co,,,,Pat Updated,PAT@example.org\n"
        "Brand New,,,,,\n",
        encoding="utf-8",
    )
    report = importer.run_import(db, path, apply=True, replace={"contact_name"})
    # Row 3 brings nothing the matched organisation lacks; a contact's name is replaced only when chosen.
    assert [r.org_action for r in report.rows] == ["update", "unchanged", "unchanged", "new"]
    assert report.rows[2].contact_action == "update"
    db.expire_all()
    assert db.get(m.Organisation, a.id).description == "new words"
    assert db.get(m.Organisation, a.id).name == "The Harbour Trust"  # names are never overwritten by an import
    assert db.get(m.Contact, existing.id).name == "Pat Updated"
    assert db.scalar(select(func.count()).select_from(m.Organisation)) == 4
    assert b.id and c.id


def test_bad_files_are_refused_with_a_reason(db, tmp_path):
    neither = tmp_path / "neither.csv"
    neither.write_bytes(b"organisation_name\nCaf\xe9 Group\nBad \x81 byte\n")  # 0x81 is unused in Windows-1252
    assert "neither UTF-8 nor Windows-1252" in importer.run_import(db, neither, apply=False).file_errors[0]
    assert "on line 3" in importer.run_import(db, neither, apply=False).file_errors[0]
    missing = tmp_path / "missing.csv"
    missing.write_text("name,website\nX,https://x.example.org\n", encoding="utf-8")
    assert "Missing required column: organisation_name" in importer.run_import(db, missing, apply=False).file_errors[0]
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert importer.run_import(db, empty, apply=False).file_errors == ["The file is empty."]
    bom = tmp_path / "bom.csv"
    bom.write_text("\ufefforganisation_name,kind\nFine Group,nonsense\n<script>x</script>,vcse\n", encoding="utf-8")
    report = importer.run_import(db, bom, apply=False)
    assert report.ok and report.errors[0][:2] == (2, "kind") and report.orgs_new == 1


def test_web_upload_of_non_utf8_and_huge_names(admin_client, db):
    r = _upload(admin_client, b"organisation_name\nCaf\x81\n")
    assert "This file cannot be imported" in r.text and "neither UTF-8 nor Windows-1252" in r.text
    r = _upload(admin_client, ("organisation_name\n" + "x" * 10_000 + "\n").encode())
    assert "at most 300 characters" in r.text
    r = admin_client.post("/admin/import", data={"_csrf_token": csrf_token(admin_client)})
    assert r.status_code == 400 and "Choose a CSV file" in r.text


def test_suppressed_addresses_are_imported_but_never_subscribed(db, tmp_path):
    db.add(m.Suppression(address="gone@example.org", reason="unsubscribe"))
    db.commit()
    path = tmp_path / "s.csv"
    path.write_text(
        "organisation_name,contact_name,contact_email\nOrg,Gone Person,gone@example.org\n", encoding="utf-8"
    )
    report = importer.run_import(db, path, apply=True)
    assert "suppressed" in report.rows[0].notes[0]
    assert db.scalar(select(m.Contact.id).where(m.Contact.email == "gone@example.org"))
    if hasattr(m, "Subscription"):
        assert db.scalar(select(func.count()).select_from(m.Subscription)) == 0


def test_cli_import_dry_run_then_real(app, db, settings, monkeypatch, tmp_path):
    from crm import cli

    monkeypatch.setenv("CRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", settings.secret_keys[0])
    monkeypatch.setenv("CRM_ENV", "test")
    runner = CliRunner()
    result = runner.invoke(cli.main, ["import", "organisations", str(SAMPLE), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would import: 5 new" in result.output and "row 7, column region" in result.output
    assert "Dry run" in result.output
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(m.Organisation)) == 0
    result = runner.invoke(cli.main, ["import", "organisations", str(SAMPLE)])
    assert result.exit_code == 1 and "--skip-bad-rows" in result.output
    result = runner.invoke(cli.main, ["import", "organisations", str(SAMPLE), "--skip-bad-rows"])
    assert result.exit_code == 0, result.output
    assert "Imported: 5 new" in result.output
    assert db.scalar(select(func.count()).select_from(m.Organisation)) == 5
    good = tmp_path / "good.csv"
    good.write_text("organisation_name,topics\nClean Group,Carers\n", encoding="utf-8")
    result = runner.invoke(cli.main, ["import", "organisations", str(good)])
    assert result.exit_code == 0 and "Imported: 1 new" in result.output
    out = tmp_path / "out.csv"
    result = runner.invoke(cli.main, ["export", "organisations", "-o", str(out)])
    assert result.exit_code == 0 and "Clean Group" in out.read_text()
    assert find_organisation(db, "clean group") is not None


def test_import_statements_per_batch_do_not_grow_with_rows(db, tmp_path, count_queries):
    def run(n: int, name: str) -> int:
        path = Path(tmp_path / f"{name}.csv")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("organisation_name,topics,region,contact_name,contact_email\n")
            for i in range(n):
                fh.write(f"{name} Org {i},Carers;Psychosis,London,Person {i},{name.lower()}{i}@example.org\n")
        with count_queries(db.get_bind()) as q:
            report = importer.run_import(db, path, apply=True)
        assert report.orgs_new == n and report.contacts_new == n and report.affiliations_new == n
        return q.count

    assert run(10, "Small") == run(900, "Large")
