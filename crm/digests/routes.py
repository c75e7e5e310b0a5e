"""Digest pages: the fellow's runs page and subscriber preview, and the subscriber's "not relevant" link.

``/digests/hide/{token}/call-12``: GET shows what would be hidden and a button (mail scanners
prefetch links, so GET changes nothing); POST hides that one item from that one subscription's digests.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy import select

from crm import models as m
from crm.digests import services
from crm.tokens import TokenError
from crm.web.auth import admin_guard
from crm.web.deps import DB, AppSettings

SANDBOX_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"


@get("/admin/digests", guards=[admin_guard], sync_to_thread=False, include_in_schema=False)
def runs_page(db: DB, run: FromQuery[int | None] = None) -> Template:
    runs = services.recent_runs(db)
    failures = services.run_failures(db, run) if run else []
    active = db.scalar(select(m.Subscription.id).where(m.Subscription.status == m.SubscriptionStatus.ACTIVE).limit(1))
    return Template(
        "admin/digests.html",
        context={"runs": runs, "failures": failures, "failures_run": run, "has_active": active is not None},
    )


def _preview(db: DB, settings: AppSettings, subscription_id: int) -> services.Preview:
    result = services.preview(db, settings, subscription_id)
    if result is None:
        raise NotFoundException("No subscription with this id.")
    return result


@get(
    "/admin/digests/preview/{subscription_id:int}", guards=[admin_guard], sync_to_thread=False, include_in_schema=False
)
def preview_page(db: DB, settings: AppSettings, subscription_id: FromPath[int]) -> Template:
    result = _preview(db, settings, subscription_id)
    return Template(
        "admin/digest_preview.html",
        context={"p": result, "sub": result.subscription, "section_title": services.section_title},
    )


@get(
    "/admin/digests/preview/{subscription_id:int}/html",
    guards=[admin_guard],
    sync_to_thread=False,
    include_in_schema=False,
)
def preview_html(db: DB, settings: AppSettings, subscription_id: FromPath[int]) -> Response[Any]:
    result = _preview(db, settings, subscription_id)
    body = result.rendered.html if result.rendered else f"<p>{result.reason}</p>"
    return Response(
        body, media_type="text/html", headers={"Content-Security-Policy": SANDBOX_CSP, "X-Frame-Options": "SAMEORIGIN"}
    )


def _target(state: State, db: DB, token: str, item: str) -> tuple[int, tuple[str, int], str] | str:
    try:
        data = state.signer.verify("not-relevant", token)
    except TokenError as exc:
        return str(exc)
    parsed = services.parse_item(item)
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or parsed is None:
        return "This link is not valid. It may have been changed or cut short."
    title = services.item_title(db, *parsed)
    if title is None:
        return "This item no longer exists, so there is nothing to hide."
    return data["s"], parsed, title


@get("/digests/hide/{token:str}/{item:str}", sync_to_thread=False, include_in_schema=False)
def not_relevant_page(state: State, db: DB, token: FromPath[str], item: FromPath[str]) -> Template:
    target = _target(state, db, token, item)
    if isinstance(target, str):
        return Template("public/digest_not_relevant.html", context={"problem": target}, status_code=400)
    _, _, title = target
    return Template("public/digest_not_relevant.html", context={"token": token, "item": item, "title": title})


@post("/digests/hide/{token:str}/{item:str}", sync_to_thread=False, include_in_schema=False, status_code=200)
def not_relevant_submit(state: State, db: DB, token: FromPath[str], item: FromPath[str]) -> Template:
    target = _target(state, db, token, item)
    if isinstance(target, str):
        return Template("public/digest_not_relevant.html", context={"problem": target}, status_code=400)
    sub_id, (kind, item_id), title = target
    if not services.hide_item(db, sub_id, kind, item_id):
        return Template(
            "public/digest_not_relevant.html",
            context={"problem": "We no longer have this subscription, so there is nothing to hide."},
            status_code=400,
        )
    return Template("public/digest_not_relevant.html", context={"done": True, "title": title})


route_handlers: list[Any] = [runs_page, preview_page, preview_html, not_relevant_page, not_relevant_submit]
