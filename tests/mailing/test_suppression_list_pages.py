"""/admin/suppressions showed the newest 200 entries and no more, with no search and nothing saying so: an older
bounce could not be found to lift it. The list is now searched by address and keyset-paged like the other admin
lists (the same number of statements on every page at any size), says when a search matches nothing, and a lift
answers with the page it was made from."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select

from crm import models as m
from crm.mailing.suppression import address_hash, suppress
from tests.conftest import next_link, post_form

BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _suppress(db, addresses, reason="bounce"):
    db.add_all(
        m.Suppression(address=a, reason=reason, source="provider", note="", created_at=BASE + dt.timedelta(minutes=i))
        for i, a in enumerate(addresses)
    )
    db.commit()


def _addresses(text):
    return re.findall(r"<tr>\s*<td>([^<]+@example\.org)</td>", text)


def test_an_old_bounce_is_found_by_its_address_and_lifted_from_the_search(admin_client, db):
    _suppress(db, ["old-bounce@example.org", *(f"n{i:03d}@example.org" for i in range(229))])

    first = admin_client.get("/admin/suppressions")
    assert first.status_code == 200
    assert "230 entries" in first.text and next_link(first.text)
    assert "old-bounce@example.org" not in first.text

    found = admin_client.get("/admin/suppressions?q=OLD-bounce")
    assert _addresses(found.text) == ["old-bounce@example.org"] and "1 entry" in found.text
    row = db.scalar(select(m.Suppression).where(m.Suppression.address == "old-bounce@example.org"))
    action = html.unescape(re.search(rf'action="(/admin/suppressions/{row.id}/lift[^"]*)"', found.text).group(1))
    assert action == f"/admin/suppressions/{row.id}/lift?q=OLD-bounce"

    lifted = post_form(admin_client, action, {"note": "the mailbox works again"})

    assert lifted.status_code == 200
    assert "The suppression of old-bounce@example.org is lifted." in lifted.text
    assert "No active entry matches “OLD-bounce”." in lifted.text  # the same search, now without it
    db.expire_all()
    assert db.get(m.Suppression, row.id).lifted_at is not None
    with_lifted = admin_client.get("/admin/suppressions?q=old-bounce&show=all")
    assert _addresses(with_lifted.text) == ["old-bounce@example.org"] and "lifted " in with_lifted.text


def test_a_search_with_no_match_says_so_and_a_whole_address_finds_its_erased_form(admin_client, db):
    _suppress(db, ["pat@example.org", address_hash("erased@example.org")])

    none = admin_client.get("/admin/suppressions?q=nobody")
    assert none.status_code == 200
    assert "No active entry matches “nobody”." in none.text
    assert 'href="/admin/suppressions?q=nobody&amp;show=all">Look among lifted entries too</a>' in none.text
    assert "pat@example.org" not in none.text.split("Suppressed addresses")[1]

    erased = admin_client.get("/admin/suppressions?q=Erased@Example.org")
    assert address_hash("erased@example.org") in erased.text and "1 entry" in erased.text


def test_every_page_is_reached_and_costs_the_same_statements_at_any_size(admin_client, db, count_queries):
    _suppress(db, [f"few{i}@example.org" for i in range(3)])
    admin_client.get("/admin/suppressions")  # warm: the session and the templates
    with count_queries() as small:
        assert admin_client.get("/admin/suppressions").status_code == 200
    with count_queries() as small_search:
        admin_client.get("/admin/suppressions?q=few")

    _suppress(db, [f"many{i:02d}@example.org" for i in range(62)])
    seen, url, per_page = [], "/admin/suppressions", []
    while url:
        with count_queries() as counted:
            page = admin_client.get(url)
        assert page.status_code == 200
        per_page.append(counted.count)
        seen += _addresses(page.text)
        url = next_link(page.text)

    assert len(per_page) == 4  # 65 entries, 20 a page
    assert sorted(seen) == sorted(
        [f"few{i}@example.org" for i in range(3)] + [f"many{i:02d}@example.org" for i in range(62)]
    )
    assert seen[0] == "many61@example.org"  # newest first
    assert per_page == [small.count] * 4
    with count_queries() as big_search:
        admin_client.get("/admin/suppressions?q=many")
    assert big_search.count == small_search.count


def test_a_refused_lift_on_a_later_page_shows_its_message_on_that_row(admin_client, db):
    _suppress(db, [f"p{i:02d}@example.org" for i in range(30)])
    second = admin_client.get(next_link(admin_client.get("/admin/suppressions").text))
    row = db.scalar(select(m.Suppression).where(m.Suppression.address == "p02@example.org"))
    action = html.unescape(re.search(rf'action="(/admin/suppressions/{row.id}/lift[^"]*)"', second.text).group(1))

    refused = post_form(admin_client, action, {"note": ""})

    assert refused.status_code == 400
    assert f'<a href="#f-lift-{row.id}">Reason for lifting is required.</a>' in refused.text
    assert 'aria-invalid="true"' in re.search(rf'<input id="f-lift-{row.id}"[^>]*>', refused.text).group(0)


def test_the_filter_bar_gets_the_results_alone(admin_client, db):
    _suppress(db, ["pat@example.org"])
    r = admin_client.get("/admin/suppressions?q=pat", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "pat@example.org" in r.text
    assert "<h1>" not in r.text and "Add an address" not in r.text


def test_newest_first_is_by_the_date_shown_so_a_re_suppressed_address_comes_first(admin_client, db):
    _suppress(db, ["early@example.org", "middle@example.org", "late@example.org"])
    early = db.scalar(select(m.Suppression).where(m.Suppression.address == "early@example.org"))
    early.lifted_at = BASE + dt.timedelta(hours=1)
    db.commit()
    suppress(db, "early@example.org", "bounce", "provider", now=BASE + dt.timedelta(hours=2))  # same row, new date
    db.commit()
    page = admin_client.get("/admin/suppressions")
    assert _addresses(page.text) == ["early@example.org", "late@example.org", "middle@example.org"]
    assert 'aria-sort="descending"' in page.text.split("Since")[0].rsplit("<th", 1)[1]
