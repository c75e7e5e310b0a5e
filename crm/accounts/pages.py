"""Sign-in pages: ask for a link, confirm it with a button (scanners only GET), sign out."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import Cookie, State
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from crm.accounts import services
from crm.tokens import TokenError
from crm.web.auth import SESSION_COOKIE
from crm.web.deps import DB, CurrentUser, client_ip
from crm.web.forms import Form, FormBody
from crm.web.pages import form_page_as


def _link_problem(exc: TokenError) -> Template:
    return Template("auth/link_problem.html", context={"message": str(exc), "form": Form({})}, status_code=400)


@get("/sign-in", sync_to_thread=False)
def sign_in_page(next: FromQuery[str] = "/admin") -> Template:
    return form_page_as(400, "auth/sign_in.html", {"next": services.safe_next(next)}, form=Form({}))


@post("/sign-in", sync_to_thread=False)
def sign_in_request(request: Request[Any, Any, Any], state: State, db: DB, data: FormBody) -> Template:
    form = Form(data)
    email = form.email("email")
    next_url = services.safe_next(form.str("next"))
    if not form.ok:
        return form_page_as(400, "auth/sign_in.html", {"next": next_url}, form=form)
    limiter = state.rate_limiter
    ip = client_ip(request)
    per_hour = state.settings.sign_in_rate_per_hour
    if not (
        limiter.allow(f"sign-in:ip:{ip}", per_hour * 3, 3600)
        and limiter.allow(f"sign-in:email:{email}", per_hour, 3600)
    ):
        return Template(
            "auth/sign_in.html",
            context={"next": next_url, "form": form, "limited": True},
            status_code=429,
            headers={"Retry-After": "3600"},
        )
    services.request_sign_in(db, state.signer, state.renderer, state.settings, email, next_url)
    # The same answer whether or not the address has an account.
    return Template("auth/check_email.html", context={"email": email})


@get("/sign-in/verify", sync_to_thread=False)
def sign_in_confirm_page(state: State, db: DB, token: FromQuery[str] = "") -> Template:
    try:
        services.peek_sign_in(db, state.signer, token)
    except TokenError as exc:
        return _link_problem(exc)
    return Template("auth/confirm.html", context={"token": token})


@post("/sign-in/verify", sync_to_thread=False)
def sign_in_verify(request: Request[Any, Any, Any], state: State, db: DB, data: FormBody) -> Template | Redirect:
    token = Form(data).str("token", max_length=2000)
    try:
        user, next_url = services.use_sign_in(db, state.signer, token)
    except TokenError as exc:
        return _link_problem(exc)
    cookie_value = services.create_session(
        db, user, state.settings, client_ip(request), request.headers.get("user-agent", "")
    )
    return Redirect(
        next_url,
        status_code=303,
        cookies=[
            Cookie(
                key=SESSION_COOKIE,
                value=cookie_value,
                httponly=True,
                samesite="lax",
                secure=state.settings.base_url.startswith("https://"),
                max_age=state.settings.session_days * 86400,
                path="/",
            )
        ],
    )


@post("/sign-out", sync_to_thread=False)
def sign_out(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> Redirect:
    services.end_session(db, request.cookies.get(SESSION_COOKIE, ""))
    response = Redirect("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


route_handlers = [sign_in_page, sign_in_request, sign_in_confirm_page, sign_in_verify, sign_out]
