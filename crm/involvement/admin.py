"""The involvement opportunity admin pages (/admin/involvement): the fellow sees and moderates everything; an editor
of an academic organisation posts and manages their own (``crm.involvement.access`` decides, every handler asks).

The list has tabs by status ("Waiting for approval" is the fellow's queue), search, filters, sorts, keyset pages and
a CSV of what it shows. An opportunity's page shows its facts, the expressions of interest with their statuses (the
decision emailed when chosen), the actions its status allows, a link to the fellow's ranked network matches
(/admin/involvement/{id}/matches, crm.involvement.admin_matching) and its history. Deleting asks first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.principal import Principal
from crm.bulk import actions as bulk
from crm.bulk import kinds as bulk_kinds
from crm.directory import export
from crm.directory.reference import topics_and_regions
from crm.errors import FieldErrors
from crm.history import history
from crm.httpcache import remember
from crm.involvement import access, editing, interest_status, posting, rules
from crm.involvement.offer_pages import NEW_FORM, fields_context
from crm.listing import ListParams
from crm.views_saved import saved
from crm.web import offload
from crm.web.areas import admin_area
from crm.web.auth import editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import CSV, download_stream
from crm.web.forms import Form, FormBody
from crm.web.pages import form_page, list_page
from crm.web.pages import notice as notice_text

NOTICES = {
    "created": "Saved.",
    "published": "Saved and published.",
    "saved": "Saved.",
    "approved": "Approved and published.",
    "approved-link": "Approved and published. The poster has been emailed their private link.",
    "rejected": "Turned down. The poster has been told.",
    "closed": "Closed. Its page stays and says so.",
    "status": "Status saved.",
    "told": "Status saved, and the person has been emailed the decision.",
    "link-sent": "A new manage link is on its way to the poster. Earlier links no longer work.",
    "no-contact": "This opportunity has no contact email address, so no link was sent.",
    "deleted": "The opportunity and its expressions of interest were deleted.",
}
ENTITY = "involvement_opportunity"
SAVED_VIEWS = "involvement-opportunities"  # the list's key in crm.views_saved.saved.LISTS


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _actor(db: Session, user: Principal | None) -> Principal:
    return access.require_poster(db, user)


# ---------------------------------------------------------------------------------------------------------------
# The list


def _params(request: Request[Any, Any, Any]) -> ListParams:
    return ListParams.from_query(request.query_params.dict(), filter_names=access.FILTERS)


@get("/", sync_to_thread=False)
def admin_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser, notice: FromQuery[str] = "") -> Template:
    actor = _actor(db, user)
    params = _params(request)
    page = access.admin_list(db, actor, params)
    context = {
        "page": page,
        "params": params,
        "sorts": page.sorts,
        "tabs": access.STATUS_TABS,
        "tab_counts": access.tab_counts(db, actor, params),
        "payment": rules.payment_summary,
        "is_fellow": actor.is_admin,
        "notice": notice_text(notice, NOTICES),
        "bulk_actions": bulk.offered(bulk_kinds.INVOLVEMENT_OPPORTUNITIES, actor),
    }
    return list_page(
        request,
        "admin/involvement/list.html",
        "admin/involvement/list_results.html",
        context,
        page_only=lambda: _list_menus(db, actor),
    )


def _list_menus(db: Session, actor: Principal) -> dict[str, Any]:
    """What only the whole list page shows: the filter menus and the bulk form's topics (kept until topics or
    regions change, as the internship list keeps them, so they cost the page no statement) and the user's saved
    views (one statement)."""
    topics, regions = remember(db, "topics_and_regions", ("topics", "regions"), topics_and_regions)
    return {
        "kinds": rules.KIND_OPTIONS,
        "payments": access.PAYMENT_FILTERS,
        "origins": access.ORIGIN_FILTERS,
        "regions": regions,
        "bulk_topics": topics,
        "my_views": saved.views_for(db, actor, SAVED_VIEWS),
    }


def csv_page(session: Session, actor: Principal, params: ListParams, base_url: str, after: None) -> tuple[bytes, None]:
    """The list's CSV (``access.csv_rows``) for a download made in a worker process, in one page: the list is posted
    opportunities (hundreds, a few thousand at most, ~200 bytes a row) and ``csv_rows`` reads them all in its own
    500-row batches; the bytes are those the stream of its rows gave."""
    return b"".join(export.as_csv_chunks(access.csv_rows(session, actor, params, base_url))), None


@get("/export.csv", exception_handlers=offload.EXCEPTION_HANDLERS)
async def admin_csv(request: Request[Any, Any, Any], settings: AppSettings, db: DB, user: CurrentUser) -> Stream:
    """Who may download (and what they see) is decided here; the CSV is made in a worker process (architecture.md,
    Heavy requests)."""
    actor = _actor(db, user)
    params = _params(request)
    name = f"involvement-opportunities-{_now().date().isoformat()}.csv"
    pages = await offload.paged_stream(settings, csv_page, actor, params, settings.base_url)
    return download_stream(pages, CSV, name)


# ---------------------------------------------------------------------------------------------------------------
# New and edit


def _form_page(db: Session, actor: Principal, form: Form, *, opp: m.InvolvementOpportunity | None) -> Template:
    context = {
        **fields_context(db, form),
        "o": opp,
        "organisations": access.organisation_choices(db, actor),
        "is_fellow": actor.is_admin,
    }
    return form_page("admin/involvement/form.html", context, form=form)


def _scoped(actor: Principal, data: dict[str, Any], opp: m.InvolvementOpportunity | None = None) -> dict[str, Any]:
    """An editor's opportunities belong to their organisation: whatever the form says, it is theirs (or stays
    what it was); the fellow's choice is checked by ``editing.validate``."""
    if actor.is_admin:
        return data
    organisation = opp.organisation_id if opp is not None and opp.organisation_id else actor.organisation_id
    return {**data, "organisation_id": str(organisation or "")}


