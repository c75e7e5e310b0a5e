"""Every admin list (issue 17.4): a result count, previous/next, column headers that sort, and a cost in
statements that does not grow with the rows shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from crm import models as m
from tests import factories
from tests.dashboard import factories as rows

Build = Callable[[Any, int], None]


def _orgs(db: Any, n: int) -> None:
    for _ in range(n):
        factories.organisation(db, topics=["Carers"], region_name="London")


def _contacts(db: Any, n: int) -> None:
    org = factories.organisation(db)
    for _ in range(n):
        factories.contact(db, organisation=org)


def _subscribers(db: Any, n: int) -> None:
    start = db.query(m.Subscription).count()
    for i in range(n):
        rows.subscription(db, f"reader{start + i}@example.org", name=f"Reader {i}")


def _partnerships(db: Any, n: int) -> None:
    for _ in range(n):
        rows.partnership(db)


def _calls(db: Any, n: int) -> None:
    funder = factories.funder(db)
    for _ in range(n):
        rows.call(db, funder, deadlines=[rows.NOW + rows.days(20)])


def _events(db: Any, n: int) -> None:
    for i in range(n):
        rows.event(db, starts=rows.NOW + rows.days(i + 1))


def _internships(db: Any, n: int) -> None:
    host = factories.organisation(db)
    for _ in range(n):
        rows.internship(db, host)


LISTS = [
    ("/admin/organisations", _orgs, "organisations"),
    ("/admin/contacts", _contacts, "contacts"),
    ("/admin/subscribers", _subscribers, "subscribers"),
    ("/admin/partnerships", _partnerships, "partnerships"),
    ("/admin/funding-calls", _calls, "funding calls"),
    ("/admin/events", _events, "events"),
    ("/admin/internships", _internships, "internships"),
]


@pytest.mark.parametrize(("url", "build", "noun"), LISTS, ids=[u.rsplit("/", 1)[1] for u, _, _ in LISTS])
def test_admin_list_counts_pages_and_costs_the_same_at_5_and_50_rows(
    admin_client: Any, db: Any, count_queries: Any, url: str, build: Build, noun: str
) -> None:
    build(db, 5)
    db.commit()
    with count_queries() as five:
        page = admin_client.get(f"{url}?page_size=100")
    assert page.status_code == 200
    assert f'<p class="result-count">5 {noun}</p>' in page.text
    build(db, 45)
    db.commit()
    with count_queries() as fifty:
        page = admin_client.get(f"{url}?page_size=100")
    assert f'<p class="result-count">50 {noun}</p>' in page.text
    assert fifty.count == five.count
    first = admin_client.get(url)  # 20 a page: a count of all 50, and the way on
    assert '<p class="result-count">50' in first.text and 'rel="next"' in first.text and 'rel="prev"' not in first.text
    following = re.search(r'<a rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = admin_client.get(following)
    assert second.status_code == 200 and 'rel="prev"' in second.text and 'rel="next"' in second.text
    fragment = admin_client.get(url, headers={"hx-request": "true"})
    assert '<p class="result-count">50' in fragment.text and "<html" not in fragment.text


def test_one_result_is_singular(admin_client: Any, db: Any) -> None:
    factories.organisation(db, "Only One Trust")
    db.commit()
    assert '<p class="result-count">1 organisation</p>' in admin_client.get("/admin/organisations").text


def _header(html: str, label: str) -> tuple[str, str]:
    """(aria-sort, the sort its link asks for) of the column header named ``label``."""
    found = re.search(rf'<th scope="col" aria-sort="(\w+)"><a href="[^"?]*\?([^"]*)">{label}\b', html)
    assert found, f"no sortable header {label!r}"
    query = found.group(2).replace("&amp;", "&")
    return found.group(1), re.search(r"(?:^|&)sort=([^&]+)", query).group(1)


def test_column_headers_sort_the_list_and_say_how(admin_client: Any, db: Any) -> None:
    for name in ("Beta Trust", "Alpha Trust", "Gamma Trust"):
        factories.organisation(db, name)
    db.commit()
    page = admin_client.get("/admin/organisations?q=&kind=vcse").text
    assert _header(page, "Name") == ("ascending", "-name")  # the default sort is by name, A to Z
    assert page.index("Alpha Trust") < page.index("Beta Trust") < page.index("Gamma Trust")
    assert "kind=vcse" in re.search(r'aria-sort="ascending"><a href="([^"]+)"', page).group(1)  # filters kept
    page = admin_client.get("/admin/organisations?sort=-name").text
    assert _header(page, "Name") == ("descending", "name")
    assert page.index("Gamma Trust") < page.index("Beta Trust") < page.index("Alpha Trust")
    page = admin_client.get("/admin/organisations?sort=newest").text
    assert _header(page, "Name") == ("none", "name")
    assert '<th scope="col">Kind</th>' in page  # a column without a sort stays a plain header


@pytest.mark.parametrize(
    ("url", "build", "label", "state", "next_sort"),
    [
        ("/admin/contacts", _contacts, "Name", "ascending", "-name"),
        ("/admin/subscribers", _subscribers, "Email", "none", "email"),
        ("/admin/partnerships", _partnerships, "Health", "descending", "activity"),
        ("/admin/funding-calls", _calls, "Next deadline", "ascending", "deadline"),
        ("/admin/events", _events, "When", "descending", "soonest"),
        ("/admin/internships", _internships, "Closes", "none", "closing"),
    ],
)
def test_every_admin_list_has_sortable_headers(
    admin_client: Any, db: Any, url: str, build: Build, label: str, state: str, next_sort: str
) -> None:
    build(db, 2)
    db.commit()
    assert _header(admin_client.get(url).text, label) == (state, next_sort)
