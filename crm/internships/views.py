"""Web helpers the internship pages, admin pages and API share: the clock, the labels every template needs,
the signed-in actor and the moderation emails sent after a change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from sqlalchemy.orm import Session

from crm import models as m
from crm.internships import hosting, services
from crm.web.auth import Principal


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def common_context() -> dict[str, Any]:
    return {
        "directions": list(m.InternshipDirection),
        "modes": list(m.InternshipMode),
        "periods": list(m.StipendPeriod),
        "period_labels": services.PERIOD_LABELS,
        "stages": services.STAGE_LABELS,
        "stipend": services.stipend_label,
        "stage_label": services.stage_label,
    }


def actor(user: Principal | None) -> Principal:
    if user is None:
        raise NotAuthorizedException("Sign in to continue.")
    return user


def notify(
    state: State, db: Session, internship: m.Internship, before: m.InternshipStatus | None, action: str = ""
) -> None:
    """Moderation emails: the fellow when a listing starts waiting for approval, the poster when reviewed (a host
    who posted through the public form gets their private manage link)."""
    base_url = state.settings.base_url
    if internship.status == m.InternshipStatus.SUBMITTED and before != m.InternshipStatus.SUBMITTED:
        services.notify_submitted(db, state.renderer, internship, base_url)
    if action in {"approve", "reject"}:
        services.notify_reviewed(db, state.renderer, internship, action, base_url)
        if internship.host_posted:
            reason = "approved" if action == "approve" else "returned"
            hosting.send_manage_link(
                db, state.renderer, state.signer, internship, base_url=base_url, now=now(), reason=reason
            )
