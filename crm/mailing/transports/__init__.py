"""Mail transports: ``local`` (outbox only), ``smtp`` and ``sendgrid``, chosen by ``CRM_MAIL_TRANSPORT``."""

from __future__ import annotations

from crm.mailing.transports.base import OutgoingEmail, SendOutcome, SendResult, Transport
from crm.settings import Settings


def build_transport(settings: Settings) -> Transport:
    if settings.mail_transport == "local":
        from crm.mailing.transports.local import LocalTransport

        return LocalTransport()
    if settings.mail_transport == "smtp":
        from crm.mailing.transports.smtp import SMTPTransport  # type: ignore[import-not-found]

        return SMTPTransport(settings)
    from crm.mailing.transports.sendgrid import SendGridTransport  # type: ignore[import-not-found]

    return SendGridTransport(settings)


def reports_delivery(settings: Settings) -> bool:
    """Whether delivered / bounced / spam-report figures can be anything but 0: only SendGrid with its signed
    Event Webhook reports them (the local transport and SMTP hand mail over and hear nothing more)."""
    return settings.mail_transport == "sendgrid" and bool(settings.sendgrid_webhook_public_key)


def transport_label(settings: Settings) -> str:
    """The transport as the fellow knows it, for pages that explain a figure."""
    return {"local": "the local outbox (development)", "smtp": "SMTP", "sendgrid": "SendGrid"}.get(
        settings.mail_transport, settings.mail_transport
    )


__all__ = [
    "OutgoingEmail",
    "SendOutcome",
    "SendResult",
    "Transport",
    "build_transport",
    "reports_delivery",
    "transport_label",
]
