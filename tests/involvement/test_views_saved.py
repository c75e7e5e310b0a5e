"""Saved views on the involvement opportunity list (/admin/involvement), as on every other admin list: a user's named
filters (the status tab included) beside the filter form, opened at the first page, deleted by their owner only;
an academic editor keeps views too, and a view never widens what they may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm import models as m
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.involvement.test_admin import academic_editor, make

S = m.OpportunityStatus
KEY = "involvement-opportunities"


def test_the_fellow_saves_a_tab_with_its_filters_and_opens_it(admin_client: Any, db: Any) -> None:
    make(db, "Waiting paid role", status=S.SUBMITTED)
    make(db, "Published paid role")
    page = admin_client.get("/admin/involvement?status=submitted&payment=paid&cursor=abc").text
    assert "Saved views" in page and "None yet" in page
    assert f'name="list" value="{KEY}"' in page
    assert '<input type="hidden" name="query" value="status=submitted&amp;payment=paid" form="save-view">' in page
    r = post_form(
        admin_client,
        "/admin/saved-views",
        {"list": KEY, "name": " Waiting,   paid ", "query": "status=submitted&payment=paid&cursor=abc"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/involvement?status=submitted&payment=paid"
    opened = admin_client.get(r.headers["location"]).text
    assert "Waiting paid role" in opened and "Published paid role" not in opened
    assert '<a href="/admin/involvement?status=submitted&amp;payment=paid">Waiting, paid</a>' in opened


def test_the_filters_htmx_shows_are_what_gets_saved(admin_client: Any, db: Any) -> None:
    fragment = admin_client.get("/admin/involvement?kind=training&q=peer", headers={"hx-request": "true"}).text
    assert 'name="query" value="q=peer&amp;kind=training" form="save-view"' in fragment
    assert "Saved views" not in fragment  # the views themselves are on the whole page only


def test_a_view_is_deleted_by_its_owner_and_no_one_else(admin_client: Any, client: Any, db: Any, settings: Any) -> None:
    post_form(admin_client, "/admin/saved-views", {"list": KEY, "name": "My drafts view", "query": "status=draft"})
    view_id = db.scalar(select(m.SavedView.id).where(m.SavedView.list_key == KEY))
    admin_client.cookies.clear()
    sign_in_as(client, db, settings, "second-fellow@example.org", m.Role.ADMIN)
    assert "My drafts view" not in client.get("/admin/involvement").text
    assert post_form(client, f"/admin/saved-views/{view_id}/delete").status_code == 404
    client.cookies.clear()
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    r = post_form(client, f"/admin/saved-views/{view_id}/delete", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/involvement"
    assert db.scalar(select(m.SavedView.id)) is None


def test_an_academic_editor_keeps_views_that_never_widen_what_they_see(client: Any, db: Any, settings: Any) -> None:
    editor = academic_editor(client, db, settings)
    other = factories.organisation(db, "Another University", m.OrgKind.ACADEMIC)
    make(db, "My own waiting role", status=S.SUBMITTED, user=editor)
    make(db, "Someone else's waiting role", status=S.SUBMITTED, organisation=other)
    r = post_form(client, "/admin/saved-views", {"list": KEY, "name": "Waiting", "query": "status=submitted"})
    assert r.status_code == 200
    page = client.get("/admin/involvement?status=submitted").text
    assert '<a href="/admin/involvement?status=submitted">Waiting</a>' in page
    assert "My own waiting role" in page and "Someone else&#39;s waiting role" not in page


def test_the_views_cost_one_statement_on_the_whole_page_however_many(
    admin_client: Any, db: Any, count_queries: Any
) -> None:
    make(db, "Counted role")
    admin_client.get("/admin/involvement")
    with count_queries() as none_saved:
        admin_client.get("/admin/involvement")
    for n in range(8):
        post_form(admin_client, "/admin/saved-views", {"list": KEY, "name": f"View {n}", "query": f"q=role{n}"})
    with count_queries() as eight_saved:
        page = admin_client.get("/admin/involvement").text
    assert "View 7" in page
    assert none_saved.count == eight_saved.count == 5  # the user, the page, its count, the tabs, the views
    assert sum("saved_views" in s for s in eight_saved.statements) == 1
