"""Issue 21.2: the admin downloads and reports made in a worker process (``crm.web.offload``), both databases.

Each download answers the same bytes (and the same file name and headers) as the code it replaced, which ran in the
web process: the expected bytes are made here in process with the functions the handlers called before. Each
handler sends its work to the pool (the spy records what went); a broken pool gives the 503 page, never a hang.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import select

from crm import csvimport
from crm import models as m
from crm.accounts.principal import Principal
from crm.bulk import actions as bulk_actions
from crm.bulk import admin as bulk_admin
from crm.bulk import kinds as bulk_kinds
from crm.dashboard import reports as dashboard_reports
from crm.directory import export, organisations
from crm.events import attendees
from crm.funding import admin as funding_admin
from crm.funding import importer as funding_importer
from crm.involvement import access as involvement_access
from crm.involvement import admin as involvement_admin
from crm.involvement import network_members
from crm.involvement import records as involvement_records
from crm.listing import ListParams
from crm.map import gaps
from crm.web import offload
from tests import factories
from tests.conftest import csrf_token, post_form
from tests.dashboard import factories as rows
from tests.involvement import records_builders as builders
from tests.web import offload_probes as probes
from tests.web.test_heavy_requests import STOPPED, _offloaded, _run, _watch


def _crash_first(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The first offloaded call finds its worker dead (the pool breaks before the work is sent)."""
    crashes = [True]
    original = offload.run_heavy

    async def crash_once() -> None:
        if crashes:
            crashes.pop()
            await original(probes.crash)

    return _offloaded(monkeypatch, crash_once)


def _disposition(response: Any) -> str:
    return response.headers["content-disposition"]


# ------------------------------------------------------------------------------------------- organisations


def _organisations(db: Any) -> list[m.Organisation]:
    orgs = [
        factories.organisation_via_form(db, "=HYPERLINK(evil)", topics=["carers"], region="london"),
        factories.organisation_via_form(db, 'Smith, "Jo" Trust', region="wales"),
    ]
    orgs += [factories.organisation(db, f"Exported Group {i}", region_name="London") for i in range(9)]
    db.commit()
    return orgs


def _org_bytes(db: Any, query: dict[str, Any], ids: list[int] | None = None) -> bytes:
    params = ListParams.from_query(query, filter_names=organisations.ADMIN_ORG_FILTERS)
    whole = b"".join(export.as_csv_chunks(export.organisation_rows(db, params, public=False, ids=ids)))
    db.rollback()
    return whole


def test_organisation_csv_pages_join_to_the_bytes_of_the_rows(db):
    orgs = _organisations(db)
    params = ListParams.from_query({}, filter_names=organisations.ADMIN_ORG_FILTERS)
    for ids in (None, [o.id for o in orgs[::2]]):
        whole = _org_bytes(db, {}, ids)
        n = len(orgs) if ids is None else len(ids)
        for size in (3, n, 1000):  # pages ending mid-list, exactly at the last row, one page for all
            joined, after, trips = b"", None, 0
            while True:
                page, after = export.organisation_csv_page(db, params, False, ids, after, rows=size)
                joined, trips = joined + page, trips + 1
                if after is None:
                    break
            assert joined == whole and trips == n // size + 1
    everything = _org_bytes(db, {})
    assert b"'=HYPERLINK(evil)" in everything and b'"Smith, ""Jo"" Trust"' in everything


def test_the_organisations_export_is_made_in_a_worker_with_the_same_bytes(admin_client, db, monkeypatch):
    _organisations(db)
    whole, london = _org_bytes(db, {}), _org_bytes(db, {"region": "london"})
    sent = _offloaded(monkeypatch)
    got = admin_client.get("/admin/organisations/export.csv")
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    assert _disposition(got) == 'attachment; filename="organisations.csv"'
    assert got.content == whole and whole.count(b"\r\n") == 12
    filtered = admin_client.get("/admin/organisations/export.csv?region=london")
    assert filtered.content == london and london != whole
    assert sent == ["organisation_csv_page"] * 2


def test_a_broken_pool_gives_the_organisations_export_a_503_and_the_next_one_works(admin_client, db, monkeypatch):
    _organisations(db)
    whole = _org_bytes(db, {})
    _crash_first(monkeypatch)
    failed = admin_client.get("/admin/organisations/export.csv")
    assert failed.status_code == 503 and STOPPED in failed.text
    assert failed.headers["retry-after"] == "10" and failed.headers["content-type"].startswith("text/html")
    again = admin_client.get("/admin/organisations/export.csv")
    assert again.status_code == 200 and again.content == whole


