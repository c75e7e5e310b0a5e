"""The public privacy notice tells people what involvement keeps about them, why, and for how long."""

from __future__ import annotations

from crm.privacy.involvement import INTEREST_KEEP_DAYS


def test_the_privacy_notice_covers_involvement(client, settings):
    text = client.get("/privacy").text
    assert "The lived experience network." in text and "Some of this is about your health" in text
    assert "leaving deletes it" in text and "only the roundtable fellow sees it" in text
    assert "Interest in an involvement opportunity." in text and "Taking part." in text
    assert f"have not taken part in anything for {settings.retention_contact_years} year" in text
    assert "never confirm your email address, we delete what you sent" in text
    assert INTEREST_KEEP_DAYS == 365 and "anonymised a year after the opportunity closes" in text
