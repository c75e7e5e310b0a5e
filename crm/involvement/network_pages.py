"""The lived experience network's public pages: what it is and the join form, confirming, a member's own page (change
what they shared, leave), and the "yes, I'm interested" page an alert or an invitation links to.

GET never changes anything (mail scanners prefetch links); every change is a POST with the CSRF token. Pages reached
by a personal link carry no-store, noindex and no-referrer headers: they show what a person shared.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm import public_forms
from crm.involvement import alerts, network
from crm.involvement.interest import OpportunityClosed
from crm.involvement.rules import INTEREST_CONSENT_WORDING, is_open, payment_summary
from crm.mailing.compliance import preferences_url
from crm.mailing.consent import How
from crm.tokens import TokenError
from crm.web.deps import DB, AppSettings, client_ip
from crm.web.forms import Form, FormBody
from crm.web.pages import form_page

PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
JOIN_PER_IP_PER_HOUR = 20
JOIN_PER_EMAIL_PER_HOUR = 5
CONFIRM_PER_IP_PER_HOUR = 60
NOTE_MAX = 2000


def _how(request: Request[Any, Any, Any], mechanism: str) -> How:
    return How(
        mechanism=mechanism,
        source_url=str(request.url.path),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )


def _choices(db: Session) -> dict[str, Any]:
    return {
        "topics": db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.name)).all(),
        "regions": db.execute(select(m.Region.id, m.Region.name).order_by(m.Region.position)).all(),
        "kinds": [(k.value, k.label) for k in m.InvolvementKind],
        "payments": network.PAYMENT_OPTIONS,
    }


def _chosen(form: Form) -> dict[str, list[str]]:
    return {name: form.getlist(name) for name in ("topics", "regions", "kinds", "payment")}


def _join_page(db: Session, form: Form, **extra: Any) -> Template:
    context = {
        **_choices(db),
        "chosen": _chosen(form),
        "consent_text": network.CONSENT_WORDING,
        "consent_version": network.CONSENT_VERSION,
        "consent_ticked": public_forms.consent_ticked(form, network.CONSENT_VERSION),
        **extra,
    }
    return form_page("public/involvement/network.html", context, form=form)


def _problem(message: str, status: int = 400) -> Template:
    return Template(
        "public/involvement/network_problem.html", context={"message": message}, status_code=status, headers=PRIVATE
    )


# --- join and confirm -------------------------------------------------------------------------------------------


@get("/involvement/network", sync_to_thread=False)
def network_page(db: DB) -> Template:
    """What the network is, what we keep and why, who sees it, and the form to join."""
    return _join_page(db, Form({"online": "yes"}))


@post("/involvement/network", sync_to_thread=False)
def network_join(request: Request[Any, Any, Any], state: State, db: DB, data: FormBody) -> Template:
    form = Form(data)
    values = network.validate(db, form)
    if public_forms.trapped(data, "network join"):  # the field people cannot see: only robots fill it
        return Template("public/involvement/network_check_email.html", context={"email": values.email})
    if form.str("consent_version", max_length=40) != network.CONSENT_VERSION:
        form.add_error("consent", "The consent wording has changed. Please read it again and tick the box.")
    elif not form.bool("consent"):
        form.add_error("consent", "Tick the box to say you agree, so we can keep what you share.")
    if not form.ok:
        return _join_page(db, form)
    limiter = state.rate_limiter
    if not (
        limiter.allow(f"network-join:ip:{client_ip(request)}", JOIN_PER_IP_PER_HOUR, 3600)
        and limiter.allow(f"network-join:email:{values.email}", JOIN_PER_EMAIL_PER_HOUR, 3600)
    ):
        page = _join_page(db, form, limited=True)
        page.status_code = 429
        page.headers["Retry-After"] = "3600"
        return page
    result = network.join(db, state.renderer, state.signer, values, _how(request, "network form"))
    if result == network.JoinResult.REFUSED:
        return Template("public/involvement/network_check_email.html", context={"refused": True})
    # The same page for a new, pending or existing member: nobody learns who is in the network.
    return Template("public/involvement/network_check_email.html", context={"email": values.email})


@get("/involvement/network/confirm/{token:str}", sync_to_thread=False)
def confirm_page(state: State, db: DB, token: FromPath[str]) -> Template:
    try:
        member = network.peek_confirmation(db, state.signer, token)
    except TokenError as exc:
        return _problem(str(exc))
    already = member.status == m.NetworkMemberStatus.ACTIVE
    context = {"token": token, "already": already, "name": member.name}
    return Template("public/involvement/network_confirm.html", context=context, headers=PRIVATE)


@post("/involvement/network/confirm/{token:str}", sync_to_thread=False)
def confirm_submit(
    request: Request[Any, Any, Any], state: State, db: DB, settings: AppSettings, token: FromPath[str]
) -> Template:
    if not state.rate_limiter.allow(f"network-confirm:ip:{client_ip(request)}", CONFIRM_PER_IP_PER_HOUR, 3600):
        return _problem("Too many attempts from your network. Please wait an hour and try again.", 429)
    try:
        member = network.confirm(db, state.signer, token, _how(request, "network confirmation link"))
    except TokenError as exc:
        return _problem(str(exc))
    context = {
        "name": member.name,
        "manage_url": network.manage_url(state.signer, settings.base_url, member),
        "preferences_url": preferences_url(state.signer, settings, member.email),
        "alerts_on": network.alerts_on(db, member.email),
    }
    return Template("public/involvement/network_confirmed.html", context=context, headers=PRIVATE)


# --- a member's own page -----------------------------------------------------------------------------------------


def _member(state: State, db: Session, token: str) -> m.NetworkMember | Template:
    try:
        return network.member_from_token(db, state.signer, token)
    except TokenError as exc:
        return _problem(str(exc))


def _you_page(db: Session, state: State, member: m.NetworkMember, token: str, form: Form, notice: str = "") -> Template:
    context = {
        **_choices(db),
        "chosen": _chosen(form),
        "member": member,
        "token": token,
        "notice": notice,
        "alerts_on": network.alerts_on(db, member.email),
        "preferences_url": preferences_url(state.signer, state.settings, member.email),
    }
    page = form_page("public/involvement/network_you.html", context, form=form)
    page.headers.update(PRIVATE)
    return page


@get("/involvement/network/you/{token:str}", sync_to_thread=False)
def you_page(state: State, db: DB, token: FromPath[str]) -> Template:
    member = _member(state, db, token)
    if isinstance(member, Template):
        return member
    return _you_page(db, state, member, token, Form(network.form_values(db, member)))


@post("/involvement/network/you/{token:str}", sync_to_thread=False)
def you_submit(state: State, db: DB, token: FromPath[str], data: FormBody) -> Template:
    member = _member(state, db, token)
    if isinstance(member, Template):
        return member
    form = Form(data)
    values = network.validate(db, form, with_email=False)
    if not form.ok:
        return _you_page(db, state, member, token, form)
    changed = network.update(db, member, values)
    notice = "Your changes are saved." if changed else "Nothing changed."
    return _you_page(db, state, member, token, Form(network.form_values(db, member)), notice)


@post("/involvement/network/you/{token:str}/emails", sync_to_thread=False)
def restart_emails(request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str]) -> Template:
    """Start the emails about opportunities again (after stopping them), from the member's own page."""
    member = _member(state, db, token)
    if isinstance(member, Template):
        return member
    try:
        started = network.restart_alerts(db, member, _how(request, "network page"))
    except ValueError as exc:
        return _you_page(db, state, member, token, Form(network.form_values(db, member)), str(exc))
    notice = "Your emails about opportunities have started again." if started else "Nothing changed."
    return _you_page(db, state, member, token, Form(network.form_values(db, member)), notice)