def test_only_signed_in_staff_get_the_organisations_export(client, db):
    _organisations(db)
    got = client.get("/admin/organisations/export.csv", follow_redirects=False)
    assert got.status_code in {302, 303, 401, 403} and b"HYPERLINK" not in got.content


# ---------------------------------------------------------------------------------------------- bulk exports


def _partnerships(db: Any) -> list[Any]:
    made = [rows.partnership(db, title=title) for title in ("=cmd|x", 'Beta, "quoted"', "Alpha", "Gamma", "Delta")]
    db.commit()
    return made


def _by_label(db: Any, kind: Any, records: list[Any]) -> list[int]:
    """The ids as a selection orders them (``select_records``: by the list's label, then id)."""
    found = db.execute(
        select(kind.model.id).where(kind.model.id.in_([r.id for r in records])).order_by(kind.label, kind.model.id)
    )
    return list(found.scalars())


def test_selection_csv_pages_join_to_the_bytes_of_the_selection(db, monkeypatch):
    kind = bulk_kinds.PARTNERSHIPS
    ids = _by_label(db, kind, _partnerships(db))
    whole = b"".join(export.as_csv_chunks(bulk_actions.selection_rows(db, kind, ids)))
    for size in (2, len(ids), 1000):
        monkeypatch.setattr(bulk_admin, "EXPORT_PAGE_IDS", size)
        joined, after, trips = b"", None, 0
        while True:
            page, after = bulk_admin.selection_csv_page(db, "partnerships", ids, after)
            joined, trips = joined + page, trips + 1
            if after is None:
                break
        assert joined == whole and trips == -(-len(ids) // size)
    assert b"'=cmd|x" in whole and b'"Beta, ""quoted"""' in whole and whole.count(b"\r\n") == 6


def _bulk_export(client: Any, url: str, ids: list[int]) -> Any:
    return post_form(client, f"{url}/bulk", {"action": "export", "ids": ids})


def test_bulk_exports_are_made_in_a_worker_with_the_same_bytes(admin_client, db, monkeypatch):
    orgs = _organisations(db)
    people = [factories.contact(db, f"Bulk Person {i}") for i in range(4)]
    people.append(factories.contact(db, "=SUM(1)", "sum@example.org", organisation=orgs[0]))
    deals = _partnerships(db)
    db.commit()
    org_ids = [o.id for o in orgs[1::2]]
    contact_ids = [c.id for c in people[::2]]
    deal_ids = _by_label(db, bulk_kinds.PARTNERSHIPS, deals)
    expected = {
        "/admin/organisations": _org_bytes(db, {}, org_ids),
        "/admin/contacts": b"".join(
            export.as_csv_chunks(
                export.contact_rows(db, bulk_actions.list_params(bulk_kinds.CONTACTS, ""), contact_ids)
            )
        ),
        "/admin/partnerships": b"".join(
            export.as_csv_chunks(bulk_actions.selection_rows(db, bulk_kinds.PARTNERSHIPS, deal_ids))
        ),
    }
    db.rollback()
    sent = _offloaded(monkeypatch)
    for url, ids, name in (
        ("/admin/organisations", org_ids, "organisations-selection.csv"),
        ("/admin/contacts", contact_ids, "contacts-selection.csv"),
        ("/admin/partnerships", deal_ids[::-1], "partnerships-selection.csv"),
    ):
        got = _bulk_export(admin_client, url, ids)
        assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
        assert _disposition(got) == f'attachment; filename="{name}"'
        assert got.content == expected[url] and got.content.count(b"\r\n") == len(ids) + 1
    assert sent == ["selection_csv_page"] * 3
    refused = _bulk_export(admin_client, "/admin/partnerships", [])
    assert refused.status_code == 422 and sent == ["selection_csv_page"] * 3  # nothing chosen: nothing sent


def test_a_broken_pool_gives_a_bulk_export_a_503_and_changes_stay_in_the_request(admin_client, db, monkeypatch):
    deals = _partnerships(db)
    _crash_first(monkeypatch)
    failed = _bulk_export(admin_client, "/admin/partnerships", [deals[0].id])
    assert failed.status_code == 503 and STOPPED in failed.text
    seen = _watch(monkeypatch, bulk_actions, "set_archived")
    archived = post_form(admin_client, "/admin/partnerships/bulk", {"action": "archive", "ids": [deals[0].id]})
    assert archived.status_code == 200 and "1 of 1 partnerships archived" in archived.text
    assert seen == [False]  # in this process, off the event loop
    db.expire_all()
    assert db.get(m.Partnership, deals[0].id).archived_at is not None  # written and committed by the request


# --------------------------------------------------------------------------------------------------- involvement


def _principal(db: Any, email: str = "fellow@example.org") -> Principal:
    user = db.scalar(select(m.User).where(m.User.email == email))
    return Principal(user.id, user.email, user.name, user.role, user.organisation_id, "session")


def test_the_opportunities_csv_is_made_in_a_worker_with_the_same_bytes(admin_client, db, settings, monkeypatch):
    for title in ("=evil()", 'Say "hi", then', "Plain"):
        builders.opportunity(db, title=title)
    builders.opportunity(db, title="Waiting one", status=m.OpportunityStatus.SUBMITTED)
    db.commit()
    actor = _principal(db)
    expected = {}
    for query in ({}, {"status": "submitted"}):
        params = ListParams.from_query(query, filter_names=involvement_access.FILTERS)
        expected[bool(query)] = b"".join(
            export.as_csv_chunks(involvement_access.csv_rows(db, actor, params, settings.base_url))
        )
        assert involvement_admin.csv_page(db, actor, params, settings.base_url, None) == (expected[bool(query)], None)
    db.rollback()
    sent = _offloaded(monkeypatch)
    got = admin_client.get("/admin/involvement/export.csv")
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    name = f"involvement-opportunities-{dt.datetime.now(dt.UTC).date().isoformat()}.csv"
    assert _disposition(got) == f'attachment; filename="{name}"'
    assert got.content == expected[False] and b"'=evil()" in got.content and got.content.count(b"\r\n") == 5
    waiting = admin_client.get("/admin/involvement/export.csv?status=submitted")
    assert waiting.content == expected[True] and waiting.content.count(b"\r\n") == 2
    assert sent == ["csv_page"] * 2


def test_the_opportunities_csv_costs_the_worker_the_same_statements_at_any_size(db, settings, count_queries):
    builders.opportunity(db, title="Only one")
    db.commit()
    params = ListParams.from_query({}, filter_names=involvement_access.FILTERS)
    fellow = Principal(0, "fellow@example.org", "Fellow", m.Role.ADMIN, None, "session")
    with count_queries() as small:
        involvement_admin.csv_page(db, fellow, params, settings.base_url, None)
    for n in range(12):
        builders.opportunity(db, title=f"More {n}")
    db.commit()
    with count_queries() as large:
        page, _ = involvement_admin.csv_page(db, fellow, params, settings.base_url, None)
    assert page.count(b"\r\n") == 14 and small.count == large.count


def test_the_records_csv_is_made_in_a_worker_with_the_same_bytes(admin_client, db, monkeypatch):
    builders.record(db, activity="=SUM(A1)", person_name='Ann "Quoted", Jr', minutes=90, payment_pence=2500)
    builders.record(db, activity="Workshop", person_name="Bo", took_part_on=dt.date(2026, 2, 1))
    db.commit()
    params = ListParams.from_query({}, filter_names=involvement_records.FILTERS)
    expected = involvement_records.csv_text(db, params).encode()
    db.rollback()
    sent = _offloaded(monkeypatch)
    got = admin_client.get("/admin/involvement/records/export.csv")
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    name = f"involvement-records-{dt.datetime.now(dt.UTC):%Y-%m-%d}.csv"
    assert _disposition(got) == f'attachment; filename="{name}"'
    assert got.content == expected and expected.count(b"\r\n") == 3 and sent == ["csv_text"]


def test_the_network_csv_is_made_in_a_worker_and_audited_in_the_request(admin_client, db, monkeypatch):
    builders.member(db, "=evil@example.org", '=Evil, "Member"')
    builders.member(db, "bea@example.org", "Bea Best", access_needs="Captions, please")
    builders.member(db, "wendy@example.org", "Wendy", status=m.NetworkMemberStatus.PENDING)
    db.commit()
    params = ListParams.from_query({"q": "example.org"}, filter_names=network_members.MEMBER_FILTERS)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(network_members.csv_rows(db, params))  # what export_csv wrote
    expected = buffer.getvalue().encode("utf-8-sig")
    db.rollback()
    sent = _offloaded(monkeypatch)
    got = admin_client.get("/admin/involvement/network.csv", params={"q": "example.org"})
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    assert _disposition(got) == 'attachment; filename="lived-experience-network.csv"'
    assert got.headers["cache-control"] == "no-store"
    assert got.content == expected and got.content.count(b"\r\n") == 4 and sent == ["csv_body"]
    db.expire_all()
    audited = db.scalars(select(m.AuditEntry.summary).where(m.AuditEntry.entity == "network_member")).all()
    assert audited == ["Downloaded 3 network members as CSV (search 'example.org')"]


def test_a_broken_pool_gives_the_network_csv_a_503_and_writes_no_audit_entry(admin_client, db, monkeypatch):
    builders.member(db, "bea@example.org", "Bea Best")
    db.commit()
    _crash_first(monkeypatch)
    failed = admin_client.get("/admin/involvement/network.csv")
    assert failed.status_code == 503 and STOPPED in failed.text
    db.expire_all()
    assert not db.scalars(select(m.AuditEntry.id).where(m.AuditEntry.entity == "network_member")).all()


# ------------------------------------------------------------------------------------------------------ events


def test_the_attendee_csv_is_made_in_a_worker_with_the_same_bytes(admin_client, db, monkeypatch):
    event = rows.event(db, starts=rows.NOW + rows.days(5), title="Launch")
    org = factories.organisation(db, 'Mindful, "Futures"')
    S = m.InvitationStatus
    for name, status in (("=Ada", S.YES), ("Bo", S.WAITLISTED), ("Cy", S.MAYBE), ("Di", S.NO), ("Ed", S.INVITED)):
        rows.invite(db, event, factories.contact(db, name, organisation=org), status)
    db.commit()
    expected = attendees.attendees_csv(db, event.id).encode("utf-8-sig")
    db.rollback()
    sent = _offloaded(monkeypatch)
    got = admin_client.get(f"/admin/events/{event.id}/attendees.csv")
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    assert _disposition(got) == f'attachment; filename="{event.slug}-attendees.csv"'
    assert got.headers["cache-control"] == "no-store"
    assert got.content == expected and got.content.count(b"\r\n") == 4 and b"'=Ada" in got.content
    assert sent == ["attendees_csv"]
    missing = admin_client.get("/admin/events/999999/attendees.csv")
    assert missing.status_code == 404 and sent == ["attendees_csv"]  # no such event: nothing sent


# ------------------------------------------------------------------------------------------ reports and the map

OCTOBER = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)


