"""Public mailing pages: subscribe, confirm, the preference centre and unsubscribe.

GET never changes anything (mail scanners prefetch links); every change is a POST. The RFC 8058 one-click
POST ``/u/{token}`` needs no cookie or CSRF token (``exclude_from_csrf``) and answers 200 without a redirect.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, head, post
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Template

from crm import models as m
from crm import public_forms
from crm.funding.fit import DIGEST_KEY, digest_wants_suits, funding_filters_from_form
from crm.internships.alerts import internship_filters_from_form, stored_filters
from crm.involvement import network
from crm.mailing import compliance, consent, queries
from crm.mailing import subscriptions as subs
from crm.tokens import TokenError
from crm.web.deps import DB, client_ip
from crm.web.forms import Form, FormBody
from crm.web.pages import form_page_as

SUBSCRIBE_PER_IP_PER_HOUR = 20
SUBSCRIBE_PER_EMAIL_PER_HOUR = 5
CONFIRM_PER_IP_PER_HOUR = 60


def _how(request: Request[Any, Any, Any], mechanism: str) -> consent.How:
    return consent.How(
        mechanism=mechanism,
        source_url=str(request.url.path),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )


# Involvement opportunities are matched to what a lived experience network member told us, so that mailing is
# started by joining the network (crm.involvement.network) and offered here only to members and those who have it.
NETWORK_ONLY = m.Mailing.INVOLVEMENT.value
NETWORK_PAGE = "/involvement/network"


def _reference(db: DB, *, involvement: bool = False) -> dict[str, Any]:
    return {
        **queries.subscription_menus(db),
        "mailing_choices": [(x.value, x.label) for x in m.Mailing if involvement or x.value != NETWORK_ONLY],
        "frequencies": [(f.value, f.value.capitalize()) for f in m.Frequency],
    }


def _choices(
    form: Form, *, require_mailing: bool = True, stored: dict[str, Any] | None = None, involvement: bool = False
) -> subs.Choices:
    """The form's choices; ``stored`` is the subscription's current ``filters`` (the preference centre);
    ``involvement`` whether the involvement mailing may be chosen (``_involvement_offered``)."""
    mailings = form.getlist("mailings")
    valid = {x.value for x in m.Mailing if involvement or x.value != NETWORK_ONLY}
    if any(x not in valid for x in mailings):
        form.add_error("mailings", "Choose from the mailings listed.")
    if require_mailing and not mailings:
        form.add_error("mailings", "Choose at least one mailing.")

    def ids(name: str) -> list[int]:
        return form.ids(name, message="Choose from the options listed.")

    frequency = form.choice("frequency", {f.value for f in m.Frequency}, label="frequency") or "weekly"
    mailing_filters: dict[str, Any] = {}
    if m.Mailing.INTERNSHIP_ALERTS.value in mailings:
        mailing_filters[m.Mailing.INTERNSHIP_ALERTS.value] = internship_filters_from_form(form)
    if m.Mailing.FUNDING_DIGEST.value in mailings:  # "only calls that suit small user-led groups" (issue 19)
        funding = funding_filters_from_form(form)
        # Stored when chosen, or to clear an earlier choice: saving unchanged choices stays "Nothing changed".
        if funding or m.Mailing.FUNDING_DIGEST.value in (stored or {}):
            mailing_filters[m.Mailing.FUNDING_DIGEST.value] = funding
    return subs.Choices(
        mailing_filters=mailing_filters,
        mailings=mailings,
        topic_ids=ids("topics"),
        region_ids=ids("regions"),
        frequency=frequency,
        only_vcse_partner_calls=form.bool("only_vcse_partner_calls"),
        funder_ids=ids("funders"),
    )


def _selected(form: Form) -> dict[str, Any]:
    """What the subscribe and preference forms show as chosen."""
    return {
        "mailings": set(form.getlist("mailings")),
        "topics": set(form.getlist("topics")),
        "regions": set(form.getlist("regions")),
        "funders": set(form.getlist("funders")),
        "frequency": form.data.get("frequency", "weekly"),
    }


def _subscribe_context(db: DB, form: Form, **extra: Any) -> dict[str, Any]:
    return {
        **_reference(db),
        "form": form,
        "consent_version": consent.CONSENT_VERSION,
        "consent_text": consent.CONSENT_TEXTS[consent.CONSENT_VERSION],
        "consent_ticked": public_forms.consent_ticked(form, consent.CONSENT_VERSION),
        "selected": _selected(form),
        **extra,
    }


def _subscribe_page(db: DB, form: Form) -> Template:
    """The subscribe form: 400 when it comes back with messages (as it always has), else 200."""
    return form_page_as(400, "public/subscribe.html", _subscribe_context(db, form), form=form)


# --- public: subscribe and confirm -----------------------------------------------------------------------------


@get("/subscribe", sync_to_thread=False)
def subscribe_page(request: Request[Any, Any, Any], db: DB) -> Template:
    """Pre-filled from the query string when a page links here (e.g. "Get alerts for this search")."""
    multi = {"mailings", "topics", "regions", "funders", "mode"}
    prefill = {
        k: (v if k in multi else v[-1]) for k, v in request.query_params.dict().items() if k in PREFILL_FIELDS and v
    }
    return _subscribe_page(db, Form(prefill or {"mailings": [m.Mailing.FUNDING_DIGEST.value]}))


@post("/subscribe", sync_to_thread=False)
def subscribe_submit(request: Request[Any, Any, Any], state: State, db: DB, data: FormBody) -> Template:
    form = Form(data)
    email = form.email("email")
    if form.ok and subs.looks_disposable(email):
        form.add_error("email", "This looks like a temporary inbox. Please use an address you will keep reading.")
    name = form.line("name", max_length=200)
    organisation = form.line("organisation", max_length=300)
    choices = _choices(form)
    version = form.str("consent_version", max_length=40)
    if not form.bool("consent"):
        form.add_error("consent", "Tick the box to say you agree to receive these emails.")
    if version not in consent.CONSENT_TEXTS:
        form.add_error("consent", "The consent statement has changed. Please read it again and tick the box.")
    if not form.ok:
        return _subscribe_page(db, form)
    limiter = state.rate_limiter
    ip = client_ip(request)
    if not (
        limiter.allow(f"subscribe:ip:{ip}", SUBSCRIBE_PER_IP_PER_HOUR, 3600)
        and limiter.allow(f"subscribe:email:{email}", SUBSCRIBE_PER_EMAIL_PER_HOUR, 3600)
    ):
        return Template(
            "public/subscribe.html",
            context=_subscribe_context(db, form, limited=True),
            status_code=429,
            headers={"Retry-After": "3600"},
        )
    result = subs.subscribe(
        db,
        state.renderer,
        state.signer,
        email=email,
        name=name,
        organisation_name=organisation,
        choices=choices,
        consent_version=version,
        how=_how(request, "web form"),
    )
    if result == subs.SubscribeResult.REFUSED:
        return Template("public/subscribe_refused.html", context={}, status_code=200)
    # The same page whether the address is new, pending or already subscribed (no enumeration).
    return Template("public/subscribe_check_email.html", context={"email": email})


def _confirm_problem(message: str, status: int = 400) -> Template:
    return Template("public/confirm_problem.html", context={"message": message}, status_code=status)


@get("/subscribe/confirm/{token:str}", sync_to_thread=False)
def confirm_page(state: State, db: DB, token: FromPath[str]) -> Template:
    try:
        sub = subs.peek_confirmation(db, state.signer, token)
    except TokenError as exc:
        return _confirm_problem(str(exc))
    return Template(
        "public/confirm.html", context={"token": token, "already": sub.status == m.SubscriptionStatus.ACTIVE}
    )


@post("/subscribe/confirm/{token:str}", sync_to_thread=False)
def confirm_submit(request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str]) -> Template:
    if not state.rate_limiter.allow(f"confirm:ip:{client_ip(request)}", CONFIRM_PER_IP_PER_HOUR, 3600):
        return _confirm_problem("Too many attempts from your network. Please wait an hour and try again.", 429)
    try:
        sub = subs.confirm(db, state.signer, token, _how(request, "confirmation link"))
    except TokenError as exc:
        return _confirm_problem(str(exc))
    prefs = compliance.preferences_url(state.signer, state.settings, sub.email)
    return Template("public/confirm_done.html", context={"preferences_url": prefs})


# --- public: preference centre ----------------------------------------------------------------------------------


def _link_problem(message: str) -> Template:
    return Template("public/preferences_problem.html", context={"message": message}, status_code=400)


def _involvement_offered(db: DB, sub: m.Subscription) -> m.NetworkMember | bool:
    """Whether the preference centre offers the involvement mailing: to an active network member (returned, for the
    link to their own page) or a subscription that has it (True); else False."""
    member = network.by_email(db, sub.email)
    if member is not None and member.status == m.NetworkMemberStatus.ACTIVE:
        return member
    return NETWORK_ONLY in (sub.mailings or [])


def _preferences_page(state: State, db: DB, sub: m.Subscription, token: str, form: Form, notice: str = "") -> Template:
    """The preference centre: 400 when the form comes back with messages (as it always has), else 200."""
    offered = _involvement_offered(db, sub)
    member = offered if isinstance(offered, m.NetworkMember) else None
    context = {
        **_reference(db, involvement=bool(offered)),
        "sub": sub,
        "token": token,
        "selected": _selected(form),
        "notice": notice,
        "network_url": network.manage_url(state.signer, state.settings.base_url, member) if member else "",
    }
    return form_page_as(400, "public/preferences.html", context, form=form)


def _subscription_of(state: State, db: DB, token: str) -> tuple[str, m.Subscription] | Template:
    """The address a preferences link is for and its subscription, or the page to show instead (a bad link, or
    no subscription under that address)."""
    try:
        email = subs.email_from_preferences_token(state.signer, token)
    except TokenError as exc:
        return _link_problem(str(exc))
    sub = subs.by_email(db, email, load=True)
    if sub is None:
        return Template("public/preferences_none.html", context={})
    return email, sub


def _unsubscribed_everything() -> Template:
    context = {"mailing_label": "", "is_digest": False, "preferences_url": "", "everything_path": ""}
    return Template("public/unsubscribe_done.html", context={**context, "unknown": False, "resubscribe": True})


PREFILL_FIELDS = {
    "mailings",
    "topics",
    "regions",
    "funders",
    "frequency",
    "direction",
    "mode",
    "paid",
    "hours",
    "stage",
    DIGEST_KEY,
}


def _form_from(sub: m.Subscription) -> Form:
    alerts = stored_filters(sub.filters)
    return Form(
        {
            "direction": alerts.get("direction", ""),
            "mode": list(alerts.get("modes", [])),
            "paid": alerts.get("paid", ""),
            "hours": str(alerts.get("max_hours") or ""),
            "stage": alerts.get("stage", ""),
            "mailings": list(sub.mailings or []),
            "topics": [str(t.id) for t in sub.topics],
            "regions": [str(r.id) for r in sub.regions],
            "frequency": str(sub.frequency),
            "only_vcse_partner_calls": "on" if sub.only_vcse_partner_calls else "",
            DIGEST_KEY: "on" if digest_wants_suits(sub.filters) else "",
            "funders": [str(i) for i in sub.funder_ids or []],
        }
    )


@get("/preferences/{token:str}", sync_to_thread=False)
def preferences_page(state: State, db: DB, token: FromPath[str]) -> Template:
    found = _subscription_of(state, db, token)
    if isinstance(found, Template):
        return found
    return _preferences_page(state, db, found[1], token, _form_from(found[1]))


@post("/preferences/{token:str}", sync_to_thread=False)
def preferences_submit(
    request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str], data: FormBody
) -> Template:
    found = _subscription_of(state, db, token)
    if isinstance(found, Template):
        return found
    email, sub = found
    form = Form(data)
    action = form.choice("action", {"save", "pause", "resume", "unsubscribe_all"}) or "save"
    how = _how(request, "preference centre")
    if action == "unsubscribe_all":
        subs.unsubscribe(db, email, None, how)
        return _unsubscribed_everything()
    if action in {"pause", "resume"}:
        changed = subs.set_paused(db, sub, action == "pause", how)
        notice = {
            True: "Your emails are paused." if action == "pause" else "Your emails have restarted.",
            False: "Nothing changed.",
        }[changed]
        return _preferences_page(state, db, sub, token, _form_from(sub), notice)
    if sub.status not in {m.SubscriptionStatus.ACTIVE, m.SubscriptionStatus.PAUSED}:
        form.add_error("mailings", "This subscription is not active. Use the subscribe page to start again.")
    choices = _choices(form, require_mailing=False, stored=sub.filters, involvement=bool(_involvement_offered(db, sub)))
    if not form.ok:
        return _preferences_page(state, db, sub, token, form)
    changed = subs.update_preferences(db, sub, choices, how)
    if sub.status == m.SubscriptionStatus.UNSUBSCRIBED:
        return _unsubscribed_everything()
    return _preferences_page(
        state, db, sub, token, _form_from(sub), "Your choices are saved." if changed else "Nothing changed."
    )


# --- public: unsubscribe (RFC 8058 one-click and the visible link) ---------------------------------------------


def _network_way_back(state: State, db: DB, email: str) -> dict[str, Any]:
    """Where the involvement emails start again (the subscribe form does not offer them): an active member's own
    network page (they stay a member), anyone else the network's page to join."""
    member = network.by_email(db, email)
    if member is not None and member.status == m.NetworkMemberStatus.ACTIVE:
        return {"network_page": network.manage_url(state.signer, state.settings.base_url, member), "member": True}
    return {"network_page": NETWORK_PAGE, "member": False}


