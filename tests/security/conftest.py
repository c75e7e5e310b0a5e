"""Clients signed in as each role (session cookie for HTML, API key for the JSON API)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from crm import models as m
from crm.accounts.services import create_api_key
from tests.conftest import BASE_URL, sign_in_as


@pytest.fixture
def client_as(app: Any, db: Any, settings: Any, clean: None) -> Iterator[Callable[[m.Role | None], TestClient[Any]]]:
    """``client_as(role)``: a fresh client with a session for a user of that role (``None``: anonymous).

    The clients do not run the app's lifespan (entering two at once deadlocks the second one's shutdown);
    the app needs no startup hook."""
    opened: list[TestClient[Any]] = []

    def make(role: m.Role | None) -> TestClient[Any]:
        client = TestClient(app, base_url=BASE_URL)
        opened.append(client)
        if role is not None:
            sign_in_as(client, db, settings, f"{role.value}-tester@example.org", role)
        return client

    yield make
    opened.clear()


@pytest.fixture
def api_key_for(db: Any) -> Callable[[m.Role], dict[str, str]]:
    """``api_key_for(role)``: Authorization headers for a fresh API key with that role."""

    def make(role: m.Role) -> dict[str, str]:
        _, plaintext = create_api_key(db, f"{role.value} key", role)
        db.commit()
        return {"Authorization": f"Bearer {plaintext}"}

    return make
