"""Checking what people typed: one message per bad field, in plain words, never an exception to the page.

``Form`` wraps submitted values (a web form, or an API body turned into the same shape) with helpers for the usual
field types; services use it too, so it lives below the web layer. ``crm.web.forms`` adds the request bodies.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

from email_validator import EmailNotValidError, validate_email


def normalise_email(value: str) -> str:
    """Lower-case and validate an address without DNS lookups; raises ValueError with a readable message."""
    value = (value or "").strip()
    if not value:
        raise ValueError("Enter an email address.")
    if any(c in value for c in "\r\n"):
        raise ValueError("Enter a single email address.")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"Enter a valid email address ({exc}).") from exc
    return result.normalized.lower()


def split_url(value: str) -> SplitResult | None:
    """``urlsplit`` that never raises: ``http://[bad`` (an unclosed IPv6 bracket) and other addresses it cannot
    read are None, so every caller treats them as a field error instead of a 500."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- reading the port validates it ("http://x:99999" raises here)
    except ValueError:
        return None
    return parts


# UK postcodes: outward code (area letters, district) + inward code (sector digit, two unit letters). The inward
# letters never include C, I, K, M, O or V. GIR 0AA is the one historic exception still in use.
_POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][ABD-HJLNP-UW-Z]{2})")


def normalise_postcode(value: str) -> str:
    """``'sw1a1aa'`` → ``'SW1A 1AA'``; raises ValueError with a readable message for anything else."""
    compact = re.sub(r"\s+", "", value or "").upper()
    if compact == "GIR0AA":
        return "GIR 0AA"
    match = _POSTCODE.fullmatch(compact)
    if not match:
        raise ValueError("Enter a full UK postcode, like SW1A 1AA.")
    return f"{match[1]} {match[2]}"


def postcode_area(postcode: str) -> str:
    """The area letters of a normalised postcode (``'SW1A 1AA'`` → ``'SW'``)."""
    return re.match(r"[A-Z]*", postcode or "")[0]  # type: ignore[index]


# The three UK charity registers. England and Wales (Charity Commission): 6 or 7 digits today (the oldest start at
# 200000, new ones are over 1,000,000; 8 allowed for growth), linked charities add "-1", "-2" ... (one or two
# digits). Scotland (OSCR): SC + 6 digits. Northern Ireland (CCNI): NIC + 6 digits (they start at NIC100002).
_CHARITY = re.compile(r"[0-9]{6,8}(-[0-9]{1,2})?|SC[0-9]{6}|NIC[0-9]{6}")
# Companies House: 8 digits in England and Wales, or 2 letters + 6 digits elsewhere and for other kinds of body
# (SC Scotland, NI Northern Ireland, OC limited liability partnership, FC overseas, CE/CS charitable incorporated
# organisations, IP/SP/RS societies ...); "R0" + 6 digits for old Northern Ireland companies.
_COMPANY = re.compile(r"[0-9]{8}|[A-Z]{2}[0-9]{6}|R0[0-9]{6}")


def normalise_charity_number(value: str) -> str:
    """One spelling per number (spaces removed, upper case) so imports and merges match; raises ValueError."""
    compact = re.sub(r"\s+", "", value or "").upper()
    if not _CHARITY.fullmatch(compact):
        raise ValueError(
            "Enter a registered charity number: 6 or 7 digits in England and Wales (like 1123456, or 1123456-1 "
            "for a linked charity), SC and 6 digits in Scotland (SC012345), NIC and 6 digits in Northern Ireland "
            "(NIC100002)."
        )
    return compact


def normalise_company_number(value: str) -> str:
    """Companies House numbers are 8 characters; a number typed without its leading zeros (``1234567``) is padded
    as Companies House itself does. Raises ValueError."""
    compact = re.sub(r"\s+", "", value or "").upper()
    if compact.isdigit() and len(compact) < 8:
        compact = compact.zfill(8)
    if not _COMPANY.fullmatch(compact):
        raise ValueError(
            "Enter a Companies House number: 8 digits (like 01234567) or 2 letters and 6 digits (SC123456)."
        )
    return compact


def rows_shown(data: dict[str, Any], fields: tuple[str, ...], *, most: int, least: int) -> int:
    """How many rows of a repeated group a form shows (a call's deadlines, a partnership's members): the filled ones
    plus two blank, at least ``least``, at most ``most``. Row ``i`` is filled when any ``<field>_<i>`` has a value."""
    filled = max((i + 1 for i in range(most) if any(data.get(f"{field}_{i}") for field in fields)), default=0)
    return min(most, max(least, filled + 2))


# The largest id an INTEGER key holds (PostgreSQL's int4; SQLite holds more, but the product is the same on both): a
# bigger number names no row, and passed on to a query it overflows the driver, which was a bare 400 page that lost
# everything typed in the form. Whole numbers typed into a form (a capacity, hours) share the bound.
MAX_ID = 2**31 - 1