@get("/new", sync_to_thread=False)
def admin_new(db: DB, user: CurrentUser) -> Template:
    actor = _actor(db, user)
    values = dict(NEW_FORM)
    values["organisation_id"] = str(actor.organisation_id or "") if not actor.is_admin else ""
    values["contact_name"] = actor.name
    values["contact_email"] = actor.email if actor.id > 0 else ""
    return _form_page(db, actor, Form(values), opp=None)


@post("/new", sync_to_thread=False)
def admin_create(db: DB, user: CurrentUser, data: FormBody) -> Template | Redirect:
    actor = _actor(db, user)
    data = _scoped(actor, data)
    form = Form(data)
    checked, errors = editing.validate(db, data, today=rules.london_today(_now()))
    if checked is None:
        for field, message in errors.items():
            form.add_error(field, message)
        return _form_page(db, actor, form, opp=None)
    publish = data.get("intent") == "publish"
    status = m.OpportunityStatus.PUBLISHED if publish else m.OpportunityStatus.DRAFT
    opp = editing.create(
        db, checked, status=status, user_id=actor.id if actor.id > 0 else None, now=_now(), actor=actor
    )
    return _to_detail(opp, "published" if publish else "created")


@get("/{opportunity_id:int}/edit", sync_to_thread=False)
def admin_edit(db: DB, user: CurrentUser, opportunity_id: FromPath[int]) -> Template:
    actor = _actor(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    return _form_page(db, actor, Form(editing.form_values(editing.current_input(db, opp))), opp=opp)


@post("/{opportunity_id:int}/edit", sync_to_thread=False)
def admin_update(db: DB, user: CurrentUser, opportunity_id: FromPath[int], data: FormBody) -> Template | Redirect:
    actor = _actor(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    data = _scoped(actor, data, opp)
    form = Form(data)
    checked, errors = editing.validate(db, data, today=rules.london_today(_now()), existing=opp)
    if checked is None:
        for field, message in errors.items():
            form.add_error(field, message)
        return _form_page(db, actor, form, opp=opp)
    editing.update(db, opp, checked, actor=actor)
    return _to_detail(opp, "saved")


# ---------------------------------------------------------------------------------------------------------------
# One opportunity


def _detail_page(
    db: Session,
    actor: Principal,
    opp: m.InvolvementOpportunity,
    *,
    notice: str = "",
    error: str = "",
    status_code: int = 200,
) -> Template:
    return Template(
        "admin/involvement/opportunity.html",
        context={
            "o": opp,
            "f": posting.facts(db, opp),
            "payment": rules.payment_summary(opp),
            "is_open": rules.is_open(opp.status, opp.closes_at, _now()),
            "interests": interest_status.interest_rows(db, opp.id),
            "counts": interest_status.status_counts(db, opp.id),
            "statuses": list(m.InvolvementInterestStatus),
            "status_hint": interest_status.STATUS_HINT,
            "history": history(db, ENTITY, opp.id),
            "is_fellow": actor.is_admin,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def _to_detail(opp: m.InvolvementOpportunity, notice: str, anchor: str = "") -> Redirect:
    return Redirect(f"/admin/involvement/{opp.id}?notice={notice}{anchor}", status_code=303)


@get("/{opportunity_id:int}", sync_to_thread=False)
def admin_detail(db: DB, user: CurrentUser, opportunity_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
    actor = _actor(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    return _detail_page(db, actor, opp, notice=notice_text(notice, NOTICES))


def _refused(db: Session, actor: Principal, opp: m.InvolvementOpportunity, exc: FieldErrors) -> Template:
    return _detail_page(db, actor, opp, error=" ".join(exc.errors.values()), status_code=409)


def _after_review(opp: m.InvolvementOpportunity, data: dict[str, Any], notice: str) -> Redirect:
    """Back to the fellow's review queue when the decision was taken there (``back=review``), else the page."""
    if data.get("back") == "review":
        return Redirect(f"/admin/review?notice={notice}", status_code=303)
    return _to_detail(opp, notice)


@post("/{opportunity_id:int}/approve", sync_to_thread=False)
def admin_approve(
    state: State, db: DB, settings: AppSettings, user: CurrentUser, opportunity_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    actor = access.require_fellow(_actor(db, user))
    opp = access.get_owned(db, actor, opportunity_id)
    try:
        posting.approve(
            db,
            state.renderer,
            state.signer,
            opp,
            actor=actor,
            base_url=settings.base_url,
            now=_now(),
            note=Form(data).str("note", max_length=1000),
        )
    except FieldErrors as exc:
        return _refused(db, actor, opp, exc)
    return _after_review(opp, data, "approved-link" if opp.public_posted and opp.contact_email else "approved")


@post("/{opportunity_id:int}/reject", sync_to_thread=False)
def admin_reject(
    state: State, db: DB, user: CurrentUser, opportunity_id: FromPath[int], data: FormBody
) -> Template | Redirect:
    actor = access.require_fellow(_actor(db, user))
    opp = access.get_owned(db, actor, opportunity_id)
    try:
        posting.reject(db, state.renderer, opp, actor=actor, now=_now(), note=Form(data).str("note", max_length=1000))
    except FieldErrors as exc:
        return _refused(db, actor, opp, exc)
    return _after_review(opp, data, "rejected")


@post("/{opportunity_id:int}/publish", sync_to_thread=False)
def admin_publish(db: DB, user: CurrentUser, opportunity_id: FromPath[int]) -> Template | Redirect:
    """A draft, or a closed opportunity opened again (its closing date must still be ahead)."""
    actor = _actor(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    if opp.status not in (m.OpportunityStatus.DRAFT, m.OpportunityStatus.CLOSED):
        return _refused(
            db, actor, opp, FieldErrors({"status": "Only a draft or a closed opportunity can be published."})
        )
    try:
        editing.publish(db, opp, _now(), actor=actor)
    except FieldErrors as exc:
        return _refused(db, actor, opp, exc)
    return _to_detail(opp, "published")


@post("/{opportunity_id:int}/close", sync_to_thread=False)
def admin_close(db: DB, user: CurrentUser, opportunity_id: FromPath[int]) -> Template | Redirect:
    actor = _actor(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    if opp.status == m.OpportunityStatus.REJECTED:
        return _refused(db, actor, opp, FieldErrors({"status": "A turned-down opportunity is not public: no need."}))
    editing.close(db, opp, _now(), actor=actor)
    return _to_detail(opp, "closed")


@post("/{opportunity_id:int}/manage-link", sync_to_thread=False)
def admin_manage_link(
    state: State, db: DB, settings: AppSettings, user: CurrentUser, opportunity_id: FromPath[int]
) -> Redirect:
    actor = access.require_fellow(_actor(db, user))
    opp = access.get_owned(db, actor, opportunity_id)
    sent = posting.send_manage_link(
        db, state.renderer, state.signer, opp, base_url=settings.base_url, now=_now(), reason="new", actor=actor
    )
    return _to_detail(opp, "link-sent" if sent else "no-contact")


@post("/{opportunity_id:int}/interests/{interest_id:int}", sync_to_thread=False)
def admin_interest(
    state: State,
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    opportunity_id: FromPath[int],
    interest_id: FromPath[int],
    data: FormBody,
) -> Template | Redirect:
    actor = _actor(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    try:
        status, notify = interest_status.parse_status(data)
        change = interest_status.change_status(
            db, state.renderer, opp, interest_id, status, notify=notify, by=actor, base_url=settings.base_url,
            now=_now(),
        )  # fmt: skip
    except FieldErrors as exc:
        return _detail_page(db, actor, opp, error=exc.errors["status"], status_code=422)
    return _to_detail(opp, "told" if change.notified else "status", f"#interest-{interest_id}")


@get("/{opportunity_id:int}/delete", sync_to_thread=False)
def admin_delete_confirm(db: DB, user: CurrentUser, opportunity_id: FromPath[int]) -> Template:
    actor = _actor(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    counts = interest_status.status_counts(db, opp.id)
    return Template("admin/involvement/opportunity_delete.html", context={"o": opp, "people": sum(counts.values())})


@post("/{opportunity_id:int}/delete", sync_to_thread=False)
def admin_delete(db: DB, user: CurrentUser, opportunity_id: FromPath[int]) -> Redirect:
    actor = _actor(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    posting.delete(db, opp, actor=actor)
    return Redirect("/admin/involvement?notice=deleted", status_code=303)


route_handlers: list[Any] = admin_area(
    "/admin/involvement",
    [
        admin_list,
        admin_csv,
        admin_new,
        admin_create,
        admin_detail,
        admin_edit,
        admin_update,
        admin_approve,
        admin_reject,
        admin_publish,
        admin_close,
        admin_manage_link,
        admin_interest,
        admin_delete_confirm,
        admin_delete,
    ],
    guard=editor_guard,
)
