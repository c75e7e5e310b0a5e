"""HTTP caching of anonymous reads: ``ETag`` + ``Cache-Control`` on the public lists, pages and feeds, and a 304
for a matching ``If-None-Match`` answered before the request reaches CSRF, dependencies, the handler or a query.

Which pages: ``RULES`` maps a route's path template to the tables it reads (``crm.httpcache`` keeps their
change stamps). Only anonymous GETs are cached: a session cookie or an ``Authorization`` header skips all of this,
so signed-in pages and the API's private fields keep whatever ``Cache-Control`` their handler set.

What is sent: ``Cache-Control: public, no-cache`` (any cache may store it but must ask again each time, which
costs us a 304) and ``Vary`` on the headers the body depends on. A response that carries a CSRF token (a page
with a form, e.g. an internship with its "register interest" form) is per visitor: it is sent ``private`` with an
ETag that also covers the visitor's CSRF cookie, so no shared cache hands one visitor's token to another. A
public response never sets the CSRF cookie (its body has no form that needs it). Anything but a whole 200
(errors, redirects, streams, other cookies) passes through untouched.

With ``CRM_REDIS_URL`` the tag comes from the versions every process shares (``crm.httpcache.Shared``), without
the process's boot id or the app's id, so any process in sync answers 304 for a tag another issued; a process
that cannot show it is in sync (Redis lost, not yet read, its own write not yet shared) hands out its per-process
tag instead, as without Redis.

The same tag keys a small in-process store of public answers (``STORE``): while a page's tables and window are
unchanged, the next anonymous visitor gets the stored answer without the handler running, as a shared cache in
front of the app would give it. A request saying ``Cache-Control: no-cache`` (a browser's reload, or a
benchmark of the whole path) skips the store and is answered by the handler.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from litestar import Litestar, Request
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from crm import httpcache

CSRF_COOKIE = b"crm_csrf"
CSRF_FIELD = b'name="_csrf_token"'
VARY = b"Cookie, Authorization, HX-Request, HX-Boosted"
PUBLIC = b"public, no-cache"
PRIVATE = b"private, no-cache"
ROOT_STORE = "root"  # crm.web.stores.ROOT_STORE: the store that holds the stamps bus

_GEO = ("organisations", "topics", "regions")
DIRECTORY = (*_GEO, "organisation_topics")
FUNDING = (*_GEO, "funding_calls", "funding_call_deadlines", "funding_call_regions", "funding_call_topics")
EVENTS = (*_GEO, "events", "rsvp_responses", "invitations", "event_place_requests")
INTERNSHIPS = (*_GEO, "internships", "internship_topics", "internship_career_stages")
NEWS = (*_GEO, "campaigns")

# path template -> the tables its body is read from (a write to any of them gives the page a new ETag)
RULES: dict[str, tuple[str, ...]] = {
    "/organisations": DIRECTORY,
    "/organisations/{slug}": (httpcache.EVERYTHING,),  # every domain lends the page a section
    "/api/v1/organisations": DIRECTORY,
    "/api/v1/organisations/{org_id}": DIRECTORY,
    "/api/v1/topics": DIRECTORY,
    "/funding-calls": FUNDING,
    "/funding-calls/feed.xml": FUNDING,
    "/funding-calls/{slug}": FUNDING,
    "/funding-calls/{slug}/deadline.ics": FUNDING,
    "/api/v1/funding-calls": FUNDING,
    "/api/v1/funding-calls/{call_id}": FUNDING,
    "/events": EVENTS,
    "/events/{slug}": EVENTS,
    "/api/v1/events": EVENTS,
    "/api/v1/events/{event_id}": EVENTS,
    "/internships": INTERNSHIPS,
    "/internships/feed.xml": INTERNSHIPS,
    "/internships/{slug}": INTERNSHIPS,
    "/api/v1/internships": INTERNSHIPS,
    "/api/v1/internships/{internship_id}": INTERNSHIPS,
    "/news": NEWS,
    "/news/feed.xml": NEWS,
    "/news/{slug}": NEWS,
}


# A route's ``opt`` key: a function answering an anonymous GET of that route with its JSON body (bytes), called by
# ``serve`` in place of the handler. For public reads without guards, whose handler gives anonymous visitors the same
# bytes (``crm.internships.api``): the request then skips the CSRF middleware, Litestar's request parsing,
# dependencies, response object and header encoding (~15% of the internships list). Errors it raises are answered
# by the same exception handlers as the handler's.
ANONYMOUS_JSON = "anonymous_json"
JSON_HEADERS = ((b"content-type", b"application/json"),)  # what Litestar sends for a JSON response, before length


class Store:
    """The last public answers by ETag, least recently used out first, within a byte budget."""

    def __init__(self, max_bytes: int = 32_000_000, max_body: int = 300_000) -> None:
        self.max_bytes, self.max_body, self.used = max_bytes, max_body, 0
        self.answers: OrderedDict[str, tuple[Message, bytes]] = OrderedDict()

    def get(self, tag: str) -> tuple[Message, bytes] | None:
        answer = self.answers.get(tag)
        if answer is not None:
            self.answers.move_to_end(tag)
        return answer

    def put(self, tag: str, start: Message, body: bytes) -> None:
        if len(body) > self.max_body or tag in self.answers:
            return
        self.answers[tag] = (start, body)
        self.used += len(body)
        while self.used > self.max_bytes:
            _, (_, old) = self.answers.popitem(last=False)
            self.used -= len(old)

    def clear(self) -> None:
        self.answers.clear()
        self.used = 0


STORE = Store()


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope.get("headers", ()))


def _cookie(raw: bytes, name: bytes) -> bytes:
    for part in raw.split(b";"):
        key, _, value = part.strip().partition(b"=")
        if key == name:
            return value
    return b""


def _private_tag(public_tag: str, csrf_cookie: bytes) -> str:
    """The ETag of a page with a form: the public tag narrowed to one visitor's CSRF cookie."""
    return public_tag[:-1] + "-" + hashlib.blake2b(csrf_cookie, digest_size=6).hexdigest() + '"'


