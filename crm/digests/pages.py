"""The subscriber's "not relevant" link in a digest.

``/digests/hide/{token}/call-12``: GET shows what would be hidden and a button (mail scanners
prefetch links, so GET changes nothing); POST hides that one item from that one subscription's digests.
"""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Template

from crm.digests import services
from crm.tokens import TokenError
from crm.web.deps import DB


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


route_handlers: list[Any] = [not_relevant_page, not_relevant_submit]
