"""The cheap path of anonymous GETs (crm.web.httpcache.ANONYMOUS_JSON, issue 21.1): the internships API list is
answered for anonymous visitors by the route's own function, before CSRF, dependencies and the handler, with the
same bytes and headers the handler gives; errors there are the same problem details."""

from __future__ import annotations

import pytest

from crm import models as m
from crm.accounts.services import create_api_key
from crm.errors import NotFound
from crm.internships import api, services
from crm.web import httpcache
from tests import factories
from tests.internships.helpers import make_internship

URL = "/api/v1/internships?page_size=2&sort=closing"
LABELS = ("etag", "cache-control", "vary")


@pytest.fixture
def listings(db):
    org = factories.organisation(db, "Cheap Path Host")
    make_internship(db, org, title="One", pence=12050, period="day", region="UKI", topics=("Carers",))
    make_internship(db, org, title="Two", mode="hybrid")
    make_internship(db, org, title="Three", days=5, hours=None)
    db.commit()


def _viewer_key(db) -> dict[str, str]:
    _, plaintext = create_api_key(db, "cheap-path-viewer", role=m.Role.VIEWER, organisation_id=None)
    db.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def test_anonymous_visitors_get_the_handlers_bytes_and_headers(client, db, listings):
    anonymous = client.get(URL, headers={"Cache-Control": "no-cache"})
    signed = client.get(URL, headers=_viewer_key(db))  # an API key: the handler answers
    assert anonymous.status_code == signed.status_code == 200
    assert anonymous.content == signed.content
    body = anonymous.json()
    assert [i["title"] for i in body["items"]] == ["Three", "One"] and body["next_cursor"]
    assert body["items"][1]["stipend"] == "£120.50 a day" and body["items"][1]["region"]
    unlabelled = {k: v for k, v in anonymous.headers.items() if k not in LABELS}
    assert unlabelled == dict(signed.headers.items())  # content type and length, CSP and the other headers
    assert anonymous.headers["cache-control"] == "public, no-cache" and "etag" not in signed.headers
    following = client.get(f"/api/v1/internships?page_size=2&sort=closing&cursor={body['next_cursor']}")
    assert [i["title"] for i in following.json()["items"]] == ["Two"]


def test_the_handler_does_not_run_for_anonymous_visitors(client, db, listings, monkeypatch):
    def handler_ran(*_: object) -> None:
        raise AssertionError("the handler ran")

    monkeypatch.setattr(api, "current_user", handler_ran)  # the first thing the handler calls
    assert client.get(URL, headers={"Cache-Control": "no-cache"}).status_code == 200
    assert client.get(URL, headers=_viewer_key(db)).status_code == 500


def test_one_statement_and_no_transaction_for_an_anonymous_list(client, listings, count_queries):
    with count_queries() as q:
        client.get(URL, headers={"Cache-Control": "no-cache"})
    assert len(q.statements) == 1  # no BEGIN/COMMIT of a session around it either


def test_errors_on_the_cheap_path_are_problem_details(client, listings, monkeypatch):
    def missing(*_: object, **__: object) -> None:
        raise NotFound("Nothing here.")

    monkeypatch.setattr(services, "public_list", missing)
    answer = client.get(URL, headers={"Cache-Control": "no-cache"})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"] == "Nothing here."
    assert "etag" not in answer.headers and "content-security-policy" in answer.headers


def test_only_public_reads_without_guards_take_the_cheap_path(app):
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if httpcache.ANONYMOUS_JSON in handler.opt:
                assert route.path in httpcache.RULES, route.path  # cached and labelled like every public read
                assert not handler.resolve_guards(), route.path
                assert handler.http_methods == {"GET"}, route.path
