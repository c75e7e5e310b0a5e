"""The fellow's side: the network's member list (search, filters, CSV, a member's page), the matching page ranking
members for an opportunity with reasons, and invitations with a signed "yes, I'm interested" link. Only the fellow
sees any of it: editors, anonymous visitors and the public API never do."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from crm import models as m
from crm.involvement import alerts
from tests import factories
from tests.conftest import post_form, sign_in_as
from tests.involvement.network_helpers import join_and_confirm, link, outbox
from tests.involvement.opportunities_factory import make_opportunity


def _network(client, db):
    psychosis, carers = factories.topic(db, "Psychosis"), factories.topic(db, "Carers")
    db.commit()
    best = join_and_confirm(
        client, db, "best@example.org", name="Bea Best", topics=[str(psychosis.id)], kinds=["advisory-group"]
    )
    some = join_and_confirm(client, db, "some@example.org", name="Sam Some", access_needs="Captions, please")
    out = join_and_confirm(client, db, "out@example.org", name="Olly Out", topics=[str(carers.id)])
    return psychosis, best, some, out


def test_only_the_fellow_sees_the_network_and_the_matches(client, db, settings) -> None:
    opp = make_opportunity(db)
    db.commit()
    for path in (
        "/admin/involvement/network",
        "/admin/involvement/network.csv",
        f"/admin/involvement/{opp.id}/matches",
    ):
        assert client.get(path, follow_redirects=False).status_code in {302, 303, 401}
    sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    for path in (
        "/admin/involvement/network",
        "/admin/involvement/network.csv",
        f"/admin/involvement/{opp.id}/matches",
    ):
        assert client.get(path, follow_redirects=False).status_code == 403
    # Never in the public API or on a public page.
    assert client.get("/api/v1/network-members").status_code == 404
    document = client.get("/schema/openapi.json").json()
    assert not [path for path in document["paths"] if "network" in path]


def test_member_list_search_filters_csv_and_a_members_page(admin_client, db) -> None:
    psychosis, _best, some, _out = _network(admin_client, db)
    db.add(m.NetworkMember(email="waiting@example.org", name="Wendy Waiting"))
    db.commit()
    page = admin_client.get("/admin/involvement/network")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "4 members" in page.text and "Special-category data" in page.text
    found = admin_client.get("/admin/involvement/network", params={"q": "bea"})
    assert "Bea Best" in found.text and "Sam Some" not in found.text
    by_topic = admin_client.get("/admin/involvement/network", params={"topic": str(psychosis.id)})
    assert "Bea Best" in by_topic.text and "Olly Out" not in by_topic.text and "1 member" in by_topic.text
    by_kind = admin_client.get("/admin/involvement/network", params={"kind": "advisory-group"})
    assert "Bea Best" in by_kind.text and "Sam Some" not in by_kind.text
    pending = admin_client.get("/admin/involvement/network", params={"status": "pending"})
    assert "Wendy Waiting" in pending.text and "Bea Best" not in pending.text
    htmx = admin_client.get("/admin/involvement/network", headers={"HX-Request": "true"})
    assert "<h1>" not in htmx.text and "Bea Best" in htmx.text
    download = admin_client.get("/admin/involvement/network.csv", params={"q": "example.org"})
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert {r["email"] for r in rows} == {
        "best@example.org",
        "some@example.org",
        "out@example.org",
        "waiting@example.org",
    }
    audit = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity == "network_member"))
    assert audit.action == "export" and audit.actor == "fellow@example.org"
    assert audit.summary == "Downloaded 4 network members as CSV (search 'example.org')"
    bea = next(r for r in rows if r["email"] == "best@example.org")
    assert bea["topics"] == "Psychosis" and bea["kinds"] == "Advisory group member" and bea["alerts"] == "yes"
    assert next(r for r in rows if r["email"] == "some@example.org")["access_needs"] == "Captions, please"
    one = admin_client.get(f"/admin/involvement/network/{some.id}")
    assert one.status_code == 200 and "Captions, please" in one.text and some.consent_wording in one.text
    sub_id = db.scalar(select(m.Subscription.id).where(m.Subscription.email == "some@example.org"))
    assert f'href="/admin/subscribers/{sub_id}"' in one.text
    assert admin_client.get("/admin/involvement/network/999999").status_code == 404


def test_a_formula_in_a_name_is_harmless_in_the_csv(admin_client, db) -> None:
    join_and_confirm(admin_client, db, "sheet@example.org", name="=HYPERLINK(1)")
    rows = list(csv.reader(io.StringIO(admin_client.get("/admin/involvement/network.csv").content.decode("utf-8-sig"))))
    assert rows[1][0] == "'=HYPERLINK(1)"


def test_matches_are_ranked_with_reasons(admin_client, db) -> None:
    psychosis, _best, _some, _out = _network(admin_client, db)
    opp = make_opportunity(db, topic_ids=[str(psychosis.id)], accessibility_support="")
    db.commit()
    page = admin_client.get(f"/admin/involvement/{opp.id}/matches")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert text.index("Bea Best") < text.index("Sam Some") and "Olly Out" not in text
    assert "Topics they chose: Psychosis" in text and "They asked for: advisory group member" in text
    assert "does not say what support it offers" in text  # Sam told us about access needs
    assert "2 active members fit" in text
    everyone = admin_client.get(f"/admin/involvement/{opp.id}/matches", params={"show": "all"})
    assert "Olly Out" in everyone.text and "None of the topics they chose" in everyone.text


def test_inviting_chosen_members_sends_one_invitation_each_and_never_twice(admin_client, db) -> None:
    _psychosis, best, some, _out = _network(admin_client, db)
    opp = make_opportunity(db, title="Co-produce our study")
    db.commit()
    none = post_form(admin_client, f"/admin/involvement/{opp.id}/matches/invite", {})
    assert none.status_code == 422 and "Choose at least one member to invite." in none.text
    r = post_form(
        admin_client,
        f"/admin/involvement/{opp.id}/matches/invite",
        {"members": [str(best.id), str(some.id)], "note": "Your experience of peer support would help."},
    )
    assert r.status_code == 200 and "2 invitations are on their way." in r.text
    mails = outbox(db, "involvement_invitation")
    assert sorted(x.recipient for x in mails) == ["best@example.org", "some@example.org"]
    assert all("Your experience of peer support would help." in x.text_body for x in mails)
    assert all(not x.bulk for x in mails)  # a personal invitation, not a mailing
    again = post_form(admin_client, f"/admin/involvement/{opp.id}/matches/invite", {"members": [str(best.id)]})
    assert "No new invitations" in again.text and len(outbox(db, "involvement_invitation")) == 2
    assert "Invited" in admin_client.get(f"/admin/involvement/{opp.id}/matches").text
    assert set(alerts.invited(db, opp.id)) == {best.id, some.id}
    # Bea says yes from her invitation: an interest with source "invited".
    url = link(next(x for x in mails if x.recipient == "best@example.org"), "/involvement/network/invited/")
    admin_client.cookies.clear()
    yes = post_form(admin_client, url, {"note": ""})
    assert yes.status_code == 200 and "We have told the team" in yes.text
    db.expire_all()
    interest = db.scalar(select(m.InvolvementInterest))
    assert (interest.member_id, interest.source) == (best.id, "invited")


def test_nobody_can_be_invited_to_a_closed_opportunity(admin_client, db) -> None:
    _psychosis, best, _some, _out = _network(admin_client, db)
    opp = make_opportunity(db, days=-1)
    db.commit()
    r = post_form(admin_client, f"/admin/involvement/{opp.id}/matches/invite", {"members": [str(best.id)]})
    assert r.status_code == 422 and "not open" in r.text
    assert (
        db.scalar(
            select(func.count()).select_from(m.OutboxMessage).where(m.OutboxMessage.kind == "involvement_invitation")
        )
        == 0
    )
