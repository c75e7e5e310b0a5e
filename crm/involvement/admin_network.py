"""The fellow's view of the lived experience network: /admin/involvement/network (members: search, filters, CSV) and
one member's page. Admins only (``admin_guard`` on the area): members' details are special-category data and no
editor, poster or API client ever sees them. ``crm.involvement.admin_matching`` mounts these handlers.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select

from crm import models as m
from crm.involvement import network_members
from crm.listing import ListParams
from crm.web import offload
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import CSV, download
from crm.web.pages import list_page, or_404

PRIVATE = {"Cache-Control": "no-store"}


def _params(request: Request[Any, Any, Any]) -> ListParams:
    return ListParams.from_query(dict(request.query_params), filter_names=network_members.MEMBER_FILTERS)


@get("/network", sync_to_thread=False)
def members(request: Request[Any, Any, Any], db: DB) -> Template:
    params = _params(request)
    context = {
        "page": network_members.members_page(db, params),
        "params": params,
        "sorts": network_members.MEMBER_SORTS,
        "kind_labels": {k.value: k.label for k in m.InvolvementKind},
    }
    page = list_page(
        request,
        "admin/involvement/network.html",
        "admin/involvement/network_results.html",
        context,
        page_only=lambda: {
            "statuses": [(s.value, s.value.capitalize()) for s in m.NetworkMemberStatus],
            "topics": db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)).all(),
            "regions": db.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position)).all(),
            "kinds": [(k.value, k.label) for k in m.InvolvementKind],
        },
    )
    page.headers.update(PRIVATE)
    return page


@get("/network.csv", exception_handlers=offload.EXCEPTION_HANDLERS)
async def members_csv(
    request: Request[Any, Any, Any], db: DB, user: CurrentUser, settings: AppSettings
) -> Response[Any]:
    """The filtered list as CSV, written whole in a worker process (a network is hundreds of people; architecture.md,
    Heavy requests); the audit entry is written here, in the request's session (a worker's session only reads), once
    the file is made; never cached."""
    params = _params(request)
    body, count = await offload.run_in_session(settings, network_members.csv_body, params)
    network_members.audit_export(db, user, params, count)
    return download(body.encode("utf-8-sig"), CSV, "lived-experience-network.csv", PRIVATE)


@get("/network/{member_id:int}", sync_to_thread=False)
def member_page(db: DB, member_id: FromPath[int]) -> Template:
    record = or_404(network_members.member_record(db, member_id), "No such network member.")
    context = {"r": record, "m": record.member, "kind_labels": {k.value: k.label for k in m.InvolvementKind}}
    return Template("admin/involvement/network_member.html", context=context, headers=PRIVATE)


route_handlers: list[Any] = [members, members_csv, member_page]
