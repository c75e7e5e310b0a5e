"""The SMTP transport's connection pool against real aiosmtpd servers: connections kept across calls and used at
once, a connection dropped before DATA reopened and the message sent once, never resent after DATA began,
replies mapped to outcomes, outcomes reported in groups as they become final."""

from __future__ import annotations

import dataclasses
import email
import socket
import threading
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from crm.mailing.transports import smtp as smtp_module
from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult
from crm.mailing.transports.smtp import SMTPTransport
from crm.settings import Settings


class Server:
    """An aiosmtpd handler that records sessions and messages and can misbehave on cue."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.peers: list[Any] = []  # one per message: which connection carried it
        self.ehlos = 0
        self.drop_at_mail = 0  # close the connection on the next N MAIL commands
        self.drop_after_data: set[str] = set()  # take the message, then close without answering
        self.replies: dict[str, str] = {}  # recipient -> RCPT reply

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.ehlos += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.drop_at_mail:
            self.drop_at_mail -= 1
            server.transport.close()
            return "421 closing"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        self.peers.append(session.peer)
        if envelope.rcpt_tos[0] in self.drop_after_data:
            server.transport.close()
        return "250 OK"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server() -> Iterator[tuple[Server, int]]:
    handler, port = Server(), _port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def transport(server: tuple[Server, int]) -> Iterator[SMTPTransport]:
    t = SMTPTransport(Settings(smtp_host="127.0.0.1", smtp_port=server[1]), timeout=5, connections=3)
    try:
        yield t
    finally:
        t.close()


def _emails(n: int, start: int = 1, **changes: Any) -> list[OutgoingEmail]:
    return [
        dataclasses.replace(
            OutgoingEmail(i, "k", f"r{i}@example.org", "", f"Message {i}", f"Body {i}\n", ""), **changes
        )
        for i in range(start, start + n)
    ]


def test_connections_stay_open_across_calls_and_carry_a_batch_at_once(server, transport):
    handler, _ = server
    for call in range(3):
        results = transport.send_many(_emails(12, start=1 + 12 * call))
        assert [r.outcome for r in results] == [SendOutcome.SENT] * 12
    assert len(handler.messages) == 36
    assert handler.ehlos == 3  # three connections for three calls of 12, not one per call
    assert len(set(handler.peers)) == 3
    assert len(set(handler.peers[:12])) == 3  # the first batch already went over all three


def test_outcomes_are_reported_in_groups_each_email_once_before_send_many_returns(server, transport):
    handler, _ = server
    handler.replies["r7@example.org"] = "550 no such user"
    groups: list[list[tuple[OutgoingEmail, SendResult]]] = []
    threads: set[str] = set()

    def report(outcomes: list[tuple[OutgoingEmail, SendResult]]) -> None:
        groups.append(list(outcomes))
        threads.add(threading.current_thread().name)

    emails = _emails(120)
    results = transport.send_many(emails, report=report)
    assert [len(g) for g in groups] == [50, 50, 20]
    reported = {e.outbox_id: r for g in groups for e, r in g}
    assert sorted(reported) == [e.outbox_id for e in emails]
    assert [reported[e.outbox_id] for e in emails] == results  # the same outcomes, returned in order
    assert results[6].outcome == SendOutcome.FAILED and "550" in results[6].error
    assert threads and threading.current_thread().name not in threads  # reported off the caller's thread


def test_a_connection_dropped_before_data_is_reopened_and_the_message_sent_once(server, transport):
    handler, _ = server
    transport.send_many(_emails(3))
    handler.drop_at_mail = 1  # a relay that closed an idle connection: the next MAIL finds it gone
    [result] = transport.send_many(_emails(1, start=10))
    assert result.outcome == SendOutcome.SENT
    assert [m.rcpt_tos for m in handler.messages].count(["r10@example.org"]) == 1


def test_a_connection_lost_after_data_began_is_ambiguous_and_never_resent(server, transport):
    handler, _ = server
    handler.drop_after_data = {"r2@example.org"}
    results = transport.send_many(_emails(6))
    assert results[1].outcome == SendOutcome.AMBIGUOUS and "will settle" in results[1].error
    assert [r.outcome for i, r in enumerate(results) if i != 1] == [SendOutcome.SENT] * 5
    assert [m.rcpt_tos for m in handler.messages].count(["r2@example.org"]) == 1


def test_replies_map_to_outcomes_and_the_connection_goes_on(server):
    handler, port = server
    handler.replies = {"r1@example.org": "450 mailbox busy", "r2@example.org": "550 no such user"}
    t = SMTPTransport(Settings(smtp_host="127.0.0.1", smtp_port=port), timeout=5, connections=1)
    try:
        first, second, third = t.send_many(_emails(3))
    finally:
        t.close()
    assert (first.outcome, second.outcome, third.outcome) == (SendOutcome.RETRY, SendOutcome.FAILED, SendOutcome.SENT)
    assert handler.ehlos == 1 and [m.rcpt_tos for m in handler.messages] == [["r3@example.org"]]


def test_lines_starting_with_a_dot_arrive_intact(server, transport):
    handler, _ = server
    text = ".\n..two\n.three\nend\n"
    [result] = transport.send_many(_emails(1, text=text))
    assert result.outcome == SendOutcome.SENT
    msg = email.message_from_bytes(handler.messages[0].content, policy=policy.default)
    assert msg.get_content().replace("\r\n", "\n") == text


def test_an_unreachable_server_is_retry_for_every_email(transport):
    transport.settings = transport.settings.replace(smtp_port=_port())
    results = transport.send_many(_emails(5))
    assert {r.outcome for r in results} == {SendOutcome.RETRY}
    assert all("could not connect" in r.error for r in results)


def test_close_ends_the_pool_and_a_later_send_starts_it_again(server, transport):
    handler, _ = server
    transport.send_many(_emails(2))
    transport.close()
    assert not [t for t in threading.enumerate() if t.name == "smtp-pool"]
    assert [r.outcome for r in transport.send_many(_emails(2, start=3))] == [SendOutcome.SENT] * 2
    assert len(handler.messages) == 4


def test_the_dispatcher_claims_enough_for_few_statements_per_email():
    assert SMTPTransport(Settings()).preferred_claim >= 10 * smtp_module.REPORT_EVERY


def test_an_internationalised_address_needs_smtputf8(server, transport):
    handler, _ = server  # aiosmtpd's Controller offers SMTPUTF8 unless told otherwise
    [sent] = transport.send_many(_emails(1, to="zoë@example.org", to_name="Zoë"))
    assert sent.outcome == SendOutcome.SENT
    [envelope] = handler.messages
    assert envelope.rcpt_tos == ["zoë@example.org"]
    head = envelope.content.split(b"\r\n\r\n", 1)[0].decode("utf-8")  # RFC 6532: the address as UTF-8
    assert "\r\nTo: =?utf-8?b?Wm/Dqw==?= <zoë@example.org>\r\n" in head

    port = _port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    t = SMTPTransport(Settings(smtp_host="127.0.0.1", smtp_port=port), timeout=5, connections=1)
    try:
        [refused] = t.send_many(_emails(1, to="zoë@example.org"))
    finally:
        t.close()
        controller.stop()
    assert refused.outcome == SendOutcome.FAILED and "SMTPUTF8" in refused.error
    assert len(handler.messages) == 1