def _unsubscribe_target(state: State, token: str) -> tuple[str, str | None]:
    return compliance.unsubscribe_payload(state.signer, token)


def _stream_context(state: State, email: str, stream: str | None) -> dict[str, Any]:
    """What the unsubscribe pages say stops, and the finer choices they offer."""
    settings = state.settings
    return {
        "mailing_label": compliance.stream_label(stream),
        "is_digest": stream == compliance.DIGEST_STREAM,
        "is_contact_stream": stream == compliance.CONTACT_STREAM,  # a phrase of its own ("emails from …")
        "preferences_url": compliance.preferences_url(state.signer, settings, email),
        "everything_path": "" if stream is None else f"/u/{compliance.unsubscribe_token(state.signer, email, None)}",
    }


@get("/u/{token:str}", sync_to_thread=False)
def unsubscribe_page(state: State, token: FromPath[str]) -> Template:
    """Shows a confirm button and changes nothing (link scanners prefetch)."""
    try:
        email, stream = _unsubscribe_target(state, token)
    except TokenError as exc:
        return Template("public/unsubscribe_problem.html", context={"message": str(exc)}, status_code=400)
    return Template("public/unsubscribe.html", context={"token": token, **_stream_context(state, email, stream)})


@head("/u/{token:str}", sync_to_thread=False)
def unsubscribe_head(token: FromPath[str]) -> Response[None]:
    return Response(content=None, status_code=200, media_type="text/html")


