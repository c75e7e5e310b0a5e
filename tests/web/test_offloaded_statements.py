"""Issue 21.2: the admin downloads, reports and import checks made in a worker process cost the same statements at
10 rows as at 100, counted with the worker's SQL (both databases).

``count_queries`` listens on the app's engine; a worker process has engines of its own, so it used to count only
the web process's few statements (the session lookup, an audit entry) and an N+1 in an export or a check passed.
While a test counts, ``crm.web.offload`` runs the work in this process on the app's engine
(``tests/conftest.py``, ``_offloaded_work_counted``): the counts below are the request's and the worker's together.
The dashboard and the impact report's page have theirs in tests/dashboard and tests/involvement, the opportunities
CSV in tests/involvement/test_admin.py.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from crm import models as m
from crm.web import offload
from tests import factories
from tests.conftest import csrf_token, post_form
from tests.dashboard import factories as rows
from tests.involvement import records_builders as builders
from tests.web import offload_probes as probes
from tests.web.test_heavy_requests import _offloaded, _run

SIZES = (10, 100)


class _Made:
    """Rows made so far: each size adds only the rows it lacks (``make(i)`` makes the i-th)."""

    def __init__(self, db: Any, make: Callable[[int], Any]) -> None:
        self.db, self.make, self.ids = db, make, []

    def __call__(self, n: int) -> None:
        while len(self.ids) < n:
            self.ids.append(self.make(len(self.ids)).id)
        self.db.commit()


def _counts(count_queries: Any, grow: Callable[[int], None], **asks: Callable[[int], None]) -> dict[str, list[int]]:
    """The statements each ``ask(n)`` (a request that checks its own answer) costs with ``n`` rows grown, at each
    size. Each is asked once first, uncounted: the first request of a test fills the process's caches (reference
    rows, filter menus), as a worker's first call fills its own."""
    counts: dict[str, list[int]] = {name: [] for name in asks}
    for n in SIZES:
        grow(n)
        for name, ask in asks.items():
            if n == SIZES[0]:
                ask(n)
            with count_queries() as q:
                ask(n)
            counts[name].append(q.count)
    return counts


def _flat(counts: dict[str, list[int]]) -> bool:
    return all(len(set(each)) == 1 for each in counts.values())


def _lines(response: Any) -> int:
    assert response.status_code == 200, response.text[:500]
    return response.content.count(b"\n")


def _org(db: Any, i: int) -> m.Organisation:
    """An organisation with a region, two topics and a primary contact: every relation its rows read."""
    org = factories.organisation(db, f"Counted Group {i}", region_name="London", topics=["Carers", "Psychosis"])
    factories.contact(db, f"Counted Person {i}", organisation=org)
    return org


def test_the_counted_statements_include_the_workers(admin_client, db, count_queries, monkeypatch):
    _Made(db, lambda i: _org(db, i))(3)
    sent = _offloaded(monkeypatch)
    with count_queries() as q:
        got = admin_client.get("/admin/organisations/export.csv")
    assert _lines(got) == 4 and sent == ["organisation_csv_page"]  # sent through offload, as in production
    assert any("charity_number" in s for s in q.statements)  # the export's own query, seen by the counter
    assert _run(lambda: offload.run_heavy(probes.pid)) == os.getpid()


# ---------------------------------------------------------------------------------------------- the directory


def _csv(client: Any, url: str, lines: Callable[[int], int]) -> Callable[[int], None]:
    """Ask for ``url``: a CSV of ``lines(n)`` lines with ``n`` rows grown."""

    def ask(n: int) -> None:
        got = client.get(url)
        assert got.status_code == 200 and got.content.count(b"\n") == lines(n), got.text[:300]

    return ask


def _and_header(n: int) -> int:
    return n + 1


def test_the_directory_exports_cost_the_same_statements_at_any_size(admin_client, db, count_queries):
    counts = _counts(
        count_queries,
        _Made(db, lambda i: _org(db, i)),
        organisations=_csv(admin_client, "/admin/organisations/export.csv", _and_header),
        contacts=_csv(admin_client, "/admin/contacts/export.csv", _and_header),
    )
    assert _flat(counts), counts


def test_bulk_exports_cost_the_same_statements_at_any_size(admin_client, db, count_queries):
    orgs = _Made(db, lambda i: _org(db, i))

    def deal(i: int) -> m.Partnership:
        made = rows.partnership(db, title=f"Counted partnership {i}")
        db.add(m.PartnershipMember(partnership_id=made.id, side=m.Side.VCSE, organisation_id=orgs.ids[i]))
        return made

    deals = _Made(db, deal)

    def grow(n: int) -> None:
        orgs(n)
        deals(n)

    def export(url: str, ids: Callable[[int], list[int]]) -> Callable[[int], None]:
        def ask(n: int) -> None:
            got = post_form(admin_client, f"{url}/bulk", {"action": "export", "ids": ids(n)})
            assert got.status_code == 200 and got.content.count(b"\n") == n + 1, got.text[:300]

        return ask

    def people(n: int) -> list[int]:
        return list(db.scalars(select(m.Contact.id).order_by(m.Contact.id).limit(n)))

    counts = _counts(
        count_queries,
        grow,
        organisations=export("/admin/organisations", lambda n: orgs.ids[:n]),
        partnerships=export("/admin/partnerships", lambda n: deals.ids[:n]),
        contacts=export("/admin/contacts", people),
    )
    assert _flat(counts), counts


