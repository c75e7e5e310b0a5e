"""The CSV import core under the directory and funding importers, so both read files, number rows and report alike.

What an importer shares: reading (UTF-8 with or without the BOM Excel writes, streamed from a file with progress, or
decoded from an upload), header names as keys, data rows numbered as spreadsheets number them (the header is row 1;
blank rows are skipped but counted), a ``RowResult`` per row, the ``Report`` (file errors, notes, every bad row with
its number, column and message, the rows to show in a preview), yes/no values, and batches. Each importer keeps its
columns, its checks and its writes.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TextIO, TypeVar

from crm.db import insert_ignore  # noqa: F401  (the importers' batches insert link rows with it)

T = TypeVar("T")
TRUE = frozenset({"yes", "y", "true", "1"})
FALSE = frozenset({"no", "n", "false", "0", ""})
MAX_PROBLEMS = 10_000


def yes_no(value: str | None) -> bool | None:
    """True for yes/y/true/1, False for no/n/false/0 or blank (any case); None when it is neither."""
    value = (value or "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    return None


def header_key(name: str) -> str:
    """A header cell as a column key: "Contact name" and "contact-name" are ``contact_name``."""
    return name.strip().lower().replace(" ", "_").replace("-", "_")


# ---------------------------------------------------------------------------------------------------------
# Reading


def decode(raw: bytes) -> str:
    """An uploaded file's text: UTF-8 (with or without a BOM, as Excel writes it), falling back to Windows-1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def check_utf8(path: Path) -> str | None:
    """Read the whole file once in 1 MB blocks; an error message if it is not UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line += block[: exc.start].count(b"\n")
                return (
                    f"The file is not UTF-8 text (first bad byte on line {line}). Save it as "
                    "'CSV UTF-8' and upload it again."
                )
            line += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "The file is not UTF-8 text (it ends in the middle of a character)."
    return None


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: Any, progress: Callable[[int], None] | None) -> None:
        self.raw, self.progress = raw, progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        if self.progress and data:
            self.progress(len(data))
        return len(data)


@contextlib.contextmanager
def open_utf8(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[TextIO]:
    """A UTF-8 file (``check_utf8`` first) as a text stream for ``CsvRows``, read in blocks so memory does not grow
    with the file; a BOM is dropped; ``progress(n)`` is told of every ``n`` bytes read."""
    with open(path, "rb") as raw:
        yield io.TextIOWrapper(io.BufferedReader(_CountingReader(raw, progress)), encoding="utf-8-sig", newline="")


class CsvRows:
    """A CSV text stream read record by record: ``read_header()``, then ``rows()``. A file or row the ``csv`` module
    cannot read becomes a file error in the report (and ends the rows)."""

    def __init__(self, stream: Iterable[str], report: Report) -> None:
        self._reader = csv.reader(stream)
        self.report = report
        self.header: list[str] = []  # as written
        self.columns: list[str] = []  # as keys (``header_key``)

    def read_header(self) -> bool:
        """Read the header row; False (with a file error) when the file is empty or unreadable."""
        try:
            self.header = next(self._reader)
        except StopIteration:
            self.report.file_errors.append("The file is empty.")
            return False
        except csv.Error as exc:
            self.report.file_errors.append(f"The file is not a readable CSV file ({exc}).")
            return False
        self.columns = [header_key(h) for h in self.header]
        return True

    def duplicates(self) -> list[str]:
        """Column keys that appear more than once."""
        return sorted({c for c in self.columns if c and self.columns.count(c) > 1})

    def too_many_values(self, values: list[str]) -> str:
        """An error message when a row has more (non-blank) values than the header has columns, else ""."""
        if len(values) > len(self.columns) and any(v.strip() for v in values[len(self.columns) :]):
            return f"The row has {len(values)} values but the header has {len(self.columns)}."
        return ""

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Data rows with their row number in the file (the header is row 1), skipping blank rows."""
        number = 1
        while True:
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                self.report.file_errors.append(f"Row {number}: the CSV is malformed ({exc}).")
                return
            number += 1
            if not any(v.strip() for v in values):
                continue
            yield number, values


# ---------------------------------------------------------------------------------------------------------
# Row results and the report


@dataclasses.dataclass(slots=True)
class RowResult:
    """What one row does or why it cannot; importers subclass it with what their preview shows."""

    row: int  # the row number in the file, the header being row 1 (as spreadsheets number them)
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (column, message); "" = whole row
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class Report:
    """An import's outcome; importers subclass it with their counts and summary."""

    SHOWN_ROWS: ClassVar[int] = 1000  # row results kept for the preview (counts and problems cover every row)
    KEPT_PROBLEMS: ClassVar[int] = MAX_PROBLEMS  # problems listed (the counts cover every row)

    file_errors: list[str] = dataclasses.field(default_factory=list)  # the file cannot be imported at all
    notes: list[str] = dataclasses.field(default_factory=list)
    rows: list[Any] = dataclasses.field(default_factory=list)  # the first SHOWN_ROWS row results
    problems: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)  # (row, column, message), capped
    total_rows: int = 0
    error_rows: int = 0
    applied: bool = False

    def add(self, result: RowResult) -> None:
        """Count a row once its outcome is known."""
        self.total_rows += 1
        if result.errors:
            self.error_rows += 1
            for column, message in result.errors:
                if len(self.problems) < self.KEPT_PROBLEMS:
                    self.problems.append((result.row, column, message))
        if len(self.rows) < self.SHOWN_ROWS:
            self.rows.append(result)


# ---------------------------------------------------------------------------------------------------------
# Batches


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, drawn lazily (a 50,000-row file is never held at once)."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
