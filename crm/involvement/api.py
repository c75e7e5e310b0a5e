"""The involvement opportunities JSON API (/api/v1/involvement-opportunities).

- Anyone reads the open opportunities (the list, with the public page's filters) and one published or closed one;
  never a contact address or anything about the people who expressed interest.
- Writes (POST, PATCH) are for the fellow and for the opportunity's owners (the editor of an academic organisation
  who created it, or of its organisation), the rule of ``crm.involvement.access``. Someone else's opportunity is a
  404, bad fields a 422 problem naming each one, all through ``crm.involvement.editing`` like the admin pages.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import filter_choices
from crm import models as m
from crm.accounts.principal import Principal
from crm.api.openapi import PUBLIC_READ
from crm.involvement import access, editing, queries
from crm.involvement.pages import now
from crm.involvement.rules import london_today, payment_summary
from crm.involvement.schemas import OpportunityIn, OpportunityOut, OpportunityPage, OpportunityPatch
from crm.listing import ListParams
from crm.web.areas import api_area
from crm.web.auth import editor_guard
from crm.web.deps import DB, AppSettings, CurrentUser
from crm.web.errors import unprocessable
from crm.web.pages import api_attempt, api_page

ACTIONS = ("publish", "close")


def _out_row(base: str, r: Any, *, at: Any) -> OpportunityOut:
    return OpportunityOut(
        id=r.id,
        slug=r.slug,
        title=r.title,
        url=f"{base}/involvement/{r.slug}",
        kind=r.kind.value,
        kind_label=r.kind.label,
        summary=r.summary,
        organisation_name=r.organisation_name or None,
        region=r.region_name or None,
        online=r.online,
        paid=r.paid,
        payment_pence=r.payment_pence,
        payment_basis=r.payment_basis.value if r.payment_basis else None,
        expenses_covered=r.expenses_covered,
        payment=payment_summary(r),
        commitment=r.commitment.value,
        time_commitment=r.time_commitment,
        closing_date=r.closing_date,
        closes_at=r.closes_at,
        published_at=r.published_at,
        open=r.closes_at > at,
    )


class _DetailRow:
    """A loaded opportunity with its organisation and region names, shaped like a list row for ``_out_row``."""

    def __init__(self, detail: queries.Detail) -> None:
        self._opp = detail.opportunity
        self.organisation_name = detail.organisation_name
        self.region_name = detail.region_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._opp, name)


def _owns(user: Principal | None, opp: m.InvolvementOpportunity) -> bool:
    return user is not None and access.owns(
        user, created_by_user_id=opp.created_by_user_id, organisation_id=opp.organisation_id
    )


def _detail_out(db: Session, settings: Any, user: Principal | None, opportunity_id: int) -> OpportunityOut:
    moment = now()
    detail = queries.detail_by_id(db, opportunity_id, now=moment)
    opp = detail.opportunity
    private = _owns(user, opp)
    if opp.status not in queries.PAGE_STATUSES and not private:
        raise NotFoundException("No such involvement opportunity.")
    out = _out_row(settings.base_url.rstrip("/"), _DetailRow(detail), at=moment)
    out.open = detail.open
    out.lived_experience_sought = opp.lived_experience_sought
    out.what_you_will_do = opp.what_you_will_do
    out.accessibility_support = opp.accessibility_support
    out.how_to_express_interest = opp.how_to_express_interest
    out.payment_note = opp.payment_note
    out.topics = [t.slug for t in detail.topics]
    if private:
        out.status = opp.status.value
        out.organisation_id = opp.organisation_id
        out.contact_name = opp.contact_name
        out.contact_email = opp.contact_email
        out.interest_count = db.scalar(
            select(func.count(m.InvolvementInterest.id)).where(m.InvolvementInterest.opportunity_id == opp.id)
        )
    return out


@get("/", sync_to_thread=False, summary="List open involvement opportunities", security=PUBLIC_READ)
def api_list(request: Request[Any, Any, Any], db: DB, settings: AppSettings) -> OpportunityPage:
    """Published opportunities still open, with the filters of /involvement: ``kind``, ``topic`` (slugs, repeat
    it), ``region`` (a slug; online and UK-wide ones are included), ``pay`` (paid | expenses), ``commitment``,
    ``closing_before`` (a date, 2027-03-31), ``q``, ``sort`` (closing | newest) and keyset paging: pass
    ``next_cursor`` back as ``cursor``. A closing date that is not a date, or a kind, topic, region, pay or
    commitment the list does not offer, is a 422 problem naming it."""
    params = ListParams.from_query(
        request.query_params.dict(), filter_names=queries.FILTER_NAMES, multi=queries.MULTI_FILTERS
    )
    problems = queries.Filters.from_mapping(params.filters).problem_messages
    problems.update(filter_choices.api_messages(queries.unknown_filters(db, params)))
    if problems:
        raise unprocessable(problems)
    moment = now()
    page = queries.public_list(db, params, now=moment)
    base = settings.base_url.rstrip("/")
    return api_page(OpportunityPage, page, lambda r: _out_row(base, r, at=moment))


@get("/{opportunity_id:int}", sync_to_thread=False, summary="Get one involvement opportunity", security=PUBLIC_READ)
def api_get(db: DB, settings: AppSettings, user: CurrentUser, opportunity_id: FromPath[int]) -> OpportunityOut:
    """Public for published and closed opportunities (``open`` says whether it still takes interest); drafts and
    ones waiting for approval only for their owners and the fellow, who also see the contact and how many people
    expressed interest."""
    return _detail_out(db, settings, user, opportunity_id)


@post("/", sync_to_thread=False, guards=[editor_guard], summary="Create an involvement opportunity")
def api_create(
    db: DB, settings: AppSettings, user: CurrentUser, data: JSONBody[OpportunityIn]
) -> Response[OpportunityOut]:
    """For the fellow and editors of an academic organisation (403 otherwise, with the reason). An editor posts for
    their own organisation (it is the default). ``publish`` true makes it public at once. Bad fields: 422."""
    actor = access.require_poster(db, user)
    raw = msgspec.structs.asdict(data)
    publish = bool(raw.pop("publish"))
    if raw["organisation_id"] is None and not actor.is_admin:
        raw["organisation_id"] = actor.organisation_id
    access.require_organisation(db, actor, raw["organisation_id"])
    moment = now()
    cleaned, errors = editing.validate(db, raw, today=london_today(moment))
    if cleaned is None:
        raise unprocessable(errors)
    status = m.OpportunityStatus.PUBLISHED if publish else m.OpportunityStatus.DRAFT
    opp = editing.create(
        db, cleaned, status=status, user_id=actor.id if actor.id > 0 else None, now=moment, actor=actor
    )
    return Response(_detail_out(db, settings, actor, opp.id), status_code=201)


@patch(
    "/{opportunity_id:int}", sync_to_thread=False, guards=[editor_guard], summary="Change an involvement opportunity"
)
def api_update(
    db: DB, settings: AppSettings, user: CurrentUser, opportunity_id: FromPath[int], data: JSONBody[OpportunityPatch]
) -> OpportunityOut:
    """Owners and the fellow only (someone else's is a 404). Absent fields keep their value; ``action`` publish or
    close runs after the changes (publishing with a passed closing date is a 422 on ``closing_date``)."""
    actor = access.require_poster(db, user)
    opp = access.get_owned(db, actor, opportunity_id)
    raw = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    action = raw.pop("action", None)
    if action is not None and action not in ACTIONS:
        raise unprocessable({"action": "Use publish or close."})
    if "organisation_id" in raw:
        access.require_organisation(db, actor, raw["organisation_id"])
    moment = now()
    if raw:
        cleaned, errors = editing.validate(db, raw, today=london_today(moment), existing=opp, partial=True)
        if cleaned is None:
            raise unprocessable(errors)
        editing.update(db, opp, cleaned, actor=actor)
    if action == "publish":
        api_attempt(lambda: editing.publish(db, opp, moment, actor=actor))
    elif action == "close":
        editing.close(db, opp, moment, actor=actor)
    db.flush()
    return _detail_out(db, settings, actor, opp.id)


route_handlers: list[Any] = api_area(
    "/api/v1/involvement-opportunities", [api_list, api_get, api_create, api_update], tag="involvement"
)
