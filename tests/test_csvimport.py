"""The CSV import core both importers stand on: yes/no, header keys, row numbers, the report, batches, decoding."""

from __future__ import annotations

import io

from crm import csvimport


def test_yes_no_and_header_keys():
    assert [csvimport.yes_no(v) for v in ("Yes", " y ", "TRUE", "1")] == [True] * 4
    assert [csvimport.yes_no(v) for v in ("no", "N", "false", "0", "", None)] == [False] * 6
    assert csvimport.yes_no("maybe") is None
    assert [csvimport.header_key(h) for h in (" Contact Name ", "contact-email", "TOPICS")] == [
        "contact_name",
        "contact_email",
        "topics",
    ]


def test_rows_are_numbered_as_spreadsheets_number_them():
    report = csvimport.Report()
    reader = csvimport.CsvRows(io.StringIO('Name,Kind\r\nA,x\r\n\r\n,\r\n"B\nstill B",y\r\nC,z,extra\r\n'), report)
    assert reader.read_header() and reader.columns == ["name", "kind"]
    rows = list(reader.rows())
    assert [n for n, _ in rows] == [2, 5, 6]  # blank rows 3 and 4 are skipped but counted
    assert rows[1][1] == ["B\nstill B", "y"]
    assert reader.too_many_values(rows[2][1]) == "The row has 3 values but the header has 2."
    assert reader.too_many_values(["A", "x", " "]) == ""
    assert report.file_errors == []


def test_unreadable_and_empty_files_are_file_errors():
    report = csvimport.Report()
    assert not csvimport.CsvRows(io.StringIO(""), report).read_header()
    assert report.file_errors == ["The file is empty."]
    report = csvimport.Report()
    reader = csvimport.CsvRows(io.StringIO("a,a,b\n1," + "2" * 200_000 + ",3\n"), report)  # over the field limit
    assert reader.read_header() and reader.duplicates() == ["a"]
    assert list(reader.rows()) == [] and report.file_errors[0].startswith("Row 2: the CSV is malformed")


def test_report_counts_every_row_and_keeps_every_problem():
    report = csvimport.Report()
    for n in range(2, 7):
        result = csvimport.RowResult(row=n)
        if n % 2:
            result.errors += [("kind", "bad"), ("", "whole row")]
        report.add(result)
    assert (report.total_rows, report.error_rows) == (5, 2)
    assert report.problems == [(3, "kind", "bad"), (3, "", "whole row"), (5, "kind", "bad"), (5, "", "whole row")]
    assert [r.row for r in report.rows] == [2, 3, 4, 5, 6]


def test_batches_and_decoding():
    assert list(csvimport.batches(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(csvimport.batches([], 3)) == []
    assert csvimport.decode("\ufeffname\nCafé".encode()) == "name\nCafé"
    assert csvimport.decode("name\nCaf\xe9".encode("cp1252")) == "name\nCafé"
