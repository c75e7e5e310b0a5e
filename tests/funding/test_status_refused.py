"""A funding call's status form posted without a status it knows: the call's page answers with the reason, rather
than a redirect that changed nothing and said nothing."""

from __future__ import annotations

from crm import models as m
from tests import factories
from tests.conftest import post_form
from tests.funding.helpers import make_call


def test_a_missing_or_unknown_status_is_refused_with_a_message(admin_client, db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    call = make_call(db, funder, title="Community awards")
    db.commit()
    before = call.status
    for data in ({}, {"status": "bogus"}):
        response = post_form(admin_client, f"/admin/funding-calls/{call.id}/status", data, follow_redirects=False)
        assert response.status_code == 422, data
        assert "There is a problem" in response.text and "status" in response.text.lower()
        assert "Community awards" in response.text
    db.expire_all()
    assert db.get(m.FundingCall, call.id).status == before
