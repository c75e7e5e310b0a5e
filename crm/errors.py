"""Errors services raise when the caller asked for something missing or not theirs.

Services know nothing of HTTP; the web layer (``crm.web.errors``) answers these as 404 and 403 pages or problem
JSON, exactly as it answers Litestar's own ``NotFoundException`` and ``PermissionDeniedException``.
"""

from __future__ import annotations


class NotFound(LookupError):
    """The record does not exist, or the caller may not know that it does."""

    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(detail)
        self.detail = detail


class Forbidden(PermissionError):
    """The caller is known but may not do this."""

    def __init__(self, detail: str = "You do not have permission to do this.") -> None:
        super().__init__(detail)
        self.detail = detail


class FieldErrors(ValueError):
    """Bad input a rule refused: ``errors`` maps a field name to a message people can act on.

    The web layer puts each message beside its field (``crm.web.pages.attempt``); the API answers 422 with them.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
