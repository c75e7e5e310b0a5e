"""The SendGrid Event Webhook endpoint (``POST /webhooks/sendgrid``): signed by the provider, so outside CSRF;
verification and event handling are in ``crm.mailing.webhooks``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.params import RawBody

from crm.mailing import webhooks
from crm.web.deps import DB


@post("/webhooks/sendgrid", sync_to_thread=False, status_code=200)
def sendgrid_webhook(request: Request[Any, Any, Any], state: State, db: DB, body: RawBody) -> Response[Any]:
    """Verify the ECDSA signature over timestamp + raw body; 403 for any signature problem, 400 for non-JSON."""
    try:
        webhooks.verify_signature(
            state.settings.sendgrid_webhook_public_key,
            request.headers.get(webhooks.SIGNATURE_HEADER, ""),
            request.headers.get(webhooks.TIMESTAMP_HEADER, ""),
            body,
            dt.datetime.now(dt.UTC),
        )
    except webhooks.WebhookRejected as exc:
        return Response({"detail": f"forbidden: {exc}"}, status_code=403)
    try:
        events = webhooks.parse_events(body)
    except (ValueError, UnicodeDecodeError):
        return Response({"detail": "the body must be a JSON array of events"}, status_code=400)
    new = webhooks.process_events(db, events)
    return Response({"received": len(events), "new": new}, status_code=200)


route_handlers: list[Any] = [sendgrid_webhook]
