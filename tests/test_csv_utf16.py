"""UTF-16 files (a BOM FF FE or FE FF) are read as UTF-16, not as Windows-1252 with a garbled "Missing column"
header; Excel's "Unicode text" (UTF-16 and tab-separated) is refused in plain words, as any tab-separated file is,
saying to save it as "CSV UTF-8"."""

from __future__ import annotations

import codecs
import datetime as dt

from crm import csvimport
from crm.directory import importer
from crm.funding import importer as funding_importer

CSV = "organisation_name,description\nZoë's Café,£5 “quoted”\n"
TABS = "organisation_name\tdescription\nZoë's Café\t£5\n"


def test_utf16_files_are_sniffed_and_read_as_utf16(tmp_path):
    for bom, codec, name in (
        (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
    ):
        path = tmp_path / f"{codec}.csv"
        path.write_bytes(bom + CSV.encode(codec))
        encoding, problem = csvimport.sniff(path)
        assert (encoding.name, problem) == (f"{name} with BOM", ""), codec
        seen: list[int] = []
        with csvimport.open_text(path, encoding, seen.append) as text:
            assert text.read() == CSV, codec
        assert sum(seen) == path.stat().st_size
        decoded = csvimport.decode(bom + CSV.encode(codec))
        assert (decoded.text, decoded.encoding.name, decoded.error) == (CSV, f"{name} with BOM", ""), codec
    broken = tmp_path / "broken.csv"
    broken.write_bytes(codecs.BOM_UTF16_LE + "name\n".encode("utf-16-le") + b"\x00\xd8a\x00")  # a lone surrogate
    encoding, problem = csvimport.sniff(broken)
    assert encoding is None and "UTF-16" in problem and "CSV UTF-8" in problem
    assert "UTF-16" in csvimport.decode(broken.read_bytes()).error


def test_the_directory_import_reads_a_utf16_csv(db, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + CSV.encode("utf-16-le"))
    report = importer.run_import(db, path, apply=False)
    assert report.file_errors == [] and report.problems == [] and report.orgs_new == 1
    assert report.rows[0].organisation == "Zoë's Café" and report.encoding.name == "UTF-16 LE with BOM"


def test_excels_unicode_text_is_refused_saying_to_save_as_csv_utf8(db, tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + TABS.encode("utf-16-le"))
    report = importer.run_import(db, path, apply=False)
    assert len(report.file_errors) == 1 and "tab-separated" in report.file_errors[0]
    assert "CSV UTF-8" in report.file_errors[0] and "Missing" not in report.file_errors[0]
    decoded = funding_importer.decode(codecs.BOM_UTF16_LE + "title\tfunder\tdeadlines\n".encode("utf-16-le"))
    report = funding_importer.run_import(db, decoded.text, apply=False, now=dt.datetime.now(dt.UTC))
    assert len(report.file_errors) == 1 and "tab-separated" in report.file_errors[0]


def test_an_encoding_survives_its_name_from_the_preview_to_the_confirm() -> None:
    for codec in csvimport.CODEC_NAMES:
        for bom in (False, True):
            encoding = csvimport.Encoding(codec, bom)
            assert csvimport.Encoding.from_name(encoding.name) == encoding
    assert csvimport.Encoding.from_name("EBCDIC") == csvimport.Encoding("utf-8", False)
