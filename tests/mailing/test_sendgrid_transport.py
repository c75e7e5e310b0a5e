"""The SendGrid transport against a local HTTP server playing SendGrid: every status, timeouts, drops, batching."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from crm.mailing.transports.base import OutgoingEmail, SendOutcome
from crm.mailing.transports.sendgrid import SendGridTransport, plan_requests
from crm.settings import Settings
from tests.mailing.fake_sendgrid import FakeSendGrid
from tests.mailing.sendgrid_schema import validate_payload


def _settings(url: str, **kw) -> Settings:
    base = {
        "sendgrid_api_url": url,
        "sendgrid_api_key": "SG.test",
        "sendgrid_timeout": 1.0,
        "mail_rate_per_second": 0.0,
    }
    base.update(kw)
    return Settings(**base)


def _email(i: int = 1, *, bulk: bool = False, kind: str = "sign_in", attachments=None) -> OutgoingEmail:
    return OutgoingEmail(
        outbox_id=i,
        kind=kind,
        to=f"person{i}@example.org",
        to_name=f"Person {i}",
        subject=f"Subject {i}",
        text=f"Text for {i}",
        html=f"<p>HTML for {i}</p>",
        headers={
            "List-Unsubscribe": f"<https://crm.example.org/u/t{i}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        if bulk
        else {},
        attachments=attachments or [],
        bulk=bulk,
    )


@pytest.fixture
def fake():
    with FakeSendGrid() as server:
        yield server


def test_client_points_at_configured_host_with_timeout(fake):
    transport = SendGridTransport(_settings(fake.url))
    client = transport.client()
    assert client.host == fake.url and client.client.timeout == 1.0


def test_202_is_sent_with_message_id_and_valid_payload(fake):
    fake.script(202)
    [result] = SendGridTransport(_settings(fake.url)).send_many([_email()])
    assert result.outcome == SendOutcome.SENT and result.provider_message_id == "msg1"
    request = fake.requests[0]
    assert request["path"] == "/v3/mail/send" and request["headers"]["Authorization"] == "Bearer SG.test"
    validate_payload(request["json"])
    assert request["json"]["personalizations"][0]["custom_args"] == {"crm_outbox_id": "1", "crm_kind": "sign_in"}


@pytest.mark.parametrize(
    ("behaviour", "outcome"),
    [
        (400, SendOutcome.FAILED),
        (413, SendOutcome.FAILED),
        (401, SendOutcome.HALT),
        (403, SendOutcome.HALT),
        (500, SendOutcome.RETRY),
        (503, SendOutcome.RETRY),
        ("502-html", SendOutcome.RETRY),
        ("slow", SendOutcome.AMBIGUOUS),
        ("drop", SendOutcome.AMBIGUOUS),
    ],
)
def test_status_mapping(fake, behaviour, outcome):
    fake.script(behaviour)
    [result] = SendGridTransport(_settings(fake.url)).send_many([_email()])
    assert result.outcome == outcome, result
    if behaviour == "502-html":
        assert "502" in result.error and "Bad Gateway" in result.error
    if behaviour == 400:
        assert "error 400" in result.error


def test_429_with_reset_header_and_the_whole_transport_pauses(fake):
    reset = int((dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).timestamp())
    fake.script(("429", reset), 202)
    transport = SendGridTransport(_settings(fake.url))
    [result] = transport.send_many([_email(1)])
    assert result.outcome == SendOutcome.RETRY and result.retry_at == dt.datetime.fromtimestamp(reset, dt.UTC)
    # Until the reset time nothing more is sent: the whole transport slows down, not one worker.
    results = transport.send_many([_email(2), _email(3)])
    assert all(r.outcome == SendOutcome.RETRY for r in results) and fake.request_count == 1


def test_429_without_header_retries_later(fake):
    fake.script(("429", None))
    [result] = SendGridTransport(_settings(fake.url)).send_many([_email()])
    assert result.outcome == SendOutcome.RETRY and result.retry_at is None


def test_401_stops_the_rest_of_the_tick(fake):
    fake.script(401, 202)
    transport = SendGridTransport(_settings(fake.url, sendgrid_concurrency=1))
    results = transport.send_many([_email(i) for i in range(1, 6)])
    assert all(r.outcome == SendOutcome.HALT for r in results)
    assert fake.request_count == 1


def test_connection_refused_is_retry():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    [result] = SendGridTransport(_settings(f"http://127.0.0.1:{port}")).send_many([_email()])
    assert result.outcome == SendOutcome.RETRY and "could not reach" in result.error


def test_bulk_messages_are_batched_up_to_1000_per_request(fake):
    emails = [_email(i, bulk=True, kind="funding_digest") for i in range(1, 2501)]
    transport = SendGridTransport(_settings(fake.url))
    results = transport.send_many(emails)
    assert all(r.outcome == SendOutcome.SENT for r in results)
    assert fake.request_count == 3 and fake.personalizations == 2500
    for request in fake.requests:
        payload = request["json"]
        validate_payload(payload)
        assert [c["type"] for c in payload["content"]] == ["text/plain", "text/html"]
        first = payload["personalizations"][0]
        assert first["substitutions"]["-crm_html-"].startswith("<p>HTML for")
        assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "@" not in str(first["custom_args"])


def test_rejected_batch_falls_back_to_one_by_one(fake):
    fake.script(400, 202, 400, 202)
    emails = [_email(i, bulk=True, kind="funding_digest") for i in range(1, 4)]
    results = SendGridTransport(_settings(fake.url, sendgrid_concurrency=1)).send_many(emails)
    assert [r.outcome for r in results] == [SendOutcome.SENT, SendOutcome.FAILED, SendOutcome.SENT]
    assert fake.request_count == 4
    assert [len(r["json"]["personalizations"]) for r in fake.requests] == [3, 1, 1, 1]


def test_large_and_attachment_messages_go_one_per_request():
    big = _email(1, bulk=True, kind="funding_digest")
    big = OutgoingEmail(**{**{f: getattr(big, f) for f in big.__dataclass_fields__}, "html": "x" * 20_000})
    invite = _email(
        2,
        bulk=True,
        kind="event_invite",
        attachments=[{"kind": "calendar", "method": "REQUEST", "content": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}],
    )
    small = [_email(i, bulk=True, kind="funding_digest") for i in range(3, 6)]
    plan = plan_requests([big, invite, *small])
    assert sorted(len(r.emails) for r in plan) == [1, 1, 3]
    assert [r.batch for r in plan if len(r.emails) == 1] == [False, False]


def test_same_address_twice_splits_the_batch():
    a = _email(1, bulk=True, kind="funding_digest")
    b = OutgoingEmail(**{**{f: getattr(a, f) for f in a.__dataclass_fields__}, "outbox_id": 2})
    assert [len(r.emails) for r in plan_requests([a, b])] == [1, 1]


def test_rate_limit_paces_messages():
    from crm.mailing.transports.sendgrid import RateLimiter

    clock = [0.0]
    limiter = RateLimiter(10.0, clock=lambda: clock[0])
    limiter.acquire(5)
    assert limiter._next == pytest.approx(0.5)
    limiter.acquire(5)
    assert limiter._next == pytest.approx(1.0)


def test_each_request_is_reported_as_soon_as_it_is_answered(fake):
    """Issue 15.3: the dispatcher records a request's outcomes before the next request goes out."""
    emails = [_email(i, bulk=True, kind="funding_digest") for i in range(1, 2501)]
    reports = []

    def report(group):
        reports.append((len(group), fake.request_count, [e.outbox_id for e, _ in group]))

    results = SendGridTransport(_settings(fake.url, sendgrid_concurrency=1)).send_many(emails, report=report)
    assert [(size, requests_seen) for size, requests_seen, _ in reports] == [(1000, 1), (1000, 2), (500, 3)]
    assert sorted(i for _, _, ids in reports for i in ids) == list(range(1, 2501))  # each exactly once
    assert all(r.outcome == SendOutcome.SENT for r in results)