def record_id(raw: Any) -> int | None:
    """``raw`` (a form field, a filter, a menu's value) as a row id: ASCII digits from 1 to ``MAX_ID``; None for
    empty or anything that cannot be one (a stale or forged choice is then "choose from the list")."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def without_nul(value: Any) -> Any:
    """A submitted value without NUL characters (pasted from a PDF or a spreadsheet): PostgreSQL's text cannot hold
    them, which failed the whole form, and nobody typed one on purpose. Lists are cleaned item by item."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


# Words spelt with a vowel but said with a consonant ("a user", "a one-off") and the reverse ("an hour").
_CONSONANT_SOUND = ("uni", "use", "usu", "uti", "eu", "one", "once")
_SILENT_H = ("hour", "honest", "honour", "heir")


def with_article(noun: str) -> str:
    """``noun`` after "a" or "an" as it is said: the one place a message names "a kind" or "an owner" (a required
    choice read "Choose a owner.")."""
    word = noun.strip().lower()
    vowel_sound = word[:1] in set("aeiou") and not word.startswith(_CONSONANT_SOUND)
    return f"{'an' if vowel_sound or word.startswith(_SILENT_H) else 'a'} {noun}"


class Form:
    def __init__(self, data: dict[str, Any] | None) -> None:
        self.data = {k: without_nul(v) for k, v in data.items()} if data else {}
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def getlist(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None:
            return []
        values = value if isinstance(value, list) else [value]
        return [str(v) for v in values if str(v).strip() != ""]

    def str(self, name: str, *, required: bool = False, max_length: int = 1000, label: str = "") -> str:
        raw = self.data.get(name, "")
        if isinstance(raw, list):
            raw = raw[-1] if raw else ""
        value = str(raw).replace("\r\n", "\n").strip()
        label = label or name.replace("_", " ").capitalize()
        if required and not value:
            self.add_error(name, f"{label} is required.")
        elif len(value) > max_length:
            self.add_error(name, f"{label} must be at most {max_length} characters (it has {len(value)}).")
        return value

    def line(self, name: str, **kwargs: Any) -> str:
        """A single-line value: newlines are refused (they enable header injection in emails)."""
        value = self.str(name, **kwargs)
        if "\n" in value or "\r" in value:
            self.add_error(name, "Use a single line.")
        return value

    def email(self, name: str, *, required: bool = True) -> str:
        raw = self.str(name, max_length=320)
        if not raw and not required:
            return ""
        try:
            return normalise_email(raw)
        except ValueError as exc:
            self.add_error(name, str(exc))
            return raw

    def checked(self, name: str, check: Any, *, max_length: int, label: str) -> str:
        """A single-line value passed through ``check`` (a ``normalise_*`` function above); its message on failure.
        An empty value is allowed and stays empty."""
        value = self.line(name, max_length=max_length, label=label)
        if not value or name in self.errors:
            return value
        try:
            return str(check(value))
        except ValueError as exc:
            self.add_error(name, str(exc))
            return value

    def bool(self, name: str) -> bool:
        return str(self.data.get(name, "")).lower() in {"1", "on", "true", "yes"}

    def _given(self, name: str, required: bool, label: str) -> str:
        """The field's text; "<label> is required." when it is empty but must not be."""
        raw = self.str(name)
        if not raw and required:
            self.add_error(name, f"{label} is required.")
        return raw

    def int(
        self, name: str, *, required: bool = False, minimum: int | None = None, maximum: int = MAX_ID, label: str = ""
    ) -> int | None:
        """A whole number; above ``maximum`` (by default what an integer column holds) it is a message and None, so
        no caller passes on a number the database would refuse."""
        label = label or name.replace("_", " ").capitalize()
        if not (raw := self._given(name, required, label)):
            return None
        try:
            value = int(raw)
        except ValueError:
            self.add_error(name, f"{label} must be a whole number.")
            return None
        if minimum is not None and value < minimum:
            self.add_error(name, f"{label} must be at least {minimum}.")
        if value > maximum:
            self.add_error(name, f"{label} must be at most {maximum:,}.")
            return None
        return value

    def ids(self, name: str, *, message: str = "Choose from the list.") -> list[int]:
        """The row ids a group of tick boxes or a multiple menu sent, in order, once each; ``message`` for any value
        that cannot be an id (``record_id``), which is left out."""
        out: list[int] = []
        for raw in self.getlist(name):
            value = record_id(raw)
            if value is None:
                self.add_error(name, message)
            elif value not in out:
                out.append(value)
        return out

    def choice(self, name: str, choices: set[str] | list[str], *, required: bool = False, label: str = "") -> str:
        value = self.str(name)
        label = label or name.replace("_", " ").capitalize()
        if not value:
            if required:
                self.add_error(name, f"Choose {with_article(label.lower())}.")
            return ""
        if value not in choices:
            self.add_error(name, f"Choose a valid {label.lower()}.")
        return value

    def date(self, name: str, *, required: bool = False, label: str = "") -> dt.date | None:
        label = label or name.replace("_", " ").capitalize()
        if not (raw := self._given(name, required, label)):
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            self.add_error(name, f"{label} must be a date like 2026-12-31.")
            return None
