"""Editors see and change only the partnerships their organisation belongs to (pages and API); admins see all.

Every partnership route in the app's route table must have a case here: a new route without one fails
``test_every_partnership_route_has_a_scope_case``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.directory.contacts import add_affiliation
from crm.partnerships import changes, rules
from tests import factories
from tests.conftest import post_form, sign_in_as

PREFIXES = ("/admin/partnerships", "/api/v1/partnerships")
NOW = dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class World:
    client: Any
    db: Any
    api: dict[str, str]
    uni: m.Organisation
    own_org: m.Organisation
    other_org: m.Organisation
    own: m.Partnership
    other: m.Partnership
    other_activity: m.PartnershipActivity
    own_person: m.Contact
    other_person: m.Contact

    def exists(self, p: m.Partnership) -> bool:
        pid = p.id
        self.db.expire_all()
        return self.db.get(m.Partnership, pid) is not None

    def title(self, p: m.Partnership) -> str:
        pid = p.id
        self.db.expire_all()
        return self.db.get(m.Partnership, pid).title


def _partnership(db: Any, title: str, academic: m.Organisation, vcse: m.Organisation) -> m.Partnership:
    data = rules.PartnershipInput(
        title=title,
        stage=rules.Stage.EXPLORING,
        members=[rules.MemberInput(m.Side.ACADEMIC, academic.id), rules.MemberInput(m.Side.VCSE, vcse.id)],
    )
    return changes.create_partnership(db, None, data, now=NOW)


@pytest.fixture
def world(client: Any, db: Any, settings: Any) -> World:
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    own_org = factories.organisation(db, "Aster Voices")
    other_org = factories.organisation(db, "Birch Circle")
    own = _partnership(db, "Our own study", uni, own_org)
    other = _partnership(db, "Someone else's study", uni, other_org)
    activity = changes.add_activity(
        db, None, other, kind=m.ActivityKind.CALL, occurred_at=NOW - dt.timedelta(days=1), summary="Private", now=NOW
    )
    own_person = factories.contact_via_form(db, "Ash Ownperson", "ash@aster.example.org")
    other_person = factories.contact_via_form(db, "Bo Otherperson", "bo@birch.example.org")
    add_affiliation(db, None, own_person, own_org, "", True)
    add_affiliation(db, None, other_person, other_org, "", True)
    _, key = create_api_key(db, "aster-editor", m.Role.EDITOR, organisation_id=own_org.id)
    user = sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    user.organisation_id = own_org.id
    db.commit()
    auth = {"Authorization": f"Bearer {key}"}
    return World(client, db, auth, uni, own_org, other_org, own, other, activity, own_person, other_person)


def _form(w: World, vcse: m.Organisation, **extra: str) -> dict[str, str]:
    return {
        "title": "New study",
        "stage": "idea",
        "member_side_0": "academic",
        "member_org_0": str(w.uni.id),
        "member_side_1": "vcse",
        "member_org_1": str(vcse.id),
        **extra,
    }


def _api_body(w: World, vcse: m.Organisation) -> dict[str, Any]:
    return {
        "title": "API study",
        "members": [{"side": "academic", "organisation_id": w.uni.id}, {"side": "vcse", "organisation_id": vcse.id}],
    }


# ------------------------------------------------------------------------------------------- one case per route


def page_list(w: World) -> None:
    page = w.client.get("/admin/partnerships").text
    assert "Our own study" in page and "Someone else" not in page


def page_board(w: World) -> None:
    page = w.client.get("/admin/partnerships/board").text
    assert "Our own study" in page and "Someone else" not in page


def page_bulk(w: World) -> None:
    """Bulk actions are the fellow's: an editor may not export or archive even their own partnership."""
    for action in ("export", "archive"):
        r = post_form(w.client, "/admin/partnerships/bulk", {"action": action, "ids": [w.own.id, w.other.id]})
        assert r.status_code == 403
    w.db.expire_all()
    assert w.db.get(m.Partnership, w.own.id).archived_at is None


def page_new(w: World) -> None:
    page = w.client.get("/admin/partnerships/new").text
    assert f'<option value="{w.own_org.id}" selected>' in page  # their organisation is filled in
    assert "Ash Ownperson" in page and "Bo Otherperson" not in page  # people from other organisations are private


def page_create(w: World) -> None:
    refused = post_form(w.client, "/admin/partnerships/new", _form(w, w.other_org))
    assert refused.status_code == 422 and "Keep your own organisation as a member" in refused.text
    assert w.db.scalar(select(func.count()).select_from(m.Partnership)) == 2
    made = post_form(w.client, "/admin/partnerships/new", _form(w, w.own_org), follow_redirects=False)
    assert made.status_code == 303


