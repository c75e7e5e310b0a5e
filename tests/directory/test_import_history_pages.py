"""/admin/imports showed the newest 200 import batches and no more, with nothing saying so. It is now keyset-paged
like the other admin lists (the same number of statements on every page at any size), searched by file name and
filtered by kind, and says when nothing matches."""

from __future__ import annotations

import datetime as dt
import re

from crm import models as m
from tests.conftest import next_link

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _batches(db, names, kind="organisations"):
    db.add_all(
        m.ImportBatch(
            kind=kind,
            filename=name,
            encoding="UTF-8",
            actor="fellow@example.org",
            created_at=BASE + dt.timedelta(minutes=i),
            replaced=[],
            created=1,
            updated=0,
            unchanged=0,
            errors=0,
            problems=[],
            undone_by="",
            undo_notes=[],
        )
        for i, name in enumerate(names)
    )
    db.commit()


def _files(text):
    return re.findall(r"<td>([\w-]+\.csv)</td>", text)


def test_every_import_is_reached_page_by_page_at_the_same_statements(admin_client, db, count_queries):
    _batches(db, ["few-0.csv", "few-1.csv"])
    admin_client.get("/admin/imports")  # warm: the session and the templates
    with count_queries() as small:
        assert admin_client.get("/admin/imports").status_code == 200

    _batches(db, [f"more-{i:02d}.csv" for i in range(43)])
    seen, url, per_page = [], "/admin/imports", []
    while url:
        with count_queries() as counted:
            page = admin_client.get(url)
        per_page.append(counted.count)
        seen += _files(page.text)
        url = next_link(page.text)

    assert per_page == [small.count] * 3  # 45 imports, 20 a page
    assert seen[0] == "more-42.csv" and sorted(seen) == sorted(
        ["few-0.csv", "few-1.csv"] + [f"more-{i:02d}.csv" for i in range(43)]
    )
    assert "45 imports" in admin_client.get("/admin/imports").text


def test_imports_are_found_by_file_name_and_kind_and_a_miss_says_so(admin_client, db):
    _batches(db, ["Members-2025.csv", "other.csv"])
    _batches(db, ["grants-2025.csv"], kind="funding_calls")

    by_name = admin_client.get("/admin/imports?q=members")
    assert _files(by_name.text) == ["Members-2025.csv"] and "1 import" in by_name.text
    by_kind = admin_client.get("/admin/imports?q=2025&kind=funding_calls")
    assert _files(by_kind.text) == ["grants-2025.csv"]

    miss = admin_client.get("/admin/imports?q=nothing-like-it")
    assert miss.status_code == 200 and _files(miss.text) == []
    assert (
        "No imports match “nothing-like-it”." in miss.text
        and '<a href="/admin/imports">Show every import</a>' in miss.text
    )
