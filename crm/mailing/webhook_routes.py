"""The SendGrid Event Webhook endpoint (``POST /webhooks/sendgrid``): signed by the provider, so outside CSRF;
verification and event handling are in ``crm.mailing.webhooks``."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.params import RawBody

from crm.mailing import webhooks
from crm.web.deps import DB
from crm.web.errors import problem

# SendGrid batches events (a few MB at most in practice); a realistic event is ~460 bytes, so 80,000 of them
# are ~37 MB. Anything larger is refused with a 413 before it is read in full (Litestar counts while reading).
MAX_BODY_BYTES = 64 * 1024 * 1024


@post(
    "/webhooks/sendgrid",
    sync_to_thread=False,
    status_code=200,
    request_max_body_size=MAX_BODY_BYTES,
)
def sendgrid_webhook(request: Request[Any, Any, Any], state: State, db: DB, body: RawBody) -> Response[Any]:
    """Verify the ECDSA signature over timestamp + raw body before parsing anything; 403 for any signature
    problem, 400 for a body that is not a JSON array of events (too deeply nested included), 413 over
    ``MAX_BODY_BYTES``."""
    try:
        webhooks.verify_signature(
            state.settings.sendgrid_webhook_public_key,
            request.headers.get(webhooks.SIGNATURE_HEADER, ""),
            request.headers.get(webhooks.TIMESTAMP_HEADER, ""),
            body,
            dt.datetime.now(dt.UTC),
        )
    except webhooks.WebhookRejected as exc:
        return problem(403, f"forbidden: {exc}", instance=request.url.path)
    try:
        events = webhooks.parse_events(body)
    except ValueError as exc:
        # Signed by SendGrid yet unreadable: worth a look (SendGrid will retry it), so it is logged.
        webhooks.log.warning(
            "signed webhook body refused (%d bytes, sha256 %s): %s",
            len(body),
            hashlib.sha256(body).hexdigest(),
            str(exc)[:300],
        )
        return problem(400, "the body must be a JSON array of event objects", instance=request.url.path)
    new = webhooks.process_events(db, events)
    return Response({"received": len(events), "new": new}, status_code=200)


route_handlers: list[Any] = [sendgrid_webhook]