def test_a_rejected_batch_reports_each_one_by_one_resend_once(fake):
    fake.script(400, 202, 400, 202)
    emails = [_email(i, bulk=True, kind="funding_digest") for i in range(1, 4)]
    reports = []
    SendGridTransport(_settings(fake.url, sendgrid_concurrency=1)).send_many(emails, report=reports.append)
    assert [[(e.outbox_id, r.outcome) for e, r in group] for group in reports] == [
        [(1, SendOutcome.SENT)],
        [(2, SendOutcome.FAILED)],
        [(3, SendOutcome.SENT)],
    ]


def test_the_body_is_json_encoded_once_and_posted_as_is_through_the_official_client(fake, monkeypatch):
    import json
    import types

    import python_http_client.client as http_client

    from crm.mailing.transports import sendgrid

    def refuse(*args, **kwargs):
        raise AssertionError("the request body was JSON-encoded a second time")

    monkeypatch.setattr(http_client, "json", types.SimpleNamespace(dumps=refuse, loads=json.loads))
    calls = []
    original = sendgrid.substitutions_for
    monkeypatch.setattr(sendgrid, "substitutions_for", lambda e: calls.append(e.outbox_id) or original(e))
    emails = [_email(i, bulk=True, kind="funding_digest") for i in range(1, 1201)]
    results = SendGridTransport(_settings(fake.url)).send_many([*emails, _email(5000)])
    assert all(r.outcome == SendOutcome.SENT for r in results)
    assert sorted(calls) == list(range(1, 1201))  # each recipient's rendering encoded once, for size and body
    assert fake.personalizations == 1201
    batch = next(r for r in fake.requests if len(r["json"]["personalizations"]) == 1000)
    assert batch["headers"]["Content-Type"] == sendgrid.CONTENT_TYPE
    assert batch["json"]["personalizations"][0]["substitutions"] == sendgrid.substitutions_for(emails[0])
    validate_payload(batch["json"])
