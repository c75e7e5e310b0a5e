"""Fixtures the mailing tests share: a real local SMTP sink (aiosmtpd) and a webhook app with a signing key."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from crm.app import create_app


class _Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[_Sink, int]]:
    """A real SMTP server on a free local port; ``sink.messages`` holds every envelope it accepted."""
    sink = _Sink()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def keypair() -> tuple[Any, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public_der).decode()


@pytest.fixture(scope="module")
def hook_app(app: Any, keypair: tuple[Any, str]) -> Iterator[Any]:
    application = create_app(app.state.settings.replace(sendgrid_webhook_public_key=keypair[1]))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def hook(hook_app: Any, clean: None) -> Iterator[TestClient]:
    with TestClient(hook_app, base_url="http://testserver.local") as client:
        yield client


def sign(private: Any, body: bytes, ts: str | None = None) -> dict[str, str]:
    """The headers SendGrid's signed Event Webhook sends with ``body``."""
    ts = ts or str(int(time.time()))
    signature = private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        "Content-Type": "application/json",
    }
