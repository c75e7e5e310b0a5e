"""/admin/our-organisation: an editor keeps their own organisation's entry up to date; the fellow's decisions stay."""

from __future__ import annotations

from sqlalchemy import select

from crm import models as m
from crm.directory.organisations import get_organisation
from tests import factories
from tests.conftest import post_form, sign_in_as

URL = "/admin/our-organisation"


def _editor(client, db, settings, org: m.Organisation | None) -> m.User:
    user = sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    user.organisation_id = org.id if org else None
    db.commit()
    return user


def test_editor_updates_their_entry_and_the_fellows_choices_stay(client, db, settings):
    parent = factories.organisation_via_form(db, "Northfield University", kind="academic")
    org = factories.organisation_via_form(
        db,
        "Canal Walkers",
        description="Walks.",
        user_led="1",
        topics=["carers"],
        visibility="private",
        parent=parent.slug,
        review_status=m.ReviewStatus.APPROVED,
    )
    db.commit()
    _editor(client, db, settings, org)
    page = client.get(URL)
    assert page.status_code == 200 and "Canal Walkers: your directory entry" in page.text
    assert 'href="/admin/our-organisation">Our organisation</a>' in page.text  # in the editor's menu
    assert "not in the public directory" in page.text  # private: the fellow decides
    assert 'name="visibility"' not in page.text and 'name="parent"' not in page.text

    saved = post_form(
        client,
        URL,
        {
            "name": "Canal Walkers",
            "kind": "vcse",
            "description": "Weekly peer support walks along the canal.",
            "website": "https://canal.example.org",
            "topics": ["carers", "psychosis"],
            "visibility": "public",  # not the editor's to change: ignored
            "parent": "",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{URL}?notice=saved"
    org_id, parent_id = org.id, parent.id
    db.expunge_all()
    org = get_organisation(db, org_id)
    assert (
        org.description == "Weekly peer support walks along the canal." and org.website == "https://canal.example.org"
    )
    assert org.user_led is False  # the box was left unticked
    assert sorted(t.slug for t in org.topics) == ["carers", "psychosis"]
    assert org.visibility == m.Visibility.PRIVATE and org.parent_id == parent_id
    actors = db.scalars(
        select(m.AuditEntry.actor).where(m.AuditEntry.entity == "organisation", m.AuditEntry.entity_id == org.id)
    ).all()
    assert "editor@example.org" in actors
    assert "Changes saved." in client.get(f"{URL}?notice=saved").text
    assert "Changes saved." in client.get(f"{URL}?saved=1").text  # the older link still works


def test_bad_input_re_renders_with_messages_and_saves_nothing(client, db, settings):
    org = factories.organisation_via_form(db, "Canal Walkers", description="Walks.")
    db.commit()
    _editor(client, db, settings, org)
    response = post_form(client, URL, {"name": "", "kind": "vcse", "description": "Changed", "website": "not a url"})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.text and "Changed" in response.text  # the values are kept
    db.expire_all()
    assert db.get(m.Organisation, org.id).description == "Walks."


def test_an_editor_without_an_organisation_is_told_what_to_do(client, db, settings):
    _editor(client, db, settings, None)
    page = client.get(URL)
    assert page.status_code == 200 and "not linked to an organisation" in page.text
    assert 'action="/admin/our-organisation"' not in page.text
    assert post_form(client, URL, {"name": "Anything", "kind": "vcse"}).status_code == 403
    assert 'href="/admin/our-organisation"' not in client.get("/admin").text


def test_viewers_and_anonymous_visitors_are_refused(client, db, settings):
    assert client.get(URL, follow_redirects=False).status_code == 303  # to sign in
    sign_in_as(client, db, settings, "viewer@example.org", m.Role.VIEWER)
    assert client.get(URL).status_code == 403
