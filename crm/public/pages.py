"""Public pages that belong to no single domain: the home page and the privacy notice."""

from __future__ import annotations

from email.utils import parseaddr

from litestar import get
from litestar.response import Template

from crm.privacy.retention import UNCONFIRMED_DAYS
from crm.web.deps import AppSettings


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


route_handlers = [home, privacy]
