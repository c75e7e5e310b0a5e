"""The fellow's privacy tools (/admin/privacy, admins only): find a person, their subject-access export (page
and JSON download), erasure after a confirmation, and the retention run.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from crm.audit import record
from crm.privacy import retention, subjects
from crm.privacy.erasure import erase
from crm.web.areas import admin_area
from crm.web.auth import admin_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.downloads import JSON, download
from crm.web.forms import Form, FormBody


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _subject(db: Any, email: str, contact_id: str) -> subjects.Subject:
    cid: int | None = None
    if contact_id.strip():
        try:
            cid = int(contact_id)
        except ValueError as exc:
            raise NotFoundException("There is no such contact.") from exc
    if cid is None and not email.strip():
        raise NotFoundException("Give an email address or a contact.")
    try:
        return subjects.find_subject(db, email=email or None, contact_id=cid)
    except subjects.NotFound as exc:
        raise NotFoundException(str(exc)) from exc


def _who(request: Request[Any, Any, Any]) -> tuple[str, str]:
    q = request.query_params
    return q.get("email", "").strip(), q.get("contact_id", "").strip()


@get("/", guards=[admin_guard], sync_to_thread=False)
def privacy_home(request: Request[Any, Any, Any], db: DB) -> Template:
    email, contact_id = _who(request)
    error = ""
    if email or contact_id:
        try:
            subject = _subject(db, email, contact_id)
        except NotFoundException as exc:
            error = str(exc.detail)
        else:
            query = f"contact_id={subject.contact.id}" if subject.contact else f"email={subject.email}"
            return Template("admin/privacy_found.html", context={"subject": subject, "query": query})  # type: ignore[return-value]
    return Template("admin/privacy.html", context={"email": email, "error": error})


@get("/subject", guards=[admin_guard], sync_to_thread=False)
def privacy_subject(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Template:
    subject = _subject(db, *_who(request))
    data = subjects.export(db, subject, settings.mail_detail_days)
    return Template(
        "admin/privacy_subject.html",
        context={"subject": subject, "data": data, "sections": subjects.EXPORT_SECTIONS, "query": request.url.query},
    )


@get("/export.json", guards=[admin_guard], sync_to_thread=False)
def privacy_export(request: Request[Any, Any, Any], db: DB, user: CurrentUser, settings: AppSettings) -> Response[str]:
    subject = _subject(db, *_who(request))
    data = subjects.export(db, subject, settings.mail_detail_days)
    record(
        db,
        user,
        "export",
        "contact" if subject.contact else "person",
        subject.contact.id if subject.contact else None,
        summary="Subject-access export downloaded",
    )
    name = f"subject-access-{subject.contact.id if subject.contact else 'subscriber'}.json"
    return download(json.dumps(data, indent=2, ensure_ascii=False, default=str), JSON, name)


@get("/erase", guards=[admin_guard], sync_to_thread=False)
def privacy_erase_confirm(request: Request[Any, Any, Any], db: DB) -> Template:
    subject = _subject(db, *_who(request))
    return Template("admin/privacy_erase.html", context={"subject": subject, "form": Form({})})


@post("/erase", guards=[admin_guard], sync_to_thread=False)
def privacy_erase(data: FormBody, db: DB, user: CurrentUser) -> Template | Redirect:
    form = Form(data)
    subject = _subject(db, form.str("email"), form.str("contact_id"))
    if form.str("confirm") != "yes":
        form.add_error("confirm", "Tick the box to confirm the erasure.")
        return Template("admin/privacy_erase.html", context={"subject": subject, "form": form}, status_code=200)
    counts = erase(db, subject, user)
    total = sum(v for k, v in counts.items() if k != "suppressed")
    return Redirect(f"/admin/privacy?erased={total}", status_code=303)


@get("/retention", guards=[admin_guard], sync_to_thread=False)
def retention_page(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> Template:
    plan = retention.plan(db, now=_now(), settings=settings)
    return Template(
        "admin/privacy_retention.html",
        context={
            "plan": plan,
            "years": settings.retention_contact_years,
            "days": retention.UNCONFIRMED_DAYS,
            "interest_days": retention.involvement.INTEREST_KEEP_DAYS,
            "done": request.query_params.get("done"),
        },
    )


@post("/retention", guards=[admin_guard], sync_to_thread=False)
def retention_run(data: FormBody, db: DB, user: CurrentUser, settings: AppSettings) -> Redirect:
    result = retention.run(db, now=_now(), settings=settings)
    record(
        db,
        user,
        "retention",
        "privacy",
        None,
        summary=(
            f"Retention run: {result['subscriptions']} subscriptions, {result['contacts']} contacts, "
            f"{result['network_members']} network members, {result['involvement_interests']} expressions of "
            f"interest, {result['network_joins']} unconfirmed network joins anonymised"
        ),
    )
    keys = ("subscriptions", "contacts", "network_members", "involvement_interests", "network_joins")
    done = sum(result[k] for k in keys)
    return Redirect(f"/admin/privacy/retention?done={done}", status_code=303)


route_handlers: list[Any] = admin_area(
    "/admin/privacy",
    [
        privacy_home,
        privacy_subject,
        privacy_export,
        privacy_erase_confirm,
        privacy_erase,
        retention_page,
        retention_run,
    ],
    guard=None,
)
