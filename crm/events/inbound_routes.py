"""SendGrid Inbound Parse for the organiser address (``POST /webhooks/sendgrid/inbound/{secret}``): calendar
answers sent by Gmail's and Outlook's own buttons. Outside CSRF (the provider posts it); authenticated by the
secret in its URL (``CRM_INBOUND_SECRET``; unset: the endpoint does not exist) and limited in size."""

from __future__ import annotations

import hmac
from email.utils import parseaddr
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State, UploadFile
from litestar.params import FromPath

from crm.events import replies, views
from crm.web.deps import DB
from crm.web.errors import problem


@post(
    "/webhooks/sendgrid/inbound/{secret:str}",
    status_code=200,
    request_max_body_size=replies.MAX_INBOUND_BYTES,
    include_in_schema=False,
)
async def inbound_parse(request: Request[Any, Any, Any], state: State, db: DB, secret: FromPath[str]) -> Response[Any]:
    """With "POST the raw, full MIME message" on, the email is the ``email`` field; otherwise calendars arrive as
    attachments. Every readable answer is recorded; the rest is logged and the provider still gets a 200."""
    expected = state.settings.inbound_secret
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        return problem(404, "not found", instance="/webhooks/sendgrid/inbound")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > replies.MAX_INBOUND_BYTES:
        return problem(413, "the email is larger than this endpoint accepts", instance="/webhooks/sendgrid/inbound")
    await request.body()  # read once, within request_max_body_size (a longer stream is a 413 from Litestar)
    try:
        form = await request.form()
    except Exception:  # a body that is not a form: nothing to record, and nothing the provider can fix by retrying
        replies.log.warning("inbound parse body is not a form (%s)", request.headers.get("content-type", "?"))
        return Response({"recorded": 0, "dropped": ["the body is not a form"]}, status_code=200)
    mailer, now = views.mailer(state), views.now()
    raw = form.get("email")
    if isinstance(raw, str) and raw:
        outcome = replies.record(db, mailer, raw.encode("utf-8", errors="surrogateescape"), now)
    else:
        calendars = []
        for value in form.values():
            if isinstance(value, UploadFile) and (
                value.content_type.split(";")[0].strip().lower() in replies.CALENDAR_TYPES
                or (value.filename or "").lower().endswith(".ics")
            ):
                calendars.append((await value.read()).decode("utf-8", errors="replace"))
        sender = parseaddr(str(form.get("from") or ""))[1]
        outcome = replies.record_calendars(db, mailer, calendars, sender, now)
    return Response(
        {"recorded": outcome.recorded, "unchanged": outcome.unchanged, "dropped": outcome.dropped[:20]},
        status_code=200,
    )


route_handlers: list[Any] = [inbound_parse]
