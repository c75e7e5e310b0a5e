"""Keyboard-only helpers for journeys: no mouse, the way a keyboard or switch user moves through a page."""

from __future__ import annotations

from typing import Any

import pytest


def tab_to(page: Any, selector: str, limit: int = 120) -> None:
    """Press Tab until the element matching ``selector`` has focus (fails if Tab never reaches it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"Tab never reaches {selector} on {page.url}")