@get("/involvement/network/leave/{token:str}", sync_to_thread=False)
def leave_page(state: State, db: DB, token: FromPath[str]) -> Template:
    member = _member(state, db, token)
    if isinstance(member, Template):
        return member
    context = {"token": token, "member": member}
    return Template("public/involvement/network_leave.html", context=context, headers=PRIVATE)


@post("/involvement/network/leave/{token:str}", sync_to_thread=False)
def leave_submit(request: Request[Any, Any, Any], state: State, db: DB, token: FromPath[str]) -> Template:
    member = _member(state, db, token)
    if isinstance(member, Template):
        return member
    network.leave(db, member, _how(request, "left the lived experience network"))
    return Template("public/involvement/network_leave.html", context={"done": True}, headers=PRIVATE)


# --- "yes, I'm interested" from an alert or an invitation -----------------------------------------------------------


def _interest_page(
    db: Session, state: State, purpose: str, token: str, form: Form | None = None, status: int = 200
) -> Template:
    try:
        member, opp = alerts.from_token(db, state.signer, purpose, token)
    except TokenError as exc:
        return _problem(str(exc))
    form = form or Form({})
    context = {
        "form": form,
        "member": member,
        "o": opp,
        "payment": payment_summary(opp),
        "open": is_open(opp.status, opp.closes_at, alerts.now()),
        "already": alerts.already_interested(db, opp.id, member.email),
        "consent_text": INTEREST_CONSENT_WORDING,
        "action": _path(purpose, token),
    }
    code = status if status != 200 else (422 if form.errors else 200)
    return Template("public/involvement/network_interest.html", context=context, status_code=code, headers=PRIVATE)


