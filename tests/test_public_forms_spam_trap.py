"""The public forms' spam trap (crm.public_forms): named so no autofill or password manager fills it (it was
``nickname``, which they do, and a filled trap drops the submission), off-screen, out of the tab order and the
accessibility tree; a filled one still thanks the sender, keeps nothing and is logged without what was typed."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm import public_forms
from tests.conftest import post_form
from tests.internships.test_hosts import offer as internship_offer
from tests.involvement.network_helpers import join_form
from tests.involvement.test_posting import offer as involvement_offer

# Words the autofill heuristics of Chrome, Firefox and Safari and the password managers look for in a field's name,
# id and label.
AUTOFILL_WORDS = (
    "name", "nick", "mail", "phone", "tel", "mobile", "address", "street", "city", "town", "post", "zip", "country",
    "company", "organi", "user", "login", "pass", "card", "birth", "title", "web", "url", "search", "comment",
)  # fmt: skip

ADD_GROUP = {"name": "Harbour Voices", "kind": "vcse", "submitter_name": "Sam", "submitter_email": "sam@example.org"}

FORMS = {
    "network": ("/involvement/network", lambda: join_form("robin@example.org"), m.NetworkMember),
    "involvement offer": ("/involvement/offer", involvement_offer, m.InvolvementOpportunity),
    "internship offer": ("/internships/offer", internship_offer, m.Internship),
    "add your group": ("/add-your-group", lambda: dict(ADD_GROUP), m.Organisation),
}


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def _trap(page: str) -> tuple[str, str]:
    """The trap's wrapper and its input on a page."""
    match = re.search(r'(<div[^>]*>)<label for="([^"]+)">([^<]*)</label>(<input[^>]*name="rt_leave_blank"[^>]*>)', page)
    assert match, "no spam trap on the page"
    return match.group(1), match.group(4)


@pytest.mark.parametrize("form", list(FORMS))
def test_the_trap_is_one_no_autofill_matches_and_nobody_meets(client, form):
    path = FORMS[form][0]
    page = client.get(path).text
    assert "nickname" not in page
    wrapper, field = _trap(page)
    assert 'class="visually-hidden"' in wrapper and 'aria-hidden="true"' in wrapper  # off-screen, not display:none
    assert 'tabindex="-1"' in field and 'autocomplete="off"' in field
    assert 'data-lpignore="true"' in field and 'data-1p-ignore="true"' in field and 'data-bwignore="true"' in field
    assert f'name="{public_forms.TRAP_FIELD}"' in field
    ident = re.search(r'id="([^"]+)"', field).group(1)
    for word in AUTOFILL_WORDS:
        assert word not in public_forms.TRAP_FIELD.lower() and word not in ident.lower(), word


@pytest.mark.parametrize("form", list(FORMS))
def test_a_filled_trap_is_thanked_kept_nowhere_and_logged_without_the_values(client, db, caplog, form):
    path, data, model = FORMS[form]
    with caplog.at_level(logging.WARNING, logger="crm.spam"):
        r = post_form(client, path, {**data(), public_forms.TRAP_FIELD: "Robin"})
    assert r.status_code == 200
    assert _count(db, model) == 0 and _count(db, m.OutboxMessage) == 0
    [record] = [r for r in caplog.records if r.name == "crm.spam"]
    assert form in record.getMessage() and public_forms.TRAP_FIELD in record.getMessage()
    assert "Robin" not in record.getMessage() and "@" not in record.getMessage()


def test_the_retired_name_is_still_a_trap(client, db, caplog):
    """No page shows ``nickname`` any more: a script written against the old form is a robot."""
    with caplog.at_level(logging.WARNING, logger="crm.spam"):
        r = post_form(client, "/internships/offer", internship_offer(nickname="buy now"))
    assert r.status_code == 200 and _count(db, m.Internship) == 0
    assert any("field nickname" in r.getMessage() for r in caplog.records if r.name == "crm.spam")


@pytest.mark.parametrize("form", list(FORMS))
def test_an_empty_trap_keeps_the_record(client, db, caplog, form):
    path, data, model = FORMS[form]
    with caplog.at_level(logging.WARNING, logger="crm.spam"):
        r = post_form(client, path, {**data(), public_forms.TRAP_FIELD: "  "})
    assert r.status_code == 200 and _count(db, model) == 1
    assert not [r for r in caplog.records if r.name == "crm.spam"]