@post("/u/{token:str}", sync_to_thread=False, exclude_from_csrf=True, status_code=200)
def unsubscribe_submit(request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str]) -> Template:
    """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``, no cookies) and the page's button: 200, no redirect.
    The token names the stream the email belongs to (``compliance.unsubscribe_payload``); exactly that stops."""
    try:
        email, stream = _unsubscribe_target(state, token)
    except TokenError as exc:
        return Template("public/unsubscribe_problem.html", context={"message": str(exc)}, status_code=400)
    content_type = request.headers.get("content-type", "")
    mechanism = "one-click header" if request.headers.get("cookie") is None and content_type else "unsubscribe page"
    result = subs.unsubscribe(db, email, stream, _how(request, mechanism))
    return Template(
        "public/unsubscribe_done.html",
        context={
            **_stream_context(state, email, stream),
            **(_network_way_back(state, db, email) if stream == NETWORK_ONLY else {}),
            "unknown": result == subs.UnsubscribeResult.UNKNOWN,
            "resubscribe": True,
        },
    )


route_handlers: list[Any] = [
    subscribe_page,
    subscribe_submit,
    confirm_page,
    confirm_submit,
    preferences_page,
    preferences_submit,
    unsubscribe_page,
    unsubscribe_head,
    unsubscribe_submit,
]
