"""The fellow writes a campaign at /admin/campaigns: drafts saved on submit, forms that come back with their
messages, editing refused once sending starts, duplicates, history in plain words, the preview (sanitised HTML in
the sandboxed frame and the text part), and the list (search, status, sort, pages, flat statement counts)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.campaigns import campaigns as service
from crm.errors import FieldErrors
from tests.conftest import post_form, sign_in_as

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
GOOD = {
    "subject": "The MRC call is out",
    "preheader": "Join our briefing on Thursday",
    "body": "# Briefing\n\nCome to the briefing on **Thursday**. [Read the call](https://mrc.example/call).",
    "cta_label": "Book a place",
    "cta_url": "https://example.org/book",
    "sender_name": "Dr Ada Fellow",
    "track_opens": "1",
    "publish_as_news": "1",
}


def _campaign(db: Any, subject: str = "Spring news", **values: Any) -> m.Campaign:
    campaign = m.Campaign(subject=subject, body=values.pop("body", "Hello *all*."), **values)
    db.add(campaign)
    db.commit()
    return campaign


def _unescaped(response: Any) -> str:
    return html.unescape(response.text)


def test_only_the_fellow_writes_campaigns(client: Any, db: Any, settings: Any) -> None:
    response = client.get("/admin/campaigns", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")
    sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    assert client.get("/admin/campaigns").status_code == 403
    assert post_form(client, "/admin/campaigns/new", GOOD).status_code == 403
    assert post_form(client, "/admin/campaigns/preview", GOOD).status_code == 403
    assert db.scalar(select(func.count()).select_from(m.Campaign)) == 0


def test_a_draft_is_saved_on_submit_and_shown_with_its_history(admin_client: Any, db: Any) -> None:
    page = admin_client.get("/admin/campaigns/new")
    assert page.status_code == 200
    for name in ("subject", "preheader", "body", "cta_label", "cta_url", "sender_name"):
        assert f'name="{name}"' in page.text
    assert "Let SendGrid count opens" in page.text and "Also publish on the public news page" in page.text
    assert "How to format the body" in page.text  # the Markdown cheat-sheet

    response = post_form(admin_client, "/admin/campaigns/new", GOOD, follow_redirects=False)
    assert response.status_code == 303
    campaign = db.scalars(select(m.Campaign)).one()
    assert response.headers["location"] == f"/admin/campaigns/{campaign.id}?notice=created"
    assert campaign.status == m.CampaignStatus.DRAFT
    assert (campaign.subject, campaign.cta_label, campaign.sender_name) == (
        "The MRC call is out",
        "Book a place",
        "Dr Ada Fellow",
    )
    assert campaign.track_opens and not campaign.track_clicks and campaign.publish_as_news
    assert campaign.created_by == "fellow@example.org"

    detail = admin_client.get(response.headers["location"])
    assert detail.status_code == 200
    text = _unescaped(detail)
    assert "Draft saved." in text
    for link in ("audience", "send", "report", "edit"):
        assert f'href="/admin/campaigns/{campaign.id}/{link}"' in text
    assert f'src="/admin/campaigns/{campaign.id}/email"' in text  # the saved email in the sandboxed frame
    assert "Come to the briefing on *Thursday*. Read the call (https://mrc.example/call)." in text  # text part
    assert "fellow@example.org created" in text and "Subject: set to The MRC call is out" in text
    assert "Button label: set to Book a place" in text and "Let SendGrid count opens: set to yes" in text

    frame = admin_client.get(f"/admin/campaigns/{campaign.id}/email")
    assert frame.status_code == 200 and "sandbox" in frame.headers["content-security-policy"]
    assert re.search(r"<h1[^>]*>The MRC call is out</h1>", frame.text)
    assert ">Book a place</a>" in frame.text


def test_a_form_with_problems_comes_back_with_every_message_and_what_was_typed(admin_client: Any, db: Any) -> None:
    bad = {
        "subject": "",
        "preheader": "x" * 201,
        "body": "Read [this](javascript:alert(1)) and see ![](https://example.org/a.png) <script>x</script>",
        "cta_label": "Book a place",
        "cta_url": "",
        "sender_name": "Ada",
    }
    response = post_form(admin_client, "/admin/campaigns/new", bad)
    assert response.status_code == 422
    text = _unescaped(response)
    assert "There is a problem" in text
    assert "Subject is required." in text
    assert "Preview text must be at most 200 characters (it has 201)." in text
    assert "The link “this” uses a javascript: address" in text
    assert "needs a description (alt text)" in text
    assert "HTML tags" in text
    assert "Give the button a link, or leave the button label empty too." in text
    assert 'id="f-body-error"' in response.text and 'aria-invalid="true"' in response.text
    assert "Read [this](javascript:alert(1))" in text  # the body comes back as typed
    assert 'value="Book a place"' in response.text
    assert db.scalar(select(func.count()).select_from(m.Campaign)) == 0

    response = post_form(admin_client, "/admin/campaigns/new", {**GOOD, "cta_url": "http://example.org/book"})
    assert response.status_code == 422
    assert "The button link must be a full web address starting with https://." in _unescaped(response)
    response = post_form(admin_client, "/admin/campaigns/new", {**GOOD, "cta_label": "", "body": ""})
    text = _unescaped(response)
    assert "Body is required." in text and "Give the button a label" in text
    response = post_form(admin_client, "/admin/campaigns/new", {**GOOD, "subject": "a\nb", "sender_name": "x" * 121})
    text = _unescaped(response)
    assert "Sender name must be at most 120 characters" in text


def test_editing_a_draft_records_old_and_new_values_in_plain_words(admin_client: Any, db: Any) -> None:
    campaign = _campaign(db, "Spring news", cta_label="", cta_url="")
    form = admin_client.get(f"/admin/campaigns/{campaign.id}/edit")
    assert form.status_code == 200 and 'value="Spring news"' in form.text
    changed = {**GOOD, "subject": "Summer news", "body": "Hello *all*."}
    response = post_form(admin_client, f"/admin/campaigns/{campaign.id}/edit", changed, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/campaigns/{campaign.id}?notice=saved"
    db.refresh(campaign)
    assert campaign.subject == "Summer news" and campaign.cta_url == "https://example.org/book"
    text = _unescaped(admin_client.get(f"/admin/campaigns/{campaign.id}"))
    assert "Subject: Spring news → Summer news" in text
    assert "Button link: set to https://example.org/book" in text
    assert "Also publish on the news page: no → yes" in text

    # "Save and keep writing" saves and comes back to the form.
    again = post_form(
        admin_client, f"/admin/campaigns/{campaign.id}/edit", {**changed, "then": "edit"}, follow_redirects=False
    )
    assert again.headers["location"] == f"/admin/campaigns/{campaign.id}/edit?notice=saved"
    assert "Draft saved." in admin_client.get(again.headers["location"]).text

    # Saving again without a change writes no history entry.
    post_form(admin_client, f"/admin/campaigns/{campaign.id}/edit", changed)
    assert db.scalar(select(func.count()).select_from(m.AuditEntry).where(m.AuditEntry.entity == "campaign")) == 1

    bad = post_form(admin_client, f"/admin/campaigns/{campaign.id}/edit", {**changed, "subject": ""})
    assert bad.status_code == 422 and "Subject is required." in bad.text
    db.refresh(campaign)
    assert campaign.subject == "Summer news"


@pytest.mark.parametrize("status", [m.CampaignStatus.SENDING, m.CampaignStatus.SENT, m.CampaignStatus.CANCELLED])
def test_editing_is_refused_once_sending_has_started(admin_client: Any, db: Any, status: m.CampaignStatus) -> None:
    campaign = _campaign(db, "Gone out", status=status)
    page = admin_client.get(f"/admin/campaigns/{campaign.id}/edit")
    assert page.status_code == 409
    assert "can no longer be changed. Duplicate it to write a new one." in page.text
    response = post_form(admin_client, f"/admin/campaigns/{campaign.id}/edit", {**GOOD, "subject": "Changed"})
    assert response.status_code == 409 and "can no longer be changed" in response.text
    db.refresh(campaign)
    assert campaign.subject == "Gone out"
    detail = admin_client.get(f"/admin/campaigns/{campaign.id}")
    assert f'href="/admin/campaigns/{campaign.id}/edit"' not in detail.text and "Duplicate" in detail.text
    with pytest.raises(FieldErrors) as refused:
        service.update_draft(db, None, campaign, service.validate(GOOD), now=NOW)
    assert "campaign" in refused.value.errors


def test_a_scheduled_campaign_may_still_be_corrected(admin_client: Any, db: Any) -> None:
    campaign = _campaign(db, "Soon", status=m.CampaignStatus.SCHEDULED, send_at=NOW + dt.timedelta(days=30))
    page = admin_client.get(f"/admin/campaigns/{campaign.id}/edit")
    assert page.status_code == 200 and "This campaign is scheduled" in page.text
    response = post_form(
        admin_client, f"/admin/campaigns/{campaign.id}/edit", {**GOOD, "subject": "Sooner"}, follow_redirects=False
    )
    assert response.status_code == 303
    db.refresh(campaign)
    assert campaign.subject == "Sooner" and campaign.status == m.CampaignStatus.SCHEDULED


def test_duplicate_makes_a_new_draft_with_the_audience(admin_client: Any, db: Any) -> None:
    audience = {"subscribers": {"mailings": ["news"]}, "contacts": {"kinds": ["vcse"]}}
    original = _campaign(
        db,
        "Autumn news",
        status=m.CampaignStatus.SENT,
        audience=audience,
        recipients=120,
        sent_at=NOW,
        cta_label="Read more",
        cta_url="https://example.org/more",
        track_clicks=True,
        news_slug="autumn-news",
    )
    response = post_form(admin_client, f"/admin/campaigns/{original.id}/duplicate", follow_redirects=False)
    assert response.status_code == 303
    copy = db.scalars(select(m.Campaign).where(m.Campaign.id != original.id)).one()
    assert response.headers["location"] == f"/admin/campaigns/{copy.id}/edit?notice=duplicated"
    assert copy.subject == "Copy of Autumn news" and copy.status == m.CampaignStatus.DRAFT
    assert copy.audience == audience and copy.duplicated_from_id == original.id
    assert (copy.cta_label, copy.cta_url, copy.track_clicks) == ("Read more", "https://example.org/more", True)
    assert copy.recipients == 0 and copy.sent_at is None and copy.news_slug is None
    edit = admin_client.get(response.headers["location"])
    assert edit.status_code == 200 and "copied from the campaign you duplicated" in edit.text
    detail = _unescaped(admin_client.get(f"/admin/campaigns/{copy.id}"))
    assert "Copied from" in detail and f'href="/admin/campaigns/{original.id}"' in detail
    assert "Subject: set to Copy of Autumn news" in detail
    assert "duplicated" in _unescaped(admin_client.get(f"/admin/campaigns/{original.id}"))
    assert copy.subject == service.copy_subject("Autumn news")
    assert len(service.copy_subject("x" * 200)) == 200


def test_the_preview_shows_sanitised_html_in_the_frame_and_the_text_part(admin_client: Any, db: Any) -> None:
    form = {
        **GOOD,
        "body": "# Briefing\n\nRead [this](javascript:alert(1)) and [the call](https://mrc.example/call).\n\n"
        "<script>alert(1)</script>\n\n- one\n- two\n\n![The panel at the briefing](https://example.org/panel.jpg)",
    }
    response = post_form(admin_client, "/admin/campaigns/preview", form, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text  # the fragment only
    text = _unescaped(response)
    assert "Before this draft can be saved:" in text and "javascript: address" in text
    assert "Subject</dt><dd>The MRC call is out" in text
    assert "Hello Fellow," in text  # the fellow's own name in the greeting (sign_in_as names her "Fellow")
    assert "Read this and the call (https://mrc.example/call)." in text
    assert "- one\n- two" in text and "Book a place: https://example.org/book" in text
    assert "View in your browser: http" in text  # publish_as_news: the email links its news page
    src = html.unescape(re.search(r'<iframe class="mail-frame"[^>]* src="([^"]+)"', response.text)[1])
    assert 'sandbox="allow-same-origin"' in response.text
    frame = admin_client.get(src)
    assert frame.status_code == 200
    assert "sandbox" in frame.headers["content-security-policy"]
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert re.search(r"<h2[^>]*>Briefing</h2>", frame.text)
    assert "javascript:" not in frame.text and "<script" not in frame.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in frame.text
    assert 'href="https://mrc.example/call"' in frame.text
    assert "Picture: The panel at the briefing" in frame.text and "<img" not in frame.text  # nothing from the web
    assert db.scalar(select(func.count()).select_from(m.Campaign)) == 0  # a preview saves nothing

    tampered = admin_client.get(src[:-3] + "abc")
    assert tampered.status_code == 200 and "This preview has expired" in tampered.text


def test_without_javascript_preview_returns_the_form_with_the_preview(admin_client: Any, db: Any) -> None:
    campaign = _campaign(db, "Spring news")
    form = {**GOOD, "campaign_id": str(campaign.id), "subject": "Spring news, revised"}
    response = post_form(admin_client, "/admin/campaigns/preview", form)
    assert response.status_code == 200
    text = _unescaped(response)
    assert "<h1>Edit the campaign</h1>" in text
    assert f'action="/admin/campaigns/{campaign.id}/edit"' in text  # saving still saves this campaign
    assert 'value="Spring news, revised"' in text  # what was typed stays
    assert '<iframe class="mail-frame"' in text and "Text part" in text
    assert "Come to the briefing on *Thursday*." in text
    db.refresh(campaign)
    assert campaign.subject == "Spring news"
    assert post_form(admin_client, "/admin/campaigns/preview", {**GOOD, "campaign_id": "999"}).status_code == 404


def test_the_list_searches_filters_sorts_and_pages(admin_client: Any, db: Any) -> None:
    for i in range(25):
        db.add(m.Campaign(subject=f"Newsletter {i:02d}", body="x", created_at=NOW + dt.timedelta(hours=i)))
    db.add(
        m.Campaign(
            subject="The MRC call",
            body="x",
            status=m.CampaignStatus.SENT,
            recipients=1234,
            sent_at=NOW + dt.timedelta(days=5),
        )
    )
    db.add(
        m.Campaign(subject="Winter", body="x", status=m.CampaignStatus.SCHEDULED, send_at=NOW + dt.timedelta(days=9))
    )
    db.commit()
    page = admin_client.get("/admin/campaigns")
    assert page.status_code == 200
    text = _unescaped(page)
    assert "27 campaigns" in text and "New campaign" in text
    rows = re.findall(r'<a href="/admin/campaigns/\d+">([^<]+)</a>', text)
    assert rows[:3] == ["Winter", "The MRC call", "Newsletter 24"]  # most recent first: scheduled, sent, written
    assert len(rows) == 20 and 'rel="next"' in page.text
    assert "1,234 people" in text and "Sent " in text and "Scheduled for " in text
    assert 'aria-sort="descending"' in page.text  # the header of the list's sort

    next_url = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', page.text)[1])
    second = _unescaped(admin_client.get(next_url))
    assert re.findall(r'<a href="/admin/campaigns/\d+">([^<]+)</a>', second) == [
        f"Newsletter {i:02d}" for i in range(6, -1, -1)
    ]

    by_subject = _unescaped(admin_client.get("/admin/campaigns?sort=subject"))
    assert re.findall(r'<a href="/admin/campaigns/\d+">([^<]+)</a>', by_subject)[0] == "Newsletter 00"
    searched = admin_client.get("/admin/campaigns?q=mrc", headers={"HX-Request": "true"})
    assert "<html" not in searched.text
    assert re.findall(r'<a href="/admin/campaigns/\d+">([^<]+)</a>', searched.text) == ["The MRC call"]
    assert "1 campaign" in searched.text
    scheduled = _unescaped(admin_client.get("/admin/campaigns?status=scheduled"))
    assert re.findall(r'<a href="/admin/campaigns/\d+">([^<]+)</a>', scheduled) == ["Winter"]
    nothing = _unescaped(admin_client.get("/admin/campaigns?q=nothing-like-this"))
    assert "No campaigns match." in nothing


def test_the_list_is_a_flat_number_of_statements(admin_client: Any, db: Any, count_queries: Any) -> None:
    def statements(url: str) -> int:
        admin_client.get(url)  # warm
        with count_queries() as counted:
            assert admin_client.get(url).status_code == 200
        return counted.count

    assert "No campaigns yet." in admin_client.get("/admin/campaigns").text
    for i in range(3):
        db.add(m.Campaign(subject=f"Few {i}", body="x"))
    db.commit()
    few = statements("/admin/campaigns")
    for i in range(60):
        db.add(m.Campaign(subject=f"Many {i}", body="x", status=m.CampaignStatus.SENT, recipients=i, sent_at=NOW))
    db.commit()
    assert statements("/admin/campaigns") == few
    assert statements("/admin/campaigns?q=many&sort=subject") == few
    first = admin_client.get("/admin/campaigns")
    next_url = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', first.text)[1])
    assert statements(next_url) == few


def test_the_service_reads_api_shaped_values() -> None:
    data = service.validate({**GOOD, "track_opens": True, "track_clicks": "false", "publish_as_news": None})
    assert data.track_opens and not data.track_clicks and not data.publish_as_news
    with pytest.raises(FieldErrors) as refused:
        service.validate({"subject": "x" * 201, "body": "[a](data:text/html,hi)", "cta_url": "https://x.org"})
    assert set(refused.value.errors) == {"subject", "body", "cta_label"}


def test_a_body_too_long_for_the_frame_url_is_posted_into_the_frame(
    admin_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm.campaigns import preview

    monkeypatch.setattr(preview, "MAX_TOKEN", 10)
    response = post_form(admin_client, "/admin/campaigns/preview", GOOD, headers={"HX-Request": "true"})
    assert 'target="campaign-preview-frame"' in response.text and 'name="campaign-preview-frame"' in response.text
    assert "Show the HTML part" in response.text and "/admin/campaigns/preview/frame/" not in response.text
    frame = post_form(admin_client, "/admin/campaigns/preview/frame", GOOD)
    assert frame.status_code == 200 and "sandbox" in frame.headers["content-security-policy"]
    assert re.search(r"<h1[^>]*>The MRC call is out</h1>", frame.text) and ">Book a place</a>" in frame.text