def _report_data(db: Any) -> None:
    charity = factories.organisation(db, "Reported Charity", region_name="London", topics=["Psychosis"], user_led=True)
    for stage in (m.PartnershipStage.IDEA, m.PartnershipStage.FUNDED):
        deal = rows.partnership(db, stage=stage, created=OCTOBER)
        db.add(m.PartnershipMember(partnership_id=deal.id, side=m.Side.VCSE, organisation_id=charity.id))
    rows.subscription(db, "reader@example.org")
    db.commit()


def test_the_impact_report_and_its_csv_are_made_in_a_worker_with_the_same_figures(
    admin_client, db, settings, monkeypatch
):
    _report_data(db)
    period = dashboard_reports.Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    now = dt.datetime.now(dt.UTC)
    here = dashboard_reports.impact_report(db, period, now=now)
    expected = dashboard_reports.report_csv(here).encode()
    db.rollback()
    there = _run(lambda: offload.run_in_session(settings, dashboard_reports.impact_report, period, now=now))
    assert there == here and here.partnerships_started == 2
    sent = _offloaded(monkeypatch)
    page = admin_client.get("/admin/reports?from=2026-10-01&to=2026-10-31")
    assert page.status_code == 200 and "1 October 2026 to 31 October 2026" in page.text
    assert "VCSE organisations engaged, by region" in page.text
    got = admin_client.get("/admin/reports/impact.csv?from=2026-10-01&to=2026-10-31")
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    assert _disposition(got) == 'attachment; filename="impact-2026-10-01-to-2026-10-31.csv"'
    assert got.content == expected and b"2026-10-01,2026-10-31,Partnerships,Started,2" in expected
    assert sent == ["impact_report", "impact_csv"]
    bad = admin_client.get("/admin/reports?from=2026-13-01")
    assert bad.status_code == 200 and "Enter a date like" in bad.text