def _matches(if_none_match: bytes, tags: tuple[str, ...]) -> bool:
    offered = {t.strip() for t in if_none_match.decode("latin-1").split(",")}
    return "*" in offered or any(t in offered for t in tags)


def _shared(app: Litestar) -> httpcache.Shared | None:
    """The shared versions of the app's stamps bus (``crm.web.stores`` starts it with the app), if any."""
    bus = getattr(app.stores.get(ROOT_STORE), "bus", None)
    return None if bus is None else bus.shared  # type: ignore[no-any-return]


def rule_for(scope: Scope) -> tuple[str, ...] | None:
    """The tables of a cacheable route, or None. Only a GET with neither a session cookie nor credentials."""
    if scope.get("method") != "GET":
        return None
    return RULES.get(scope.get("path_template", ""))


async def serve(tables: tuple[str, ...], scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
    """Answer 304 when the client holds the current version; else run the route and label its answer."""
    headers = _headers(scope)
    query = scope.get("query_string", b"").decode("latin-1")
    # the app too: the tests run one app per database in one process, like two servers
    htmx = headers.get(b"hx-request", b"") + b"/" + headers.get(b"hx-boosted", b"")  # fragment or whole page
    page = f"{scope['path']}?{query}|{htmx.decode('latin-1')}"
    tag = None  # shared: the Redis namespace's epoch stands for the app (one namespace, one database)
    if httpcache.shared_states:  # a stamps bus runs in this process (CRM_REDIS_URL)
        shared = _shared(scope["litestar_app"])
        if shared is not None:
            tag = shared.etag(page, tables)  # the same in every process in sync; None when not provably so
    if tag is None:
        tag = httpcache.etag(f"{id(scope['litestar_app'])}|{page}", tables)
    csrf_cookie = _cookie(headers.get(b"cookie", b""), CSRF_COOKIE)
    if_none_match = headers.get(b"if-none-match")
    if if_none_match is not None:
        tags = (tag, _private_tag(tag, csrf_cookie)) if csrf_cookie else (tag,)
        if _matches(if_none_match, tags):
            matched = tags[0] if _matches(if_none_match, tags[:1]) else tags[-1]
            control = PUBLIC if matched == tag else PRIVATE
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [(b"etag", matched.encode()), (b"cache-control", control), (b"vary", VARY)],
                }
            )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
    if b"no-cache" not in headers.get(b"cache-control", b""):
        stored = STORE.get(tag)
        if stored is not None:
            await send(dict(stored[0]))
            await send({"type": "http.response.body", "body": stored[1], "more_body": False})
            return
    labelled = _labelling_send(send, tag, csrf_cookie)
    read = scope["route_handler"].opt.get(ANONYMOUS_JSON)
    if read is not None:  # the route's own answer for anonymous readers, without Litestar's handler machinery
        body = read(Request(scope))
        length = str(len(body)).encode()
        await labelled(
            {"type": "http.response.start", "status": 200, "headers": [*JSON_HEADERS, (b"content-length", length)]}
        )
        await labelled({"type": "http.response.body", "body": body, "more_body": False})
        return
    await next_app(scope, receive, labelled)


def _labelling_send(send: Send, tag: str, csrf_cookie: bytes) -> Send:
    """Hold the response start until the body is known, then add ETag and Cache-Control to a whole 200 (and keep
    a public one in ``STORE``)."""
    held: list[Message] = []

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            held.append(message)
            return
        if held and message["type"] == "http.response.body":
            start = held.pop()
            if not message.get("more_body", False):
                body = message.get("body", b"")
                start = _label(start, body, tag, csrf_cookie)
                if (b"cache-control", PUBLIC) in start["headers"]:
                    STORE.put(tag, dict(start), body)
            await send(start)
        await send(message)

    return wrapped


def _label(start: Message, body: bytes, tag: str, csrf_cookie: bytes) -> Message:
    headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() not in (b"etag", b"vary")]
    names = {k.lower() for k, _ in headers}
    if b"cache-control" in names:
        return start  # the handler decided (no-store on a page with a token in its URL)
    cookies = [v for k, v in headers if k.lower() == b"set-cookie"]
    if any(not v.startswith(CSRF_COOKIE + b"=") for v in cookies):
        return start  # a cookie of its own: never cached
    if CSRF_FIELD in body:
        token = csrf_cookie or (_cookie(cookies[0].split(b";", 1)[0], CSRF_COOKIE) if cookies else b"")
        if not token:
            return start
        headers += [(b"etag", _private_tag(tag, token).encode()), (b"cache-control", PRIVATE)]
    else:
        headers = [(k, v) for k, v in headers if k.lower() != b"set-cookie"]
        headers += [(b"etag", tag.encode()), (b"cache-control", PUBLIC)]
    headers.append((b"vary", VARY))
    return {**start, "headers": headers}
