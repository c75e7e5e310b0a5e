"""A contact's link to an organisation given a role too long to keep: the contact's page again with the message on
that link's role field and the typed text kept, not a bare error page that lost it."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm import models as m
from tests import factories
from tests.conftest import post_form


def test_an_overlong_role_is_shown_on_its_row_with_the_text_kept(admin_client, db):
    org = factories.organisation(db, "Aster Voices")
    person = factories.contact(db, "Robin Hale", organisation=org, role="Trustee")
    db.commit()
    aff = db.scalar(select(m.Affiliation).where(m.Affiliation.contact_id == person.id))
    typed = "Peer support lead " * 15  # 270 characters; a role holds 200

    r = post_form(admin_client, f"/admin/affiliations/{aff.id}/edit", {"role": typed})

    assert r.status_code == 400
    assert "Robin Hale" in r.text and "Aster Voices" in r.text  # the contact's own page
    assert f'<a href="#f-role-{aff.id}">Role must be at most 200 characters' in r.text
    role_input = re.search(rf'<input id="f-role-{aff.id}"[^>]*>', r.text).group(0)
    assert f'value="{typed}"' in role_input and 'aria-invalid="true"' in role_input
    db.expire_all()
    assert db.get(m.Affiliation, aff.id).role == "Trustee"


def test_a_role_that_fits_is_saved(admin_client, db):
    org = factories.organisation(db, "Aster Voices")
    person = factories.contact(db, "Robin Hale", organisation=org, role="Trustee")
    db.commit()
    aff = db.scalar(select(m.Affiliation).where(m.Affiliation.contact_id == person.id))
    r = post_form(admin_client, f"/admin/affiliations/{aff.id}/edit", {"role": "Chair"}, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert db.get(m.Affiliation, aff.id).role == "Chair"
