"""What a SendGrid message carries besides its text and HTML: calendar invitations and file attachments, in the
Mail Send API's shape (kept apart from ``crm.mailing.transports.sendgrid``, which batches and posts)."""

from __future__ import annotations

import base64

from crm.mailing.transports.base import OutgoingEmail


def calendar_parts(email: OutgoingEmail) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Calendar entries become a ``text/calendar; method=…`` content part AND an ``application/ics`` attachment."""
    content: list[dict[str, str]] = []
    attachments: list[dict[str, str]] = []
    for item in email.attachments:
        kind = item.get("kind")
        if kind == "calendar":
            method = str(item.get("method", "REQUEST")).upper()
            if method not in {"REQUEST", "CANCEL"}:
                raise ValueError(f"calendar method must be REQUEST or CANCEL, not {method!r}")
            ics = item["content"]
            content.append({"type": f"text/calendar; method={method}", "value": ics})
            attachments.append(
                {
                    "content": base64.b64encode(ics.encode("utf-8")).decode("ascii"),
                    "type": "application/ics",
                    "filename": item.get("filename") or "invite.ics",
                    "disposition": "attachment",
                }
            )
        elif kind == "file":
            attachments.append(
                {
                    "content": item["content_b64"],
                    "type": item.get("type") or "application/octet-stream",
                    "filename": item["filename"],
                    "disposition": "attachment",
                }
            )
        else:
            raise ValueError(f"unknown attachment kind {kind!r}")
    return content, attachments