def page_detail(w: World) -> None:
    assert w.client.get(f"/admin/partnerships/{w.other.id}").status_code == 404
    assert w.client.get(f"/admin/partnerships/{w.own.id}").status_code == 200


def page_edit(w: World) -> None:
    assert w.client.get(f"/admin/partnerships/{w.other.id}/edit").status_code == 404
    assert w.client.get(f"/admin/partnerships/{w.own.id}/edit").status_code == 200


def page_update(w: World) -> None:
    other = post_form(w.client, f"/admin/partnerships/{w.other.id}/edit", _form(w, w.other_org, title="Hijacked"))
    assert other.status_code == 404 and w.title(w.other) == "Someone else's study"
    away = post_form(w.client, f"/admin/partnerships/{w.own.id}/edit", _form(w, w.other_org, title="Given away"))
    assert away.status_code == 422 and w.title(w.own) == "Our own study"
    ok = post_form(
        w.client, f"/admin/partnerships/{w.own.id}/edit", _form(w, w.own_org, title="Renamed"), follow_redirects=False
    )
    assert ok.status_code == 303 and w.title(w.own) == "Renamed"


def page_stage(w: World) -> None:
    assert post_form(w.client, f"/admin/partnerships/{w.other.id}/stage", {"stage": "proposal"}).status_code == 404
    w.db.expire_all()
    assert w.db.get(m.Partnership, w.other.id).stage == rules.Stage.EXPLORING
    moved = post_form(w.client, f"/admin/partnerships/{w.own.id}/stage", {"stage": "proposal"}, follow_redirects=False)
    assert moved.status_code == 303


def page_add_activity(w: World) -> None:
    data = {"kind": "call", "occurred_on": (NOW - dt.timedelta(days=1)).date().isoformat(), "summary": "Rang them"}
    assert post_form(w.client, f"/admin/partnerships/{w.other.id}/activities", data).status_code == 404
    ok = post_form(w.client, f"/admin/partnerships/{w.own.id}/activities", data, follow_redirects=False)
    assert ok.status_code == 303


def page_delete_activity(w: World) -> None:
    url = f"/admin/partnerships/{w.other.id}/activities/{w.other_activity.id}/delete"
    assert post_form(w.client, url).status_code == 404
    w.db.expire_all()
    assert w.db.get(m.PartnershipActivity, w.other_activity.id) is not None


def page_delete(w: World) -> None:
    assert post_form(w.client, f"/admin/partnerships/{w.other.id}/delete").status_code == 404
    assert w.exists(w.other)
    ok = post_form(w.client, f"/admin/partnerships/{w.own.id}/delete", follow_redirects=False)
    assert ok.status_code == 303 and not w.exists(w.own)


def api_list(w: World) -> None:
    items = w.client.get("/api/v1/partnerships", headers=w.api).json()["items"]
    assert [i["title"] for i in items] == ["Our own study"]


def api_create(w: World) -> None:
    refused = w.client.post("/api/v1/partnerships", json=_api_body(w, w.other_org), headers=w.api)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "members"
    body = _api_body(w, w.own_org)
    body["members"].append({"side": "vcse", "contact_id": w.other_person.id})
    someone_elses = w.client.post("/api/v1/partnerships", json=body, headers=w.api)
    assert someone_elses.status_code == 422 and "your own organisation" in someone_elses.json()["errors"][0]["message"]
    body["members"][-1]["contact_id"] = w.own_person.id
    assert w.client.post("/api/v1/partnerships", json=body, headers=w.api).status_code == 201
    assert w.client.post("/api/v1/partnerships", json=_api_body(w, w.own_org), headers=w.api).status_code == 201


def api_get(w: World) -> None:
    assert w.client.get(f"/api/v1/partnerships/{w.other.id}", headers=w.api).status_code == 404
    assert w.client.get(f"/api/v1/partnerships/{w.own.id}", headers=w.api).status_code == 200


def api_patch(w: World) -> None:
    other = w.client.patch(f"/api/v1/partnerships/{w.other.id}", json={"title": "Hijacked"}, headers=w.api)
    assert other.status_code == 404 and w.title(w.other) == "Someone else's study"
    away = w.client.patch(
        f"/api/v1/partnerships/{w.own.id}", json={"members": _api_body(w, w.other_org)["members"]}, headers=w.api
    )
    assert away.status_code == 422 and w.title(w.own) == "Our own study"
    ok = w.client.patch(f"/api/v1/partnerships/{w.own.id}", json={"title": "Renamed"}, headers=w.api)
    assert ok.status_code == 200 and w.title(w.own) == "Renamed"


