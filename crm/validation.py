"""Checking what people typed: one message per bad field, in plain words, never an exception to the page.

``Form`` wraps submitted values (a web form, or an API body turned into the same shape) with helpers for the usual
field types; services use it too, so it lives below the web layer. ``crm.web.forms`` adds the request bodies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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


def rows_shown(data: dict[str, Any], fields: tuple[str, ...], *, most: int, least: int) -> int:
    """How many rows of a repeated group a form shows (a call's deadlines, a partnership's members): the filled ones
    plus two blank, at least ``least``, at most ``most``. Row ``i`` is filled when any ``<field>_<i>`` has a value."""
    filled = max((i + 1 for i in range(most) if any(data.get(f"{field}_{i}") for field in fields)), default=0)
    return min(most, max(least, filled + 2))


class Form:
    def __init__(self, data: dict[str, Any] | None) -> None:
        self.data = data or {}
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

    def bool(self, name: str) -> bool:
        return str(self.data.get(name, "")).lower() in {"1", "on", "true", "yes"}

    def _given(self, name: str, required: bool, label: str) -> str:
        """The field's text; "<label> is required." when it is empty but must not be."""
        raw = self.str(name)
        if not raw and required:
            self.add_error(name, f"{label} is required.")
        return raw

    def int(self, name: str, *, required: bool = False, minimum: int | None = None, label: str = "") -> int | None:
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
        return value

    def choice(self, name: str, choices: set[str] | list[str], *, required: bool = False, label: str = "") -> str:
        value = self.str(name)
        label = label or name.replace("_", " ").capitalize()
        if not value:
            if required:
                self.add_error(name, f"Choose a {label.lower()}.")
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
