"""Public pages that belong to no single domain: the home page, the privacy notice and the site icon."""

from __future__ import annotations

from email.utils import parseaddr

from litestar import Response, get
from litestar.response import Template

from crm.privacy.retention import UNCONFIRMED_DAYS
from crm.settings import PROJECT_ROOT
from crm.web.deps import AppSettings

FAVICON = (PROJECT_ROOT / "static" / "favicon.svg").read_bytes()


@get("/", sync_to_thread=False, include_in_schema=False)
def home() -> Template:
    return Template("public/home.html")


@get("/privacy", sync_to_thread=False, include_in_schema=False)
def privacy(settings: AppSettings) -> Template:
    """What personal data Roundtable holds, why, for how long, and how to ask for a copy or erasure."""
    contact = parseaddr(settings.mail_reply_to)[1] or parseaddr(settings.mail_from)[1]
    return Template(
        "public/privacy.html",
        context={
            "contact_email": contact,
            "unconfirmed_days": UNCONFIRMED_DAYS,
            "contact_years": settings.retention_contact_years,
        },
    )


@get("/favicon.ico", sync_to_thread=False, include_in_schema=False)
def favicon() -> Response[bytes]:
    """Browsers ask for /favicon.ico on every site; answering it (an SVG, which they all accept) keeps the logs
    free of a 404 per page view."""
    return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=604800"})


route_handlers = [home, privacy, favicon]