def test_the_directory_import_check_costs_the_same_statements_at_any_size(admin_client, db, count_queries):
    def check(n: int) -> None:
        text = "organisation_name,kind,region,topics,contact_name,contact_email\n" + "".join(
            f"Imported Group {i},vcse,London,Carers,Person {i},person{i}@example.org\n" for i in range(n)
        )
        upload = admin_client.post(
            "/admin/import",
            files={"file": ("counted.csv", text.encode(), "text/csv")},
            data={"_csrf_token": csrf_token(admin_client)},
        )
        assert upload.status_code == 200 and f"Would import: {n} new" in upload.text, upload.text[:300]

    counts = _counts(count_queries, lambda n: None, check=check)
    assert _flat(counts), counts


# ------------------------------------------------------------------------------------------- involvement, events


def test_the_network_and_records_csvs_cost_the_same_statements_at_any_size(admin_client, db, count_queries):
    members = _Made(db, lambda i: builders.member(db, f"member{i}@example.org", f"Member {i}", access_needs="Large"))
    records = _Made(db, lambda i: builders.record(db, person_name=f"Member {i}", minutes=60, payment_pence=2500))

    def grow(n: int) -> None:
        members(n)
        records(n)

    counts = _counts(
        count_queries,
        grow,
        network=_csv(admin_client, "/admin/involvement/network.csv", _and_header),
        records=_csv(admin_client, "/admin/involvement/records/export.csv", _and_header),
    )
    assert _flat(counts), counts


def test_the_attendee_csv_costs_the_same_statements_at_any_size(admin_client, db, count_queries):
    event = rows.event(db, starts=rows.NOW + rows.days(5), title="Counted launch")
    statuses = (m.InvitationStatus.YES, m.InvitationStatus.WAITLISTED, m.InvitationStatus.MAYBE)

    def guest(i: int) -> m.Invitation:
        org = factories.organisation(db, f"Guest Group {i}")
        return rows.invite(db, event, factories.contact(db, f"Guest {i}", organisation=org), statuses[i % 3])

    counts = _counts(
        count_queries,
        _Made(db, guest),
        attendees=_csv(admin_client, f"/admin/events/{event.id}/attendees.csv", _and_header),
    )
    assert _flat(counts), counts


# -------------------------------------------------------------------------------------- reports, the map, funding

OCTOBER = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)


def test_the_impact_csv_and_the_gaps_csv_cost_the_same_statements_at_any_size(admin_client, db, count_queries):
    stages = (m.PartnershipStage.IDEA, m.PartnershipStage.FUNDED)

    def deal(i: int) -> m.Partnership:
        org = _org(db, i)
        made = rows.partnership(db, stage=stages[i % 2], created=OCTOBER)
        db.add(m.PartnershipMember(partnership_id=made.id, side=m.Side.VCSE, organisation_id=org.id))
        rows.subscription(db, f"reader{i}@example.org")
        return made

    def impact(n: int) -> None:
        got = admin_client.get("/admin/reports/impact.csv?from=2026-10-01&to=2026-10-31")
        assert got.status_code == 200 and f"Partnerships,Started,{n}\r\n" in got.text, got.text[:300]

    gaps_lines = 1 + 12 * 24  # the header, then each topic and region pair: the grid's size, not the data's
    counts = _counts(
        count_queries,
        _Made(db, deal),
        impact=impact,
        gaps=_csv(admin_client, "/admin/map/gaps.csv", lambda n: gaps_lines),
    )
    assert _flat(counts), counts


def test_the_funding_import_check_costs_the_same_statements_at_any_size(admin_client, db, count_queries):
    factories.organisation(db, "Counted Trust", m.OrgKind.FUNDER)
    db.commit()
    header = "external_ref,title,funder,deadlines,amount_min,amount_max,topics,regions,requires_vcse_partner\n"

    def check(n: int) -> None:
        text = header + "".join(
            f"CT-{i},Counted call {i},Counted Trust,2099-02-01,1000,5000,Carers,London,yes\n" for i in range(n)
        )
        preview = post_form(admin_client, "/admin/funding-calls/import", {"csv_text": text})
        assert preview.status_code == 200 and f"Counted call {n - 1}" in preview.text, preview.text[:300]

    counts = _counts(count_queries, lambda n: None, check=check)
    assert _flat(counts), counts
