"""Security headers on every response, including 404s for unknown routes (so a ``before_send`` hook, which
wraps the app's ``send``, rather than a middleware, which only wraps matched routes). A route may set its own
CSP, e.g. the sandboxed email preview."""

from __future__ import annotations

from typing import Any

from litestar import Response
from litestar.types import Message, Scope

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)

DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers", []))
    present = {name.lower() for name, _ in headers}
    headers.extend(h for h in DEFAULT_HEADERS if h[0] not in present)
    message["headers"] = headers


# An email's HTML shown inside an admin page: inline styles and data: images only, never a script, a form or a
# plugin. ``allow-same-origin`` (without ``allow-scripts``) lets the admin page read the frame's height so the
# whole email shows, footer included; with no script allowed inside, the email itself can do nothing with it.
EMAIL_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox allow-same-origin"
)


def framed_email(html: str) -> Response[Any]:
    """The response for an ``<iframe class="mail-frame">``: one copy of the preview's security rules."""
    return Response(
        html,
        media_type="text/html",
        headers={"Content-Security-Policy": EMAIL_FRAME_CSP, "X-Frame-Options": "SAMEORIGIN"},
    )
