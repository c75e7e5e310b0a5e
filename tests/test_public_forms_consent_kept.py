"""A refused submit of "Get updates" (/subscribe) or the network's join form keeps the consent box as the person
left it: ticked if they ticked it (re-showing their own tick is not pre-ticking), empty if they did not, and empty
when they ticked it for wording that has since changed (the message asks them to read it again). /subscribe lost
the tick when another field was wrong, unlike the network form."""

from __future__ import annotations

import re

import pytest

from crm.involvement import network
from crm.mailing import consent
from tests.conftest import post_form
from tests.involvement.network_helpers import join_form


def _subscribe(**changes):
    data = {
        "email": "sam@example.org",
        "mailings": ["funding_digest"],
        "frequency": "weekly",
        "consent": "yes",
        "consent_version": consent.CONSENT_VERSION,
    }
    data.update(changes)
    return data


FORMS = {
    "/subscribe": (_subscribe, "consent-2020-old"),
    "/involvement/network": (lambda **c: {**join_form("sam@example.org"), **c}, "network-2020-v0"),
}


def _box(page: str) -> str:
    match = re.search(r'<input type="checkbox" id="f-consent-box"[^>]*>', page)
    assert match, "no consent box"
    return match.group(0)


@pytest.mark.parametrize("path", list(FORMS))
def test_a_tick_given_is_kept_when_another_field_is_wrong(client, db, path):
    data, _ = FORMS[path]
    r = post_form(client, path, data(email="not an address"))
    assert r.status_code in {400, 422} and 'id="f-email-error"' in r.text
    assert " checked" in _box(r.text) and "f-consent-error" not in r.text


@pytest.mark.parametrize("path", list(FORMS))
def test_a_box_left_empty_stays_empty(client, db, path):
    data, _ = FORMS[path]
    r = post_form(client, path, data(email="not an address", consent=""))
    assert r.status_code in {400, 422}
    assert " checked" not in _box(r.text) and 'aria-invalid="true"' in _box(r.text)


@pytest.mark.parametrize("path", list(FORMS))
def test_a_tick_given_to_old_wording_is_asked_again(client, db, path):
    data, old_version = FORMS[path]
    r = post_form(client, path, data(consent_version=old_version))
    assert r.status_code in {400, 422} and 'id="f-consent-error"' in r.text
    assert " checked" not in _box(r.text)
    assert f'value="{consent.CONSENT_VERSION if path == "/subscribe" else network.CONSENT_VERSION}"' in r.text


@pytest.mark.parametrize("path", list(FORMS))
def test_the_empty_form_is_not_pre_ticked(client, path):
    assert " checked" not in _box(client.get(path).text)