def api_delete(w: World) -> None:
    assert w.client.delete(f"/api/v1/partnerships/{w.other.id}", headers=w.api).status_code == 404
    assert w.exists(w.other)
    assert w.client.delete(f"/api/v1/partnerships/{w.own.id}", headers=w.api).status_code == 204
    assert not w.exists(w.own)


def api_activities(w: World) -> None:
    assert w.client.get(f"/api/v1/partnerships/{w.other.id}/activities", headers=w.api).status_code == 404
    assert w.client.get(f"/api/v1/partnerships/{w.own.id}/activities", headers=w.api).status_code == 200


def api_add_activity(w: World) -> None:
    body = {"kind": "call", "occurred_at": (NOW - dt.timedelta(days=1)).isoformat(), "summary": "Rang them"}
    assert w.client.post(f"/api/v1/partnerships/{w.other.id}/activities", json=body, headers=w.api).status_code == 404
    assert w.client.post(f"/api/v1/partnerships/{w.own.id}/activities", json=body, headers=w.api).status_code == 201


P = "/admin/partnerships"
A = "/api/v1/partnerships"
ID = "{partnership_id}"
CASES: dict[tuple[str, str], Callable[[World], None]] = {
    ("GET", P): page_list,
    ("GET", f"{P}/board"): page_board,
    ("POST", f"{P}/bulk"): page_bulk,
    ("GET", f"{P}/new"): page_new,
    ("POST", f"{P}/new"): page_create,
    ("GET", f"{P}/{ID}"): page_detail,
    ("GET", f"{P}/{ID}/edit"): page_edit,
    ("POST", f"{P}/{ID}/edit"): page_update,
    ("POST", f"{P}/{ID}/stage"): page_stage,
    ("POST", f"{P}/{ID}/activities"): page_add_activity,
    ("POST", f"{P}/{ID}/activities/{{activity_id}}/delete"): page_delete_activity,
    ("POST", f"{P}/{ID}/delete"): page_delete,
    ("GET", A): api_list,
    ("POST", A): api_create,
    ("GET", f"{A}/{ID}"): api_get,
    ("PATCH", f"{A}/{ID}"): api_patch,
    ("DELETE", f"{A}/{ID}"): api_delete,
    ("GET", f"{A}/{ID}/activities"): api_activities,
    ("POST", f"{A}/{ID}/activities"): api_add_activity,
}


def _partnership_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if not route.path_format.startswith(PREFIXES):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                if method not in {"HEAD", "OPTIONS"}:
                    found.add((method, route.path_format))
    return found


def test_every_partnership_route_has_a_scope_case(app: Any) -> None:
    assert _partnership_routes(app) == set(CASES)


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_editor_reaches_only_their_organisations_partnerships(world: World, route: tuple[str, str]) -> None:
    CASES[route](world)


def test_an_editor_without_an_organisation_sees_none_and_cannot_create(client, db, settings) -> None:
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    charity = factories.organisation(db, "Aster Voices")
    p = _partnership(db, "Any study", uni, charity)
    _, key = create_api_key(db, "loose-editor", m.Role.EDITOR)
    db.commit()
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/partnerships", headers=auth).json()["items"] == []
    assert client.get(f"/api/v1/partnerships/{p.id}", headers=auth).status_code == 404
    body = {
        "title": "x",
        "members": [{"side": "academic", "organisation_id": uni.id}, {"side": "vcse", "organisation_id": charity.id}],
    }
    refused = client.post("/api/v1/partnerships", json=body, headers=auth)
    assert refused.status_code == 422 and "not linked to an organisation" in refused.json()["errors"][0]["message"]


def test_admins_see_every_partnership(client, db, settings) -> None:
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    a = _partnership(db, "First study", uni, factories.organisation(db, "Aster Voices"))
    b = _partnership(db, "Second study", uni, factories.organisation(db, "Birch Circle"))
    _, key = create_api_key(db, "admin", m.Role.ADMIN)
    db.commit()
    auth = {"Authorization": f"Bearer {key}"}
    assert {i["id"] for i in client.get("/api/v1/partnerships", headers=auth).json()["items"]} == {a.id, b.id}
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    page = client.get("/admin/partnerships").text
    assert "First study" in page and "Second study" in page
    assert client.get(f"/admin/partnerships/{b.id}/edit").status_code == 200
