"""Saved views (issue 17.4): a named set of filters per user, beside every admin list's filters."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from crm import models as m
from tests.conftest import post_form, sign_in_as

LISTS = [
    ("organisations", "/admin/organisations"),
    ("contacts", "/admin/contacts"),
    ("subscribers", "/admin/subscribers"),
    ("partnerships", "/admin/partnerships"),
    ("funding-calls", "/admin/funding-calls"),
    ("events", "/admin/events"),
    ("internships", "/admin/internships"),
]


@pytest.mark.parametrize(("key", "url"), LISTS, ids=[k for k, _ in LISTS])
def test_every_admin_list_saves_opens_and_deletes_views(admin_client: Any, db: Any, key: str, url: str) -> None:
    page = admin_client.get(f"{url}?q=mind").text
    assert "Saved views" in page and "None yet" in page
    assert f'name="list" value="{key}"' in page
    assert '<input type="hidden" name="query" value="q=mind" form="save-view">' in page
    r = post_form(
        admin_client,
        "/admin/saved-views",
        {"list": key, "name": "  Mind   groups ", "query": "q=mind&cursor=abc"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}?q=mind"  # opens at its first page
    page = admin_client.get(url).text
    assert f'<a href="{url}?q=mind">Mind groups</a>' in page
    view_id = db.scalar(select(m.SavedView.id).where(m.SavedView.list_key == key))
    r = post_form(admin_client, f"/admin/saved-views/{view_id}/delete", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url
    assert "Mind groups" not in admin_client.get(url).text


def test_saving_a_name_again_replaces_its_filters_and_views_are_per_list(admin_client: Any, db: Any) -> None:
    post_form(admin_client, "/admin/saved-views", {"list": "organisations", "name": "Mine", "query": "kind=vcse"})
    post_form(admin_client, "/admin/saved-views", {"list": "organisations", "name": "Mine", "query": "kind=academic"})
    assert db.scalars(select(m.SavedView.query)).all() == ["kind=academic"]
    assert "Mine" not in admin_client.get("/admin/contacts").text
    htmx = admin_client.get("/admin/organisations?kind=funder", headers={"hx-request": "true"}).text
    assert 'name="query" value="kind=funder" form="save-view"' in htmx  # the filters htmx shows now are saved


def test_a_bad_view_is_refused_with_a_message(admin_client: Any, db: Any) -> None:
    r = post_form(admin_client, "/admin/saved-views", {"list": "organisations", "name": "   ", "query": ""})
    assert r.status_code == 422 and "Give the view a name" in r.text
    r = post_form(admin_client, "/admin/saved-views", {"list": "nowhere", "name": "x"})
    assert r.status_code == 422 and "has no saved views" in r.text
    r = post_form(admin_client, "/admin/saved-views", {"list": "contacts", "name": "n" * 101})
    assert r.status_code == 422 and "at most 100" in r.text
    assert admin_client.post("/admin/saved-views", data={"list": "contacts", "name": "x"}).status_code == 403  # CSRF
    assert db.scalar(select(m.SavedView.id)) is None


def test_views_belong_to_their_user(admin_client: Any, client: Any, db: Any, settings: Any) -> None:
    post_form(admin_client, "/admin/saved-views", {"list": "organisations", "name": "Fellow's view", "query": "q=x"})
    view_id = db.scalar(select(m.SavedView.id))
    admin_client.cookies.clear()
    sign_in_as(client, db, settings, "other@example.org", m.Role.ADMIN)
    page = client.get("/admin/organisations").text
    assert "Fellow&#39;s view" not in page and "Fellow's view" not in page
    assert post_form(client, f"/admin/saved-views/{view_id}/delete").status_code == 404
    assert db.scalar(select(m.SavedView.id)) == view_id
    assert re.search(r"None yet", page)
