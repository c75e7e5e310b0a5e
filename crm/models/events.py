"""Models of the events domain (its issue fills this in). Export every model name in ``__all__``."""

from __future__ import annotations

__all__: list[str] = []
