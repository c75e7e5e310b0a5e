"""What happened to a campaign: figures from webhook events (unique and total), unsubscribes, the first week,
clicks per link, the CSV, the report page with and without a transport that reports delivery, the contact's
timeline, and a statement count that does not grow with the campaign."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from litestar.testing import TestClient

from crm import models as m
from crm.app import create_app
from crm.campaigns import figures
from crm.mailing import subscriptions
from crm.mailing.compliance import CONTACT_STREAM
from crm.mailing.consent import How
from tests import factories
from tests.campaigns.report_data import START, campaign, event, post_events
from tests.conftest import BASE_URL, sign_in_as

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
URL_A = "https://www.ukri.org/opportunity/mrc-call"
URL_B = "https://roundtable.example.org/events/briefing"


def _story(db):
    """Five recipients (three subscribers, two directory contacts) and what SendGrid reported about each."""
    sent = campaign(db, 5, contacts=2)
    o0, o1, o2, o3, o4 = sent.outbox
    o4.status = m.OutboxStatus.SUPPRESSED  # held back at claim time: never handed to the provider
    o4.sent_at = None
    post_events(
        db,
        [
            event(o0, "processed", START),
            event(o0, "delivered", START + H),
            event(o0, "open", START + 2 * H),
            event(o0, "open", START + 3 * H),
            event(o0, "click", START + 2 * H, url=URL_A),
            event(o0, "click", START + 3 * H, url=URL_A),
            event(o0, "click", START + 3 * H, url=URL_B),
            event(o0, "open", START + 2 * D + H),
            event(o1, "deferred", START + 10 * dt.timedelta(minutes=1)),
            event(o1, "delivered", START + H),
            event(o1, "open", START + D + H),
            event(o1, "click", START + D + H, url=URL_A),
            event(o2, "bounce", START + 5 * dt.timedelta(minutes=1), type="bounce", reason="550 no such user"),
            event(o3, "delivered", START + 2 * H),
            event(o3, "spamreport", START + 5 * H),
        ],
    )
    db.commit()
    return sent


def test_figures_from_webhook_events_count_people_and_events(db):
    sent = _story(db)
    f = figures.figures(db, sent.campaign.id, reported=True)
    assert (f.recipients, f.queued, f.sent, f.waiting, f.not_sent) == (5, 5, 4, 0, 1)
    assert f.not_sent_by_status == {"suppressed": 1}
    assert f.event("delivered") == figures.Count(3, 3)
    assert f.event("deferred") == figures.Count(1, 1)
    assert f.event("bounced") == figures.Count(1, 1)
    assert f.event("dropped") == figures.Count(0, 0)
    assert f.event("spam_reports") == figures.Count(1, 1)
    # Unique: people (distinct outbox rows); total: every open and click.
    assert f.event("opened") == figures.Count(2, 4)
    assert f.event("clicked") == figures.Count(2, 4)
    assert [(link.url, link.unique, link.total) for link in f.links] == [(URL_A, 2, 3), (URL_B, 1, 1)]
    assert f.opens_known and f.clicks_known


def test_the_first_week_counts_people_per_day(db):
    sent = _story(db)
    days = figures.figures(db, sent.campaign.id, reported=True).days
    assert [d.number for d in days] == [1, 2, 3, 4, 5, 6, 7]
    assert days[0].start == START and days[6].start == START + 6 * D
    assert days[0].counts == {"delivered": 3, "open": 1, "click": 1}  # o0 opened twice that day: one person
    assert days[1].counts == {"delivered": 0, "open": 1, "click": 1}
    assert days[2].counts == {"delivered": 0, "open": 1, "click": 0}
    assert all(d.counts == {"delivered": 0, "open": 0, "click": 0} for d in days[3:])


def test_events_of_other_campaigns_and_after_the_first_week_are_left_out(db):
    mine, other = campaign(db, 1), campaign(db, 1)
    post_events(
        db,
        [
            event(mine.outbox[0], "open", START + 8 * D),
            event(other.outbox[0], "open", START + H),
            event(other.outbox[0], "click", START + H, url=URL_A),
        ],
    )
    f = figures.figures(db, mine.campaign.id, reported=True)
    assert f.event("opened") == figures.Count(1, 1)  # counted, but outside the chart's week
    assert all(d.counts["open"] == 0 for d in f.days)
    assert f.event("clicked") == figures.Count() and f.links == []


def test_unsubscribed_counts_withdrawals_from_the_campaign_stream_after_it_started(db):
    sent = campaign(db, 5, contacts=2)
    r0, r1, r2, r3, _r4 = sent.recipients

    def withdrawal(r, action, mailings, at):
        db.add(
            m.ConsentEntry(email=r.email, action=action, mailings=mailings, mechanism="unsubscribe link", created_at=at)
        )

    withdrawal(r0, m.ConsentAction.UNSUBSCRIBE, ["news"], START + H)  # counts
    withdrawal(r1, m.ConsentAction.UNSUBSCRIBE, ["event_news"], START + H)  # another stream
    withdrawal(r1, m.ConsentAction.UNSUBSCRIBE, ["news"], START - D)  # before this campaign
    withdrawal(r2, m.ConsentAction.UNSUBSCRIBE_ALL, [], START + D)  # everything: counts
    # A directory contact leaves the fellow's emails through the link (the stream's own consent-log entry).
    subscriptions.unsubscribe(db, r3.email, CONTACT_STREAM, How(mechanism="unsubscribe link"), START + 2 * H)
    post_events(db, [event(sent.outbox[4], "unsubscribe", START + 3 * H)])  # the provider's own link
    db.commit()
    assert figures.figures(db, sent.campaign.id, reported=True).unsubscribed == 4


def test_a_draft_has_no_figures_and_an_unknown_campaign_is_not_found(db):
    draft = campaign(db, 0, started=None, status=m.CampaignStatus.DRAFT)
    f = figures.figures(db, draft.campaign.id, reported=True)
    assert (f.recipients, f.queued, f.days, f.links, f.unsubscribed) == (0, 0, [], [], 0)
    with pytest.raises(figures.NotFound):
        figures.figures(db, 999_999, reported=True)


@pytest.mark.parametrize("track", [False])
def test_tracking_off_means_opens_and_clicks_are_not_known(db, track):
    f = figures.figures(db, campaign(db, 1, track=track).campaign.id, reported=True)
    assert not f.opens_known and not f.clicks_known


def _busy(db, n):
    sent = campaign(db, n, contacts=n // 3)
    events = []
    for i, o in enumerate(sent.outbox):
        events += [event(o, "delivered", START + H), event(o, "open", START + 2 * H)]
        events.append(event(o, "click", START + 3 * H, url=f"{URL_A}?n={i % 4}"))
        db.add(m.ConsentEntry(email=o.recipient, action=m.ConsentAction.UNSUBSCRIBE, mailings=[o.mailing]))
    post_events(db, events)
    db.commit()
    return sent.campaign.id


def test_figures_cost_the_same_statements_for_3_and_60_recipients(db, count_queries):
    small, large = _busy(db, 3), _busy(db, 60)
    counts = []
    for campaign_id, n in ((small, 3), (large, 60)):
        db.expire_all()
        with count_queries() as q:
            f = figures.figures(db, campaign_id, reported=True)
        assert f.recipients == n and f.event("clicked").unique == n and f.unsubscribed == n
        counts.append(q.count)
    assert counts[0] == counts[1] <= 6, counts


def test_csv_rows_cost_two_statements_per_thousand(db, count_queries):
    campaign_id = _busy(db, 30)
    with count_queries() as q:
        rows = list(figures.recipient_rows(db, campaign_id))
    assert len(rows) == 31 and q.count == 3  # a batch of 30 (two statements) and the empty batch that ends it


# --- pages ---------------------------------------------------------------------------------------------------


def _csv(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_lists_every_recipient_with_their_latest_status(admin_client, db):
    sent = _story(db)
    sent.recipients[1].name = "=HYPERLINK(evil)"
    db.commit()
    response = admin_client.get(f"/admin/campaigns/{sent.campaign.id}/report.csv")
    assert f"campaign-{sent.campaign.id}-recipients" in response.headers["content-disposition"]
    rows = _csv(response)
    assert rows[0] == figures.CSV_HEADER
    by_email = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert len(by_email) == 5
    first, second, third, fourth, fifth = (by_email[r.email] for r in sent.recipients)
    assert (first["status"], first["opens"], first["clicks"], first["audience"]) == ("clicked", "3", "3", "subscriber")
    assert first["delivered_at"] == (START + H).isoformat() and first["first_opened_at"] == (START + 2 * H).isoformat()
    assert second["name"] == "'=HYPERLINK(evil)"  # never a formula in a spreadsheet
    assert third["status"] == "bounced"
    assert (fourth["status"], fourth["audience"]) == ("reported as spam", "directory contact")
    assert fifth["status"] == "not sent: address blocked or withdrew" and fifth["delivery_report"] == ""


def test_the_local_transport_says_delivery_and_engagement_are_not_reported(admin_client, db, settings):
    assert settings.mail_transport == "local"
    sent = _story(db)
    html = admin_client.get(f"/admin/campaigns/{sent.campaign.id}/report").text
    assert "Delivery and engagement are <strong>not reported</strong>" in html
    assert '<th scope="row">Delivered</th><td>Not reported</td>' in html
    assert '<th scope="row">Opened</th><td colspan="2">Not reported</td>' in html
    assert '<th scope="row">Queued</th><td>5</td>' in html and '<th scope="row">Not sent</th><td>1</td>' in html
    assert "<svg" not in html and "Clicks per link" not in html  # no chart of zeros


@pytest.fixture(scope="module")
def reporting_app(app):
    """The same database, mail through SendGrid with its signed webhook: delivery is reported."""
    application = create_app(
        app.state.settings.replace(
            mail_transport="sendgrid", sendgrid_api_key="SG.test", sendgrid_webhook_public_key="MFkwEwYHKoZIzj0CAQ=="
        )
    )
    yield application
    application.state.engine.dispose()


def test_with_sendgrid_the_page_shows_figures_chart_and_links(reporting_app, db, settings):
    sent = _story(db)
    with TestClient(reporting_app, base_url=BASE_URL) as client:
        sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
        html = client.get(f"/admin/campaigns/{sent.campaign.id}/report").text
    assert "not reported" not in html.lower()
    assert '<th scope="row">Delivered</th><td>3 (75.0%)</td>' in html
    assert '<th scope="row">Opened</th><td>2 (66.7%)</td><td>4</td>' in html
    assert '<svg class="chart" role="img"' in html and "Day 1: Delivered 3, Opened 1, Clicked 1" in html
    assert "<caption>People per day" in html
    assert f'<td class="history">{URL_A}</td><td>2</td><td>3</td>' in html


def test_report_pages_are_for_admins_and_an_unknown_campaign_is_404(client, admin_client, db, settings):
    sent = campaign(db, 1)
    db.commit()
    assert admin_client.get("/admin/campaigns/999999/report").status_code == 404
    assert admin_client.get("/admin/campaigns/999999/report.csv").status_code == 404
    client.cookies.clear()
    sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    assert client.get(f"/admin/campaigns/{sent.campaign.id}/report").status_code == 403
    assert client.get(f"/admin/campaigns/{sent.campaign.id}/report.csv").status_code == 403


# --- the contact's record ----------------------------------------------------------------------------------------


def test_campaign_emails_and_their_events_are_on_the_contacts_timeline(admin_client, db):
    person = factories.contact(db, "Jo Bloggs", "jo@example.org")
    sent = campaign(db, 1, subject="Join our briefing", emails=["jo@example.org"], contact_ids=[person.id])
    o = sent.outbox[0]
    post_events(
        db,
        [
            event(o, "delivered", START + H),
            event(o, "open", START + 2 * H),
            event(o, "click", START + 3 * H, url=URL_A),
        ],
    )
    db.commit()
    html = admin_client.get(f"/admin/contacts/{person.id}/timeline").text
    assert "Email sent" in html
    assert f'<a href="/admin/campaigns/{sent.campaign.id}/report">Join our briefing</a>' in html
    for line in ("Delivered", "Opened", "Clicked a link"):
        assert f"<li>{line}</li>" in html
    bounced = campaign(db, 1, subject="Second news", emails=["jo@example.org"])
    post_events(db, [event(bounced.outbox[0], "bounce", START + H, type="bounce")])
    db.commit()
    html = admin_client.get(f"/admin/contacts/{person.id}/timeline").text
    assert "Second news" in html and "<li>Bounced</li>" in html