def _path(purpose: str, token: str) -> str:
    return f"/involvement/network/{'interested' if purpose == 'involvement-interest' else 'invited'}/{token}"


def _interest_submit(db: Session, state: State, purpose: str, token: str, data: dict[str, Any]) -> Template:
    try:
        member, opp = alerts.from_token(db, state.signer, purpose, token)
    except TokenError as exc:
        return _problem(str(exc))
    form = Form(data)
    note = form.str("note", max_length=NOTE_MAX, label="Your note")
    access = form.str("access_needs", max_length=NOTE_MAX, label="Access needs")
    if not is_open(opp.status, opp.closes_at, alerts.now()):
        form.add_error("note", "This opportunity has closed, so it is not taking interest any more.")
    if not form.ok:
        return _interest_page(db, state, purpose, token, form, 409)
    try:
        _interest, created = alerts.say_interested(
            db, state.renderer, state.signer, member, opp, purpose=purpose, note=note, access_needs=access
        )
    except OpportunityClosed:
        form.add_error("note", "This opportunity has closed, so it is not taking interest any more.")
        return _interest_page(db, state, purpose, token, form, 409)
    context = {"o": opp, "created": created, "member": member}
    return Template("public/involvement/network_interest_done.html", context=context, headers=PRIVATE)


@get("/involvement/network/interested/{token:str}", sync_to_thread=False)
def interested_page(state: State, db: DB, token: FromPath[str]) -> Template:
    return _interest_page(db, state, "involvement-interest", token)


@post("/involvement/network/interested/{token:str}", sync_to_thread=False)
def interested_submit(state: State, db: DB, token: FromPath[str], data: FormBody) -> Template:
    return _interest_submit(db, state, "involvement-interest", token, data)


@get("/involvement/network/invited/{token:str}", sync_to_thread=False)
def invited_page(state: State, db: DB, token: FromPath[str]) -> Template:
    return _interest_page(db, state, "involvement-invite", token)


@post("/involvement/network/invited/{token:str}", sync_to_thread=False)
def invited_submit(state: State, db: DB, token: FromPath[str], data: FormBody) -> Template:
    return _interest_submit(db, state, "involvement-invite", token, data)


route_handlers: list[Any] = [
    network_page,
    network_join,
    confirm_page,
    confirm_submit,
    you_page,
    you_submit,
    restart_emails,
    leave_page,
    leave_submit,
    interested_page,
    interested_submit,
    invited_page,
    invited_submit,
]
