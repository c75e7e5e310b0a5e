"""The directory's refusal: one exception whose message is for people, shared by every directory service."""

from __future__ import annotations


class DirectoryError(ValueError):
    """A rule refused the change; the message is for people."""