def test_a_broken_pool_gives_the_impact_report_a_503_page(admin_client, db, monkeypatch):
    _crash_first(monkeypatch)
    failed = admin_client.get("/admin/reports/impact.csv")
    assert failed.status_code == 503 and STOPPED in failed.text
    assert admin_client.get("/admin/reports/impact.csv").status_code == 200


def test_the_gaps_csv_is_made_in_a_worker_with_the_same_bytes(admin_client, db, monkeypatch):
    _report_data(db)
    expected = {sort: gaps.grid_csv(gaps.grid(db, sort=sort)).encode() for sort in (None, "most")}
    db.rollback()
    sent = _offloaded(monkeypatch)
    for sort in (None, "most"):
        got = admin_client.get("/admin/map/gaps.csv", params={"sort": sort} if sort else {})
        assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
        assert _disposition(got) == f'attachment; filename="gaps-{dt.date.today().isoformat()}.csv"'
        assert got.content == expected[sort]
    assert expected["most"] != expected[None] and sent == ["gaps_csv_text"] * 2


# ------------------------------------------------------------------------------------------ the funding import

FUNDING_CSV = (
    "external_ref,title,funder,deadlines,amount_min,amount_max,topics,regions,requires_vcse_partner,status\n"
    "OF-1,Offloaded awards,Offload Trust,Outline=2099-01-31 17:00; Full=2099-03-01,1000,5000,Carers,UK-wide,yes,"
    "published\n"
    "OF-2,Bad call,Nobody Fund,2099-02-01,9000,100,Unknown topic,,maybe,\n"
)


