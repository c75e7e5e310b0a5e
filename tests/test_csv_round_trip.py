"""Export → re-import changes nothing: the exports put an apostrophe before a cell a spreadsheet would run as a
formula (= + - @), and the import takes exactly that apostrophe off again, so a phone number "+44 …" or a
description starting with "-" comes back as it went out (and is not stored with the apostrophe under --replace)."""

from __future__ import annotations

import csv
import io

from crm import csvimport
from crm import models as m
from crm.directory import export, importer
from crm.directory.import_batch import REPLACEABLE
from crm.listing import ListParams
from tests import factories


def _exported(tmp_path, name, rows):
    """The rows written as ``crm export`` writes them (csv.writer, UTF-8)."""
    path = tmp_path / name
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _records(db):
    db.expire_all()
    orgs = {(o.name, o.description, o.website) for o in db.query(m.Organisation)}
    people = {(c.name, c.email, c.phone, c.job_title) for c in db.query(m.Contact)}
    return orgs, people


def test_exported_organisations_and_contacts_reimport_unchanged(db, tmp_path):
    home = factories.organisation_via_form(
        db,
        "@Home Together",
        description="-Peer support on Tuesdays\n- and a helpline",
        website="https://home.example.org",
    )
    factories.organisation_via_form(db, "Plus Minus", description="+ one more group, = equal voices")
    factories.contact(db, "@Sam", "sam@example.org", organisation=home, phone="+44 20 7946 0000", job_title="-")
    factories.contact(db, "Jo", "jo@example.org", phone="+447700900123", job_title="=Chair")
    db.commit()
    before = _records(db)

    orgs = _exported(tmp_path, "orgs.csv", export.organisation_rows(db, ListParams(), public=False))
    people = _exported(tmp_path, "contacts.csv", export.contact_rows(db, ListParams()))
    assert "'+44 20 7946 0000" in people.read_text() and "'-Peer support" in orgs.read_text()  # the guard is on

    for path in (orgs, people):
        report = importer.run_import(db, path, apply=False)
        assert report.file_errors == [] and report.problems == [], path.name
        assert (report.orgs_new, report.orgs_updated, report.contacts_new, report.contacts_updated) == (0, 0, 0, 0)
        assert [(r.row, c.label, c.old_text, c.new_text) for r in report.rows for c in r.changes] == [], path.name
        assert report.conflicts == {} and report.error_rows == 0
        assert report.orgs_unchanged + report.contacts_unchanged == report.total_rows + (path is people), path.name

    for path in (orgs, people):  # taking every replaceable column from the file still changes nothing
        report = importer.run_import(db, path, apply=True, replace=set(REPLACEABLE))
        assert report.problems == [] and report.orgs_updated + report.contacts_updated == 0, path.name
        db.commit()
    assert _records(db) == before


def test_the_reader_undoes_only_the_exports_own_escaping():
    written = io.StringIO()
    cells = ["+44 1", "-x", "=SUM(A1)", "@me", "'quoted", "''-twice", "' -spaced", "plain", "'", "-"]
    csv.writer(written).writerow(["h" + str(i) for i in range(len(cells))])
    csv.writer(written).writerow([export.safe_cell(c) for c in cells])
    report = csvimport.Report()
    reader = csvimport.CsvRows(io.StringIO(written.getvalue()), report)
    assert reader.read_header()
    assert list(reader.rows()) == [(2, cells)]  # what went out comes back; a lone or other apostrophe stays
