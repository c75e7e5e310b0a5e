"""The fellow's matching page: /admin/involvement/{id}/matches ranks the lived experience network's active members
for one opportunity with the reasons (``crm.involvement.fit``), like the funding calls' partner suggestions, and
invites the chosen ones (``crm.involvement.alerts.invite``: a personal email with a signed "yes, I'm interested"
link). Also mounts the network's own pages (``crm.involvement.admin_network``). Admins only: it shows members.
"""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.involvement import admin_network, alerts
from crm.involvement import fit as fitting
from crm.involvement.rules import is_open, payment_summary
from crm.web.areas import admin_area
from crm.web.deps import DB
from crm.web.forms import Form, FormBody
from crm.web.pages import get_or_404

NOTE_MAX = 1000


def _page(
    db: Session, opp: m.InvolvementOpportunity, *, show_all: bool, form: Form | None = None, invited_now: int = -1
) -> Template:
    form = form or Form({})
    found = fitting.matches(db, opp, include_misses=show_all)
    context = {
        "o": opp,
        "payment": payment_summary(opp),
        "open": is_open(opp.status, opp.closes_at, alerts.now()),
        "matches": found,
        "fitting": sum(1 for x in found if x.fit.fits),
        "show_all": show_all,
        "invited": alerts.invited(db, opp.id),
        "invited_now": invited_now,
        "chosen": set(form.getlist("members")),
        "form": form,
    }
    code = 422 if form.errors else 200
    return Template("admin/involvement/matches.html", context=context, status_code=code, headers=admin_network.PRIVATE)


@get("/{opportunity_id:int}/matches", sync_to_thread=False)
def matches_page(
    db: DB, opportunity_id: FromPath[int], show: FromQuery[str] = "", invited: FromQuery[int] = -1
) -> Template:
    opp = get_or_404(db, m.InvolvementOpportunity, opportunity_id, "No such opportunity.")
    return _page(db, opp, show_all=show == "all", invited_now=invited)


@post("/{opportunity_id:int}/matches/invite", sync_to_thread=False)
def invite(state: State, db: DB, opportunity_id: FromPath[int], data: FormBody) -> Template | Redirect:
    opp = get_or_404(db, m.InvolvementOpportunity, opportunity_id, "No such opportunity.")
    form = Form(data)
    ids = form.ids("members", message="Choose members from the list.")
    if not ids:
        form.add_error("members", "Choose at least one member to invite.")
    note = form.str("note", max_length=NOTE_MAX, label="Your note")
    if form.ok:
        try:
            sent = alerts.invite(db, state.renderer, state.signer, opp, ids, note=note)
        except ValueError as exc:
            form.add_error("members", str(exc))
        else:
            show = "&show=all" if form.str("show") == "all" else ""
            return Redirect(f"/admin/involvement/{opp.id}/matches?invited={sent}{show}", status_code=303)
    return _page(db, opp, show_all=form.str("show") == "all", form=form)


route_handlers: list[Any] = admin_area("/admin/involvement", [*admin_network.route_handlers, matches_page, invite])