def test_a_funding_check_made_in_a_worker_is_the_check_made_here(db, settings):
    factories.organisation(db, "Offload Trust", m.OrgKind.FUNDER)
    db.commit()
    now, encoding = dt.datetime.now(dt.UTC), csvimport.Encoding("utf-8", True)
    here = funding_importer.run_import(db, FUNDING_CSV, apply=False, now=now, replace=["title"], encoding=encoding)
    db.rollback()
    there = _run(
        lambda: offload.run_in_session(
            settings, funding_admin.check_import, FUNDING_CSV, None, now, encoding, ["title"]
        )
    )
    assert there == here and (here.new, here.errors, here.encoding.name) == (1, 1, "UTF-8 with BOM")


def test_the_funding_import_checks_in_a_worker_and_writes_in_the_request(admin_client, db, monkeypatch):
    factories.organisation(db, "Offload Trust", m.OrgKind.FUNDER)
    db.commit()
    sent = _offloaded(monkeypatch)
    upload = admin_client.post(
        "/admin/funding-calls/import",
        files={"file": ("calls.csv", b"\xef\xbb\xbf" + FUNDING_CSV.encode(), "text/csv")},
        data={"_csrf_token": csrf_token(admin_client)},
    )
    assert upload.status_code == 200 and "funder: no organisation called" in upload.text
    assert "UTF-8 with BOM" in upload.text and "Offloaded awards" in upload.text
    good = FUNDING_CSV.rsplit("OF-2", 1)[0]
    refused = post_form(admin_client, "/admin/funding-calls/import/confirm", {"csv_text": FUNDING_CSV})
    assert refused.status_code == 422
    done = post_form(admin_client, "/admin/funding-calls/import/confirm", {"csv_text": good, "filename": "calls.csv"})
    assert done.status_code == 200 and "Imported: 1 new" in done.text
    assert sent == ["check_import"] * 3  # the upload's check, then each confirm's check pass
    db.expire_all()
    call = db.scalar(select(m.FundingCall).where(m.FundingCall.external_ref == "OF-1"))
    assert call is not None and call.title == "Offloaded awards"  # written and committed by the request


def test_a_broken_pool_gives_the_funding_preview_a_503_and_writes_nothing(admin_client, db, monkeypatch):
    factories.organisation(db, "Offload Trust", m.OrgKind.FUNDER)
    db.commit()
    _crash_first(monkeypatch)
    good = FUNDING_CSV.rsplit("OF-2", 1)[0]
    failed = post_form(admin_client, "/admin/funding-calls/import/confirm", {"csv_text": good})
    assert failed.status_code == 503 and STOPPED in failed.text
    db.expire_all()
    assert db.scalar(select(m.FundingCall.id)) is None and db.scalar(select(m.ImportBatch.id)) is None
