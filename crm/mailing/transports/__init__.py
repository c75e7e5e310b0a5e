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


__all__ = ["OutgoingEmail", "SendOutcome", "SendResult", "Transport", "build_transport"]
