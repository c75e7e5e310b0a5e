"""The API takes bodies declared JSON only. It accepts the session cookie and is exempt from the CSRF token because
another site cannot send a JSON content type without a CORS preflight; a ``text/plain`` body needs none, so before
this any page the fellow visited could create records through her session."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm import models as m

BODY = json.dumps({"name": "Loneliness"}).encode()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
def test_a_body_not_declared_json_is_refused_with_a_problem_and_writes_nothing(admin_client, db, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = admin_client.post("/api/v1/topics", content=BODY, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "application/json" in response.json()["detail"]
    assert db.scalars(select(m.Topic.name).where(m.Topic.name == "Loneliness")).all() == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_a_body_declared_json_is_taken(admin_client, db, content_type):
    response = admin_client.post("/api/v1/topics", content=BODY, headers={"Content-Type": content_type})
    assert response.status_code == 201, response.text
    assert db.scalars(select(m.Topic.name).where(m.Topic.name == "Loneliness")).all() == ["Loneliness"]
