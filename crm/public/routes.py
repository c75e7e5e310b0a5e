"""Public pages that belong to no single domain: the home page."""

from __future__ import annotations

from litestar import get
from litestar.response import Template


@get("/", sync_to_thread=False, include_in_schema=False)
def home() -> Template:
    return Template("public/home.html")


route_handlers = [home]
