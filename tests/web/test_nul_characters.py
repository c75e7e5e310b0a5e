"""A NUL character (pasted from a PDF or a spreadsheet, or typed into a URL) is not text PostgreSQL can store. A form
keeps what was typed without it; a list reads its search without it; an API body that carries one is a 422 naming
the problem, not the "out of range" of a number too large."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import models as m
from crm.accounts.services import create_api_key
from tests.conftest import post_form


def test_a_form_field_with_a_nul_saves_without_it(admin_client, db) -> None:
    response = post_form(admin_client, "/admin/organisations/new", {"name": "Mind\x00ful Leeds", "kind": "vcse"})
    assert response.status_code in (200, 303), response.status_code
    assert db.scalars(select(m.Organisation.name)).all() == ["Mindful Leeds"]


@pytest.mark.parametrize("path", ["/organisations", "/funding-calls", "/internships", "/events"])
def test_a_search_with_a_nul_reads_without_it(client, path) -> None:
    response = client.get(path, params={"q": "peer\x00 support"})
    assert response.status_code == 200
    assert 'value="peer support"' in response.text


def test_an_api_body_with_a_nul_is_a_problem_that_says_so(client, db) -> None:
    _, key = create_api_key(db, "admin", m.Role.ADMIN)
    db.commit()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = client.post("/api/v1/organisations", json={"name": "Mind\u0000ful", "kind": "vcse"}, headers=headers)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "NUL" in response.json()["detail"] or any("NUL" in e["message"] for e in response.json().get("errors", []))
    assert db.scalars(select(m.Organisation.name)).all() == []
