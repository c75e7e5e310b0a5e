"""A saved view that cannot be saved (a name over 100 characters): the page's "Back to the list" link returns to
the filters that were being saved, not to the bare list."""

from __future__ import annotations

import html
import re

from crm import models as m
from tests.conftest import post_form


def test_back_to_the_list_keeps_the_filters(admin_client, db):
    query = "q=peer+support&kind=vcse&sort=-name"
    r = post_form(admin_client, "/admin/saved-views", {"list": "organisations", "name": "N" * 101, "query": query})
    assert r.status_code == 422
    assert "at most 100 characters" in r.text
    back = html.unescape(re.search(r'<a href="([^"]*)">Back to the list</a>', r.text).group(1))
    assert back == f"/admin/organisations?{query}"
    assert db.query(m.SavedView).count() == 0


def test_an_unknown_list_still_goes_back_to_the_admin_home(admin_client):
    r = post_form(admin_client, "/admin/saved-views", {"list": "bogus", "name": "x", "query": "q=a"})
    assert r.status_code == 422
    assert '<a href="/admin">Back to the list</a>' in r.text
