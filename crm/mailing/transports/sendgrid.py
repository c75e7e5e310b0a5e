"""The SendGrid transport: the official ``sendgrid`` client, plain-dict payloads, batching, bounded concurrency.

- ``build_payload(email, settings)``: one message, one personalization, one recipient.
- ``build_batch_payload(emails, settings)``: up to 1,000 bulk messages of one kind in one request; each
  personalization carries its own subject, List-Unsubscribe headers, ``custom_args`` (outbox id, no personal
  data) and the recipient's rendered text and HTML as substitutions (``-crm_text-`` / ``-crm_html-``).
- ``SendGridTransport.send_many``: groups batchable messages, sends requests from a thread pool (at most
  ``CRM_SENDGRID_CONCURRENCY`` in flight), paces messages with one global token bucket
  (``CRM_MAIL_RATE_PER_SECOND``), maps every provider answer to a ``SendResult`` and passes each request's
  outcomes to ``report`` as soon as that request is answered (a rejected batch's one-by-one resends each report
  their own), so the dispatcher records them before the rest of the claim is sent:

  ======================================  =========================================================
  202 (200 in sandbox)                    sent, provider id = X-Message-Id
  400, 404, 405, 413, 451, other 4xx      failed (a rejected batch is re-sent one message per request)
  401, 403                                halt: credentials refused, nothing more is sent this tick
  429                                     retry at X-RateLimit-Reset (or backoff); the whole transport pauses
  5xx                                     retry with backoff
  connection refused / DNS (URLError)     retry: the request never left
  timeout or reset while awaiting reply   ambiguous: settled later by a webhook event or a time-out
  ======================================  =========================================================

Each body is JSON-encoded once, with msgspec: a recipient's rendered text and HTML are encoded when the request is
planned (their size decides whether the message may go in a batch) and spliced into the request body as
``msgspec.Raw``; the bytes go through the official client unchanged (``_Body``).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import socket
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parseaddr
from typing import Any

import msgspec
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from crm.mailing.transports.base import OutgoingEmail, Report, SendOutcome, SendResult
from crm.mailing.transports.sendgrid_parts import calendar_parts
from crm.settings import Settings

log = logging.getLogger("crm.mail.sendgrid")

MAX_PERSONALIZATIONS = 1000
SUBSTITUTION_LIMIT = 10_000  # bytes per personalization (the official schema's figure; design for it)
TEXT_TAG = "-crm_text-"
HTML_TAG = "-crm_html-"
AFTER_SEND_ERRORS = (
    TimeoutError,
    socket.timeout,
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)
PERMANENT = {400, 404, 405, 413, 415, 451}
# python_http_client JSON-encodes a request body itself unless the Content-Type differs from "application/json";
# this one (equally valid for SendGrid) makes it take our encoded bytes as they are.
CONTENT_TYPE = "application/json; charset=utf-8"
_ENCODER = msgspec.json.Encoder()  # encoding holds the GIL, so one encoder serves every sending thread


class _Body:
    """An encoded request body that python_http_client posts as is: with a non-plain JSON Content-Type it calls
    ``request_body.encode("utf-8")`` instead of ``json.dumps``, and gets a view of our UTF-8 bytes (no copy of a
    7.7 MB body). A view, not the bytes: the client formats ``'PAYLOAD: {data}'`` for a debug log line on every
    request, logging on or off, and the repr of 7.7 MB of bytes cost ~40-100 ms of CPU and a transient string of
    8-22 MB per request; a memoryview formats as ``<memory at 0x…>``."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> memoryview:
        return memoryview(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _address(value: str) -> dict[str, str]:
    name, email = parseaddr(value)
    out = {"email": email}
    if name:
        out["name"] = name
    return out


def _clean_name(name: str) -> str:
    # SendGrid refuses ';' and ',' in names; newlines never reach here (refused at enqueue).
    return " ".join(name.replace(";", " ").replace(",", " ").split())


def _recipient(email: OutgoingEmail) -> dict[str, str]:
    to = {"email": email.to}
    name = _clean_name(email.to_name)
    if name:
        to["name"] = name
    return to


def _custom_args(email: OutgoingEmail) -> dict[str, str]:
    return {"crm_outbox_id": str(email.outbox_id), "crm_kind": email.kind}


def _category(kind: str) -> str:
    return (kind or "mail")[:255]


def _envelope(settings: Settings, email: OutgoingEmail) -> dict[str, Any]:
    """What a request shares: From (the message's own display name, if any), Reply-To, category, tracking (off
    unless the message asks for SendGrid's open or click tracking: a campaign's choice)."""
    sender = _address(settings.mail_from)
    if name := _clean_name(email.from_name):
        sender["name"] = name
    payload: dict[str, Any] = {"from": sender}
    if settings.mail_reply_to:
        payload["reply_to"] = _address(settings.mail_reply_to)
    payload["categories"] = [_category(email.kind)]
    clicks = "clicks" in email.tracking
    payload["tracking_settings"] = {
        "subscription_tracking": {"enable": False},
        "click_tracking": {"enable": clicks, "enable_text": clicks},
        "open_tracking": {"enable": "opens" in email.tracking},
    }
    return payload


def _group(email: OutgoingEmail) -> tuple[str, frozenset[str], str]:
    """Messages that may share one request: the same kind, tracking and sender name."""
    return email.kind, email.tracking, email.from_name


def build_payload(email: OutgoingEmail, settings: Settings) -> dict[str, Any]:
    """The Mail Send body for one message: text/plain, then text/html, then any calendar part."""
    personalization: dict[str, Any] = {"to": [_recipient(email)], "custom_args": _custom_args(email)}
    headers = {k: v for k, v in email.headers.items() if k.lower() != "reply-to"}
    if headers:
        personalization["headers"] = headers
    extra_content, attachments = calendar_parts(email)
    content = [{"type": "text/plain", "value": email.text or " "}]
    if email.html:
        content.append({"type": "text/html", "value": email.html})
    content.extend(extra_content)
    payload = _envelope(settings, email)
    if own := next((v for k, v in email.headers.items() if k.lower() == "reply-to"), ""):
        payload["reply_to"] = _address(own)  # SendGrid takes Reply-To only here, never among the headers
    payload.update(
        {"personalizations": [personalization], "subject": email.subject or "(no subject)", "content": content}
    )
    if attachments:
        payload["attachments"] = attachments
    return payload


def substitutions_for(email: OutgoingEmail) -> dict[str, str]:
    return {TEXT_TAG: email.text or " ", HTML_TAG: email.html or " "}


def encoded_substitutions(email: OutgoingEmail) -> bytes:
    """The personalization's substitutions as JSON, encoded once: measured here, spliced into the body later."""
    return _ENCODER.encode(substitutions_for(email))


def substitution_size(email: OutgoingEmail) -> int:
    return len(encoded_substitutions(email))


def batchable(email: OutgoingEmail, encoded: bytes | None = None) -> bool:
    """Bulk, no per-recipient attachment, and small enough for one personalization's substitutions."""
    if not email.bulk or email.attachments or any(k.lower() == "reply-to" for k in email.headers):
        return False
    return len(encoded if encoded is not None else encoded_substitutions(email)) <= SUBSTITUTION_LIMIT


def build_batch_payload(
    emails: list[OutgoingEmail], settings: Settings, encoded: list[bytes] | None = None
) -> dict[str, Any]:
    """Up to 1,000 messages of one kind in one request, each personalization carrying its own rendering (with
    ``encoded``, the substitutions already encoded by ``plan_requests``, as ``msgspec.Raw``)."""
    if not emails or len(emails) > MAX_PERSONALIZATIONS:
        raise ValueError(f"a batch holds 1 to {MAX_PERSONALIZATIONS} messages, not {len(emails)}")
    if len({_group(e) for e in emails}) != 1:
        raise ValueError("a batch holds messages of one kind, tracking and sender name")
    if len({e.to for e in emails}) != len(emails):
        raise ValueError("the same address twice in one batch")
    if encoded is not None and len(encoded) != len(emails):
        raise ValueError("one encoded substitution per message")
    personalizations = []
    for i, email in enumerate(emails):
        p: dict[str, Any] = {
            "to": [_recipient(email)],
            "subject": email.subject or "(no subject)",
            "substitutions": msgspec.Raw(encoded[i]) if encoded is not None else substitutions_for(email),
            "custom_args": _custom_args(email),
        }
        if email.headers:
            p["headers"] = dict(email.headers)
        personalizations.append(p)
    payload = _envelope(settings, emails[0])
    payload.update(
        {
            "personalizations": personalizations,
            "subject": emails[0].subject or "(no subject)",
            "content": [{"type": "text/plain", "value": TEXT_TAG}, {"type": "text/html", "value": HTML_TAG}],
        }
    )
    return payload


class RateLimiter:
    """One global pacing clock for messages per second (GCRA without burst); 0 or less = unlimited."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, messages: int = 1) -> None:
        if self.per_second <= 0:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + messages / self.per_second
            wait = start - now
        if wait > 0:
            time.sleep(wait)


class _Request:
    __slots__ = ("batch", "emails", "encoded")

    def __init__(self, emails: list[OutgoingEmail], batch: bool, encoded: list[bytes] | None = None) -> None:
        self.emails = emails
        self.batch = batch
        self.encoded = encoded  # a batch's substitutions, one per message, as encoded when planned


def plan_requests(emails: list[OutgoingEmail]) -> list[_Request]:
    """Batch bulk messages of the same kind, tracking and sender (≤1,000, distinct addresses); everything else one
    per request."""
    requests: list[_Request] = []
    open_batches: dict[tuple[str, frozenset[str], str], tuple[list[OutgoingEmail], list[bytes], set[str]]] = {}
    for email in emails:
        encoded = encoded_substitutions(email) if email.bulk and not email.attachments else None
        if encoded is None or not batchable(email, encoded):
            requests.append(_Request([email], batch=False))
            continue
        group, parts, seen = open_batches.get(_group(email), ([], [], set()))
        if email.to in seen or len(group) >= MAX_PERSONALIZATIONS:
            requests.append(_Request(group, batch=True, encoded=parts))
            group, parts, seen = [], [], set()
        group.append(email)
        parts.append(encoded)
        seen.add(email.to)
        open_batches[_group(email)] = (group, parts, seen)
    for group, parts, _ in open_batches.values():
        if group:
            requests.append(_Request(group, batch=True, encoded=parts))
    return requests


def request_body(request: _Request, settings: Settings) -> _Body:
    """The one JSON encoding of a request's body."""
    if request.batch:
        return _Body(_ENCODER.encode(build_batch_payload(request.emails, settings, request.encoded)))
    return _Body(_ENCODER.encode(build_payload(request.emails[0], settings)))


def _header(headers: Any, name: str) -> str:
    if headers is None:
        return ""
    try:
        value = headers.get(name)
    except AttributeError:
        return ""
    return str(value or "")


def _error_text(exc: HTTPError) -> str:
    """Never calls ``to_dict`` unguarded: a 502 from a proxy comes back as HTML."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    body = str(body or "")
    try:
        parsed = json.loads(body)
        messages = [e.get("message", "") for e in parsed.get("errors", []) if isinstance(e, dict)]
        if messages:
            body = "; ".join(m for m in messages if m)
    except (ValueError, AttributeError):
        body = " ".join(body.split())[:300]
    return f"SendGrid {exc.status_code}: {body}"[:2000]


def _is_after_send(exc: BaseException) -> bool:
    """Timeouts and dropped connections while waiting for the answer: the request may have been accepted."""
    return isinstance(exc, AFTER_SEND_ERRORS)


class SendGridTransport:
    name = "sendgrid"

    def __init__(self, settings: Settings, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.settings = settings
        self.concurrency = max(1, settings.sendgrid_concurrency)
        self.limiter = RateLimiter(settings.mail_rate_per_second)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None
        self._state_lock = threading.Lock()
        self._paused_until: dt.datetime | None = None  # set by a 429: the whole transport waits
        self._halted = False  # set by 401/403; cleared when a send_many call starts while no other is running
        self._active = 0  # send_many calls running (the dispatcher may run several batches at once)
        self.requests_made = 0

    # The dispatcher claims one request's worth of rows per batch and keeps up to ``concurrency`` batches with us
    # at once (``crm.mailing.dispatch.drain``): as many requests in flight as before, when a claim was
    # 1,000 x concurrency, but a 100,000-digest run holds ~5,000 rendered digests in memory instead of ~8,000 (two
    # claims of 4,000: the one in flight and the next being prepared).
    preferred_claim = MAX_PERSONALIZATIONS

    @property
    def parallel_batches(self) -> int:
        return self.concurrency

    def client(self) -> SendGridAPIClient:
        """One API client per thread (the library is synchronous urllib), with a request timeout."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = SendGridAPIClient(
                api_key=self.settings.sendgrid_api_key or "unset", host=self.settings.sendgrid_api_url
            )
            client.client.timeout = self.settings.sendgrid_timeout
            client.client.request_headers["Content-Type"] = CONTENT_TYPE  # our bytes, posted as they are (_Body)
            self._local.client = client
        return client

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sendgrid")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # --- sending -------------------------------------------------------------------------------------------

    def send_many(self, emails: list[OutgoingEmail], report: Report | None = None) -> list[SendResult]:
        """Every request's outcomes go to ``report`` as soon as the request is answered (from the sending
        threads); anything not reported by then (it cannot happen, but the contract says every email) at the end."""
        with self._state_lock:
            if not self._active:
                self._halted = False  # a new tick: a halt stops the calls running with the one that saw it
            self._active += 1
        try:
            index = {id(e): i for i, e in enumerate(emails)}
            results: list[SendResult | None] = [None] * len(emails)
            requests = plan_requests(emails)
            pool = self._pool()
            for request, outcome in zip(requests, pool.map(lambda r: self._run(r, report), requests), strict=True):
                for email, result in zip(request.emails, outcome, strict=True):
                    results[index[id(email)]] = result
        finally:
            with self._state_lock:
                self._active -= 1
        missing = [i for i, r in enumerate(results) if r is None]
        final = [r if r is not None else SendResult(SendOutcome.RETRY, error="not attempted") for r in results]
        if report is not None and missing:
            report([(emails[i], final[i]) for i in missing])
        return final

    def _blocked(self, emails: list[OutgoingEmail]) -> list[SendResult] | None:
        with self._state_lock:
            if self._halted:
                return [SendResult(SendOutcome.HALT, error="not attempted: provider refused our credentials")] * len(
                    emails
                )
            if self._paused_until and self._paused_until > self._clock():
                return [
                    SendResult(
                        SendOutcome.RETRY, error="not attempted: provider rate limit", retry_at=self._paused_until
                    )
                ] * len(emails)
        return None

    def _run(self, request: _Request, report: Report | None = None) -> list[SendResult]:
        blocked = self._blocked(request.emails)
        if blocked is not None:
            return _reported(request, blocked, report)
        try:
            body = request_body(request, self.settings)
            request.encoded = None  # spliced into the body: free them while the request is in flight
        except (ValueError, KeyError) as exc:
            failed = [SendResult(SendOutcome.FAILED, error=f"could not build the message: {exc}")] * len(request.emails)
            return _reported(request, failed, report)
        result = self._post(body, len(request.emails))
        if request.batch and result.outcome == SendOutcome.FAILED and len(request.emails) > 1:
            # A batch rejected as a whole: send its messages one by one so one bad message holds back no other;
            # each resend reports its own outcome.
            log.warning("batch of %s rejected (%s); sending one by one", len(request.emails), result.error)
            return [self._run(_Request([e], batch=False), report)[0] for e in request.emails]
        return _reported(request, [result] * len(request.emails), report)

    def _post(self, body: _Body, messages: int) -> SendResult:
        self.limiter.acquire(messages)
        with self._state_lock:
            self.requests_made += 1
        try:
            # Through the official client, with the body encoded once (see _Body).
            response = self.client().client.mail.send.post(request_body=body)
        except HTTPError as exc:
            return self._http_error(exc)
        except urllib.error.URLError as exc:
            # urllib wraps only errors raised while connecting or sending: the request did not complete.
            return SendResult(SendOutcome.RETRY, error=f"could not reach SendGrid: {exc.reason}")
        except OSError as exc:
            if _is_after_send(exc):
                return SendResult(SendOutcome.AMBIGUOUS, error=f"no answer after sending ({exc!r}); will settle")
            return SendResult(SendOutcome.RETRY, error=f"network error: {exc!r}")
        except http.client.HTTPException as exc:
            return SendResult(SendOutcome.AMBIGUOUS, error=f"broken answer after sending ({exc!r}); will settle")
        status = getattr(response, "status_code", 0)
        if 200 <= status < 300:
            return SendResult(SendOutcome.SENT, provider_message_id=_header(response.headers, "X-Message-Id"))
        return SendResult(SendOutcome.RETRY, error=f"unexpected SendGrid status {status}")

    def _http_error(self, exc: HTTPError) -> SendResult:
        status = int(getattr(exc, "status_code", 0) or 0)
        text = _error_text(exc)
        if status in {401, 403}:
            with self._state_lock:
                self._halted = True
            log.critical("SendGrid refused our credentials (%s): sending stopped for this tick", status)
            return SendResult(SendOutcome.HALT, error=text)
        if status == 429:
            retry_at = self._reset_time(_header(exc.headers, "X-RateLimit-Reset"))
            with self._state_lock:
                pause = retry_at or (self._clock() + dt.timedelta(seconds=30))
                if self._paused_until is None or pause > self._paused_until:
                    self._paused_until = pause
            log.warning("SendGrid rate limit: pausing the transport until %s", self._paused_until)
            return SendResult(SendOutcome.RETRY, error=text, retry_at=retry_at)
        if status >= 500:
            return SendResult(SendOutcome.RETRY, error=text)
        if status in PERMANENT or 400 <= status < 500:
            return SendResult(SendOutcome.FAILED, error=text)
        return SendResult(SendOutcome.RETRY, error=text)

    @staticmethod
    def _reset_time(raw: str) -> dt.datetime | None:
        try:
            return dt.datetime.fromtimestamp(int(float(raw)), dt.UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            return None


def _reported(request: _Request, results: list[SendResult], report: Report | None) -> list[SendResult]:
    """Hand one request's final outcomes to ``report`` (the dispatcher records them at once)."""
    if report is not None:
        report(list(zip(request.emails, results, strict=True)))
    return results


def iter_payloads(emails: list[OutgoingEmail], settings: Settings) -> Iterator[dict[str, Any]]:
    """Every payload ``send_many`` would post for these emails, decoded from the very bytes (schema tests)."""
    for request in plan_requests(emails):
        yield json.loads(request_body(request, settings).data)
