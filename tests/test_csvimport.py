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


def test_decoding_tries_utf8_strictly_then_windows_1252_then_refuses():
    utf8 = csvimport.decode("\ufeffname\nCafé £5".encode())
    assert (utf8.text, utf8.encoding.name, utf8.encoding.note, utf8.error) == (
        "name\nCafé £5",
        "UTF-8 with BOM",
        "",
        "",
    )
    excel = csvimport.decode("name\nCafé £5 – “quoted”".encode("cp1252"))
    assert excel.text == "name\nCafé £5 – “quoted”" and excel.encoding.name == "Windows-1252"
    assert excel.encoding.note == "This file was saved in Windows-1252 (Excel); we read it as such."
    with_bom = csvimport.decode(b"\xef\xbb\xbf" + "Café".encode("cp1252"))
    assert with_bom.text == "Café" and with_bom.encoding.name == "Windows-1252 with BOM"
    neither = csvimport.decode(b"a\nb\x81c")
    assert neither.text == "" and "neither UTF-8 nor Windows-1252 text (byte 0x81 on line 2" in neither.error


def test_sniffing_a_file_and_reading_it_as_sniffed(tmp_path):
    cases = {
        "utf8.csv": ("name\nZoë £1\n".encode(), "UTF-8"),
        "utf8bom.csv": (b"\xef\xbb\xbf" + "name\nZoë £1\n".encode(), "UTF-8 with BOM"),
        "excel.csv": ("name\nZoë £1\n".encode("cp1252"), "Windows-1252"),
        "excelbom.csv": (b"\xef\xbb\xbf" + "name\nZoë £1\n".encode("cp1252"), "Windows-1252 with BOM"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        encoding, problem = csvimport.sniff(path)
        assert (encoding.name, problem) == (expected, ""), name
        seen: list[int] = []
        with csvimport.open_text(path, encoding, seen.append) as text:
            assert text.read() == "name\nZoë £1\n", name
        assert sum(seen) == len(content)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"name\nok\n\x9d\n")
    assert csvimport.sniff(bad) == (None, csvimport.NOT_TEXT.format(byte=0x9D, line=3))


def test_plan_changes_fills_empty_fields_and_replaces_only_chosen_columns():
    fields = [
        csvimport.Field("description", "description", "Description"),
        csvimport.Field("website", "website", "Website"),
        csvimport.Field("user_led", "user_led", "User-led"),
        csvimport.Field("kind", "kind", "Kind"),
    ]
    existing = {"description": "Old words.", "website": "", "user_led": True, "kind": "vcse"}
    incoming = {"description": "New words.", "website": "https://x.example.org", "user_led": False, "kind": None}
    changes = csvimport.plan_changes("Mind", fields, existing, incoming, replace=())
    assert [(c.field, c.old, c.new, c.applied, c.how) for c in changes] == [
        ("description", "Old words.", "New words.", False, "kept"),
        ("website", "", "https://x.example.org", True, "filled"),
        ("user_led", True, False, False, "kept"),  # a "no" in the file does not undo a "yes" unless chosen
    ]  # a blank cell (kind None) never changes anything
    replaced = csvimport.plan_changes("Mind", fields, existing, incoming, replace={"description"})
    c = replaced[0]
    assert (c.field, c.applied, c.how, c.old_text, c.new_text) == (
        "description", True, "replaced", "Old words.", "New words.",
    )  # fmt: skip
    report = csvimport.Report()
    report.add(csvimport.RowResult(row=2, changes=changes))
    report.add(csvimport.RowResult(row=3, changes=replaced))
    assert report.conflicts == {"description": 1, "user_led": 2} and report.replaced == {"description": 1}
