"""A quote opened and never closed is reported with its row number and writes nothing from the broken part: the
reader used to take the rest of the file as one value, and an organisation named "Unclosed,vcse,,no,no,d,,,,,,"
was created without a word."""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import func, select

from crm import csvimport
from crm import models as m
from crm.directory import importer
from crm.funding import importer as funding_importer

HEADER = "organisation_name,kind,vcse_category,user_led,lived_experience_led,description\n"


def _rows(text):
    report = csvimport.Report()
    reader = csvimport.CsvRows(io.StringIO(text), report)
    assert reader.read_header()
    return list(reader.rows()), report.file_errors


def test_a_quote_left_open_to_the_end_of_the_file_is_a_file_error_with_its_row():
    rows, errors = _rows('name,kind\nGood,vcse\n\n"Unclosed,vcse,,no,no,d,,,,,,\n')
    assert rows == [(2, ["Good", "vcse"])]  # nothing from the broken row
    assert len(errors) == 1 and errors[0].startswith('Row 4 (line 4): a quote (") opened in this row is never closed')


def test_a_quote_that_runs_into_later_rows_is_a_file_error_with_its_row():
    rows, errors = _rows('name,kind,d\nGood,vcse,x\n"Unclosed,vcse,d\nNext,vcse,"a, b"\nLast,vcse,z\n')
    assert rows == [(2, ["Good", "vcse", "x"])]
    assert len(errors) == 1 and errors[0].startswith("Row 3 (line 3): the quotes in this row do not pair up")
    rows, errors = _rows('a,b\n"ab"cd,x\n')  # text after a closing quote was silently joined on
    assert rows == [] and errors[0].startswith("Row 2 (line 2): the quotes in this row do not pair up")


def test_a_quote_closed_only_at_the_end_of_a_later_line_makes_the_row_an_error():
    text = 'name,kind,d\nGood,vcse,x\n"Unclosed,vcse,d\nNext,vcse,d"\nLast,vcse,z\n'
    report = csvimport.Report()
    reader = csvimport.CsvRows(io.StringIO(text), report)
    assert reader.read_header()
    problems = [(n, reader.unclosed_quote(values)) for n, values in reader.rows()]
    assert problems[0] == (2, "") and problems[2] == (4, "")
    assert problems[1][0] == 3 and problems[1][1].startswith('A quote (") opened in this row closes only on line 4')
    # A value over several lines that fills its row, or has no comma, is an ordinary multi-line value.
    assert reader.unclosed_quote(["one\ntwo, three", "vcse", "x"]) == "" and reader.unclosed_quote(["a\nb"]) == ""


def test_the_directory_import_creates_nothing_from_an_unclosed_quote(db, tmp_path):
    path = tmp_path / "q.csv"
    path.write_text(HEADER + "Good Group,vcse,,no,no,fine\n" + '"Unclosed,vcse,,no,no,d,,,,,,\n', encoding="utf-8")
    report = importer.run_import(db, path, apply=False)
    assert report.file_errors and "Row 3 (line 3)" in report.file_errors[0]
    path.write_text(HEADER + '"Unclosed,vcse,,no,no,d\nNext Group,vcse,,no,no,d"\nLast,vcse,,no,no,d\n')
    report = importer.run_import(db, path, apply=True)
    assert [(r.row, "closes only on line 3" in r.errors[0][1]) for r in report.rows if r.errors] == [(2, True)]
    assert db.scalars(select(m.Organisation.name)).all() == ["Last"]


def test_the_funding_import_reports_an_unclosed_quote(db):
    text = "title,funder,deadlines\n" + '"Open call,Some Funder,2027-01-31\n'
    report = funding_importer.run_import(db, text, apply=True, now=dt.datetime.now(dt.UTC))
    assert report.file_errors and report.file_errors[0].startswith("Row 2 (line 2): a quote")
    assert db.scalar(select(func.count()).select_from(m.FundingCall)) == 0
    text = 'title,funder,deadlines\n"Open call,Some Funder,2027-01-31\nSecond,Some Funder,2027-02-01"\n'
    report = funding_importer.run_import(db, text, apply=False, now=dt.datetime.now(dt.UTC))
    assert report.problems and report.problems[0][0] == 2 and "closes only on line 3" in report.problems[0][2]
