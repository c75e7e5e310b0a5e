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
