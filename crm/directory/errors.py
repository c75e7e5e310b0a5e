"""The directory's refusals: one exception whose message is for people, shared by every directory service, and its
field-by-field form that the web layer puts beside the field it is about."""

from __future__ import annotations

from crm.errors import FieldErrors


class DirectoryError(ValueError):
    """A rule refused the change; the message is for people."""


class DirectoryFieldErrors(DirectoryError, FieldErrors):
    """A rule refused a field's value: ``errors`` maps the field to the message (still a ``DirectoryError``)."""
