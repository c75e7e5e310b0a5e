"""Archive (issue 17.4): organisations, contacts and partnerships leave the lists, the public directory, the board,
the nudges and the audiences, keep their history, and come back with "Restore"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from crm import models as m
from crm.partnerships.nudges import collect_nudges
from tests import factories
from tests.conftest import post_form
from tests.dashboard import factories as rows


def test_archived_organisations_leave_the_lists_and_the_public_directory_and_come_back(
    admin_client: Any, client: Any, db: Any
) -> None:
    factories.organisation(db, "Kept Trust")
    gone = factories.organisation(db, "Closed Down Trust")
    db.commit()
    r = post_form(admin_client, "/admin/organisations/bulk", {"action": "archive", "ids": [gone.id]})
    assert r.status_code == 200 and "1 of 1 organisations archived" in r.text
    listed = admin_client.get("/admin/organisations").text
    assert "Kept Trust" in listed and "Closed Down Trust" not in listed
    archived = admin_client.get("/admin/organisations?archived=yes").text
    assert "Closed Down Trust" in archived and "Kept Trust" not in archived
    both = admin_client.get("/admin/organisations?archived=all").text
    assert "Closed Down Trust" in both and "Kept Trust" in both
    public = client.get("/organisations").text
    assert "Kept Trust" in public and "Closed Down Trust" not in public
    assert client.get(f"/organisations/{gone.slug}").status_code == 404
    page = admin_client.get(f"/admin/organisations/{gone.id}").text
    assert "This organisation is archived" in page and "Restore from the archive" in page
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "archived", m.AuditEntry.entity_id == gone.id))
    assert entry.entity == "organisation" and entry.changes == {"archived": [False, True]}
    r = post_form(admin_client, "/admin/organisations/bulk", {"action": "restore", "ids": [gone.id]})
    assert "1 of 1 organisations restored from the archive" in r.text
    assert "Closed Down Trust" in admin_client.get("/admin/organisations").text
    assert client.get(f"/organisations/{gone.slug}").status_code == 200


def test_archived_contacts_are_left_out_of_event_audiences(admin_client: Any, db: Any, app: Any) -> None:
    from crm.events import audience
    from tests.events import factories as f

    org = factories.organisation(db, "Audience Org")
    factories.contact(db, "Here Person", organisation=org)
    away = factories.contact(db, "Away Person", organisation=org)
    e = f.event(db, app, now=dt.datetime.now(dt.UTC))
    db.commit()
    post_form(admin_client, "/admin/contacts/bulk", {"action": "archive", "ids": [away.id]})
    assert "Away Person" not in admin_client.get("/admin/contacts").text
    db.expire_all()
    people = audience.preview(db, e, audience.AudienceFilter(everyone=True)).people
    names = {p.name for p in people}
    assert "Here Person" in names and "Away Person" not in names


def test_archived_partnerships_leave_the_board_and_the_nudges(admin_client: Any, db: Any, settings: Any) -> None:
    quiet_since = rows.NOW - rows.days(200)
    p = rows.partnership(db, title="Old study", stage=m.PartnershipStage.ACTIVE, last_activity=quiet_since)
    db.commit()
    assert any(r.id == p.id for r in collect_nudges(db, now=rows.NOW, settings=settings).turned_dormant)
    post_form(admin_client, "/admin/partnerships/bulk", {"action": "archive", "ids": [p.id]})
    db.expire_all()
    assert "Old study" not in admin_client.get("/admin/partnerships").text
    assert "Old study" not in admin_client.get("/admin/partnerships/board").text
    assert "Old study" in admin_client.get("/admin/partnerships?archived=yes").text
    nudge = collect_nudges(db, now=rows.NOW, settings=settings)
    assert all(r.id != p.id for r in (*nudge.turned_quiet, *nudge.turned_dormant, *nudge.overdue))


def test_archiving_more_than_100_asks_first(admin_client: Any, db: Any) -> None:
    orgs = [factories.organisation(db, f"Bulk Archive {i:03d}") for i in range(101)]
    db.commit()
    form = {"action": "archive", "ids": [o.id for o in orgs]}
    r = post_form(admin_client, "/admin/organisations/bulk", form)
    assert "Archive: 101 organisations?" in r.text
    assert db.scalar(select(m.Organisation.id).where(m.Organisation.archived_at.isnot(None))) is None
    r = post_form(admin_client, "/admin/organisations/bulk", {**form, "confirm": "1"})
    assert "101 of 101 organisations archived" in r.text
