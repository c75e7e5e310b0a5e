"""The CSV import core under the directory and funding importers, so both read files, number rows, plan changes
and report alike.

What an importer shares: reading (UTF-8 checked strictly first, then Windows-1252 as Excel writes "CSV (Comma
delimited)" on UK machines, with or without a BOM; UTF-16 when the file starts with its BOM, as Excel's "Unicode"
files do; never a guess with replacement characters; streamed from a file with progress, or decoded from an upload),
commas only (a tab-separated file is refused saying to save it as "CSV UTF-8"), quotes read strictly (a quote left
open is a file error with its row, never the rest of the file taken as one value), the exports' formula guard undone
(``unescape``), header names as keys, data rows numbered as spreadsheets number them
(the header is row 1; blank rows are skipped but counted), a ``RowResult`` per row, the old → new plan of a matched
record (``plan_changes``: fill empty fields only unless the column is chosen to replace), the ``Report`` (file
errors, notes, every bad row with its number, column and message, the rows to show in a preview, the columns whose
values are kept or replaced), yes/no values, and batches. Each importer keeps its columns, its checks and its writes.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import enum
import io
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
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


BOM = codecs.BOM_UTF8
UTF16_BOMS = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}  # FF FE, FE FF
CODEC_NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE"}
CP1252_NOTE = "This file was saved in Windows-1252 (Excel); we read it as such."
NOT_TEXT = (
    "The file is neither UTF-8 nor Windows-1252 text (byte 0x{byte:02X} on line {line} means nothing in either). "
    "Save it as 'CSV UTF-8' and upload it again."
)
NOT_UTF16 = (
    'The file starts as UTF-16 text (Excel\'s "Unicode") but is not valid UTF-16 (at byte {offset}). '
    "Save it as 'CSV UTF-8' and upload it again."
)
TAB_SEPARATED = (
    'The file is tab-separated (as Excel\'s "Unicode Text" and "Text (Tab delimited)" are), and the import '
    "reads comma-separated files. In Excel choose Save As, 'CSV UTF-8 (Comma delimited)', and upload that file."
)
# The exports' formula guard (crm.directory.export.safe_cell and the other CSV exports): a cell a spreadsheet would
# run as a formula gets an apostrophe in front. The reader takes off exactly that apostrophe and nothing else.
ESCAPED = frozenset({"=", "+", "-", "@", "\t", "\r"})


def unescape(value: str) -> str:
    """A cell as it was before an export's formula guard: "'+44 20…" is "+44 20…", "'-text" is "-text". Only an
    apostrophe followed by one of the guarded characters is taken off, so an export re-imported changes nothing;
    any other apostrophe ("'quoted", a lone "'") is the file's own and stays. (A spreadsheet keeps a typed leading
    apostrophe out of the CSV it saves, so "'-" in a file is the guard's.)"""
    return value[1:] if value[:1] == "'" and value[1:2] in ESCAPED else value


@dataclasses.dataclass(frozen=True, slots=True)
class Encoding:
    """How a file's bytes are read: ``codec`` ("utf-8", "cp1252", "utf-16-le" or "utf-16-be"), whether it starts
    with a BOM (dropped: UTF-8's three bytes, or UTF-16's two, which is how UTF-16 is told), and the note the preview
    shows when it is Windows-1252."""

    codec: str = "utf-8"
    bom: bool = False

    @property
    def note(self) -> str:
        return CP1252_NOTE if self.codec == "cp1252" else ""

    @property
    def name(self) -> str:
        return CODEC_NAMES.get(self.codec, self.codec) + (" with BOM" if self.bom else "")

    @property
    def bom_length(self) -> int:
        return (2 if self.codec.startswith("utf-16") else 3) if self.bom else 0

    @classmethod
    def from_name(cls, name: str) -> Encoding:
        """The encoding ``name`` describes (a form carries it from the preview to the confirm); UTF-8 for a name we
        never gave."""
        bom = name.endswith(" with BOM")
        base = name.removesuffix(" with BOM")
        codec = next((codec for codec, shown in CODEC_NAMES.items() if shown == base), "utf-8")
        return cls(codec, bom)


