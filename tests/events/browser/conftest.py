"""Reuse the shared browser harness (live server, Chromium, pages, artifacts, skip rules) for the events journey."""

from tests.browser.conftest import *  # noqa: F403