def _utf16(start: bytes) -> str:
    """The UTF-16 codec a file's first bytes name by their BOM, else ""."""
    return next((codec for bom, codec in UTF16_BOMS.items() if start.startswith(bom)), "")


def _bad_byte(path: Path, skip: int, codec: str) -> int | None:
    """The offset of the first byte ``codec`` cannot read (None: the whole file reads), in 1 MB blocks."""
    decoder = codecs.getincrementaldecoder(codec)()
    offset = skip
    with open(path, "rb") as fh:
        fh.read(skip)
        try:
            while block := fh.read(1 << 20):
                decoder.decode(block)
                offset += len(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset + exc.start
    return None


def sniff(path: Path) -> tuple[Encoding | None, str]:
    """The file's encoding, honestly: UTF-8 checked strictly over the whole file first (a BOM is allowed), then
    Windows-1252, which Excel's "CSV (Comma delimited)" writes on UK machines, also checked strictly (its five unused
    bytes refuse the file). (None, the reason) when it is neither; the whole file is read once or twice in 1 MB
    blocks, so memory does not grow with it. A file starting with a UTF-16 BOM (Excel's "Unicode" files) is UTF-16,
    checked as strictly."""
    with open(path, "rb") as fh:
        start = fh.read(3)
    if utf16 := _utf16(start):
        offset = _bad_byte(path, 2, utf16)
        return (Encoding(utf16, True), "") if offset is None else (None, NOT_UTF16.format(offset=offset))
    bom = start == BOM
    if _bad_byte(path, 3 if bom else 0, "utf-8") is None:
        return Encoding("utf-8", bom), ""
    line = 1
    with open(path, "rb") as fh:
        fh.read(3 if bom else 0)
        while block := fh.read(1 << 20):
            try:
                block.decode("cp1252")
            except UnicodeDecodeError as exc:
                line += block[: exc.start].count(b"\n")
                return None, NOT_TEXT.format(byte=block[exc.start], line=line)
            line += block.count(b"\n")
    return Encoding("cp1252", bom), ""


@dataclasses.dataclass(frozen=True, slots=True)
class Decoded:
    """An upload's text with how it was read; ``error`` says why it could not be (``text`` is then "")."""

    text: str
    encoding: Encoding
    error: str = ""


def decode(raw: bytes) -> Decoded:
    """An uploaded file's text, read as ``sniff`` reads a file: UTF-16 when it starts with its BOM, else UTF-8
    strictly (BOM dropped), else Windows-1252 strictly, else an error saying so (never a guess with replacement
    characters)."""
    if utf16 := _utf16(raw):
        try:
            return Decoded(raw[2:].decode(utf16), Encoding(utf16, True))
        except UnicodeDecodeError as exc:
            return Decoded("", Encoding(utf16, True), NOT_UTF16.format(offset=2 + exc.start))
    bom = raw.startswith(BOM)
    body = raw[3:] if bom else raw
    try:
        return Decoded(body.decode("utf-8"), Encoding("utf-8", bom))
    except UnicodeDecodeError:
        pass
    try:
        return Decoded(body.decode("cp1252"), Encoding("cp1252", bom))
    except UnicodeDecodeError as exc:
        line = 1 + body[: exc.start].count(b"\n")
        return Decoded("", Encoding("cp1252", bom), NOT_TEXT.format(byte=body[exc.start], line=line))


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
def open_text(
    path: Path, encoding: Encoding | None = None, progress: Callable[[int], None] | None = None
) -> Iterator[TextIO]:
    """A file (``sniff`` it first) as a text stream for ``CsvRows``, read in blocks so memory does not grow with the
    file; a BOM is dropped; ``progress(n)`` is told of every ``n`` bytes read."""
    encoding = encoding or Encoding()
    with open(path, "rb") as raw:
        if encoding.bom:
            raw.read(encoding.bom_length)
            if progress:
                progress(encoding.bom_length)
        yield io.TextIOWrapper(io.BufferedReader(_CountingReader(raw, progress)), encoding=encoding.codec, newline="")


class CsvRows:
    """A CSV text stream read record by record: ``read_header()``, then ``rows()``. A file or row the ``csv`` module
    cannot read becomes a file error in the report (and ends the rows). Quotes are read strictly: without it a quote
    left open took the rest of the file as one value, and an organisation named "Unclosed,vcse,,no,no,d,,,,,," was
    created without a word. Every value has the exports' formula guard undone (``unescape``)."""

    def __init__(self, stream: Iterable[str], report: Report) -> None:
        self._reader = csv.reader(stream, strict=True)
        self.report = report
        self.header: list[str] = []  # as written
        self.columns: list[str] = []  # as keys (``header_key``)
        self._lines = (1, 1)  # the lines of the file the last row was read from (a quoted value may span several)

    def _malformed(self, row: int, line: int, exc: csv.Error) -> str:
        """A row the csv module refused, in plain words with its row (as spreadsheets number them) and its line."""
        where = f"Row {row} (line {line})"
        if "unexpected end of data" in str(exc):
            return (
                f'{where}: a quote (") opened in this row is never closed, so the rest of the file would be read as '
                "one value. Nothing can be imported until it is fixed: close the quote where the value ends (a quote "
                'inside a quoted value is written twice, "") and upload the file again.'
            )
        if "expected after" in str(exc):
            return (
                f"{where}: the quotes in this row do not pair up (text follows a closing quote on line "
                f"{self._reader.line_num}). Nothing can be imported until it is fixed: quote the whole value and "
                'write a quote inside it twice (""), then upload the file again.'
            )
        return f"Row {row}: the CSV is malformed ({exc})."

    def read_header(self) -> bool:
        """Read the header row; False (with a file error) when the file is empty, unreadable or tab-separated."""
        try:
            self.header = next(self._reader)
        except StopIteration:
            self.report.file_errors.append("The file is empty.")
            return False
        except csv.Error as exc:
            self.report.file_errors.append(self._malformed(1, 1, exc))
            return False
        if len(self.header) == 1 and "\t" in self.header[0]:
            self.report.file_errors.append(TAB_SEPARATED)
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

    def unclosed_quote(self, values: list[str]) -> str:
        """An error message for the last row read when a quote opened in it seems to close only at the end of a later
        line, else "". The csv module cannot tell that from a value written over several lines; the sign is a row
        short of values with a value that spans lines and holds commas (the swallowed rows)."""
        if len(values) < len(self.columns) and any(("\n" in v or "\r" in v) and "," in v for v in values):
            return (
                f'A quote (") opened in this row closes only on line {self._lines[1]}, so lines {self._lines[0]} to '
                f"{self._lines[1]} were read as one value and the rows among them are not imported. Close the quote "
                "where the value ends and import the file again."
            )
        return ""

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Data rows with their row number in the file (the header is row 1), skipping blank rows; each value with
        the exports' formula guard undone."""
        number = 1
        while True:
            line = self._reader.line_num + 1
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.report.file_errors.append(self._malformed(number + 1, line, exc))
                return
            number += 1
            if not any(v.strip() for v in values):
                continue
            self._lines = (line, self._reader.line_num)
            yield number, [unescape(v) for v in values]


# ---------------------------------------------------------------------------------------------------------
# Row results and the report


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """A field an import may change in a record it matched: the model's ``name``, the CSV ``column`` that fills it
    (what "replace" names) and its ``label`` as people read it."""

    name: str
    column: str
    label: str


@dataclasses.dataclass(slots=True)
class FieldChange:
    """A field of a matched record whose value in the file differs. ``applied``: it will be written (the record's
    field was empty, or the person chose to replace this column); otherwise the record keeps its value and the
    preview shows what the file had."""

    record: str
    field: str
    column: str
    label: str
    old: Any  # plain JSON values, stored in the batch so an undo can put ``old`` back
    new: Any
    old_text: str
    new_text: str
    applied: bool

    @property
    def how(self) -> str:
        """In words: "filled" (was empty), "added" (to a list), "replaced" (chosen) or "kept" (the record's value)."""
        if not self.applied:
            return "kept"
        if isinstance(self.old, list) and isinstance(self.new, list) and set(self.old) <= set(self.new):
            return "added"
        return "filled" if is_empty(self.old) else "replaced"


def plain(value: Any) -> Any:
    """A value as JSON keeps it (enums by value, anything unusual as text)."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def is_empty(value: Any) -> bool:
    """Empty for "fill empty fields only": nothing, blank text, an empty list, or a yes/no still at its default "no"."""
    return value is None or value is False or value == "" or value == []


def show(value: Any, limit: int = 300) -> str:
    """A value as the preview shows it."""
    if is_empty(value) and value is not False:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "(empty)"
    text = str(plain(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plan_changes(
    record: str,
    fields: Iterable[Field],
    existing: Mapping[str, Any],
    incoming: Mapping[str, Any],
    replace: Collection[str],
    text: Callable[[str, Any], str] | None = None,
) -> list[FieldChange]:
    """Every field of a matched record the file would change, old → new. A blank cell (None or "") never blanks a
    field; a field with a value keeps it unless its column is in ``replace``. ``text(field, value)`` words a value
    (region ids as names…); by default ``show``."""
    word = text or (lambda _field, value: show(value))
    out = []
    for f in fields:
        new = incoming.get(f.name)
        if new is None or new == "":
            continue
        old = plain(existing.get(f.name))
        new = plain(new)
        if old == new:
            continue
        applied = is_empty(old) or f.column in replace
        out.append(
            FieldChange(record, f.name, f.column, f.label, old, new, word(f.name, old), word(f.name, new), applied)
        )
    return out


@dataclasses.dataclass(slots=True)
class RowResult:
    """What one row does or why it cannot; importers subclass it with what their preview shows."""

    row: int  # the row number in the file, the header being row 1 (as spreadsheets number them)
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (column, message); "" = whole row
    notes: list[str] = dataclasses.field(default_factory=list)
    changes: list[FieldChange] = dataclasses.field(default_factory=list)  # of the records it matched


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
    encoding: Encoding = Encoding()
    conflicts: dict[str, int] = dataclasses.field(default_factory=dict)  # column -> records keeping their value
    replaced: dict[str, int] = dataclasses.field(default_factory=dict)  # column -> records it overwrites
    batch_id: int | None = None  # the batch written (``applied``)

    def add(self, result: RowResult) -> None:
        """Count a row once its outcome is known."""
        self.total_rows += 1
        if result.errors:
            self.error_rows += 1
            for column, message in result.errors:
                if len(self.problems) < self.KEPT_PROBLEMS:
                    self.problems.append((result.row, column, message))
        else:
            for change in result.changes:
                if not change.applied:
                    self.conflicts[change.column] = self.conflicts.get(change.column, 0) + 1
                elif not is_empty(change.old):
                    self.replaced[change.column] = self.replaced.get(change.column, 0) + 1
        if len(self.rows) < self.SHOWN_ROWS:
            self.rows.append(result)

    def read_as(self, encoding: Encoding) -> None:
        """Remember how the file was read, with the note people see when it was not UTF-8."""
        self.encoding = encoding
        if encoding.note:
            self.notes.insert(0, encoding.note)


# ---------------------------------------------------------------------------------------------------------
# Batches


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, drawn lazily (a 50,000-row file is never held at once)."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
