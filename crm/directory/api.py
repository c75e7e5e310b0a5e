"""The directory's JSON API under /api/v1: organisations (public reads), contacts (admins only) and topics.

Roles are checked in the handler (``_require``) because an editor may PATCH their own organisation; the security
tests declare those routes in ``IN_HANDLER_ROLES``.
"""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, delete, get, patch, post
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.params import FromPath, JSONBody
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm import filter_choices
from crm import models as m
from crm.api.openapi import PUBLIC_READ
from crm.api.responses import encode_json, json_response
from crm.directory import contacts, organisations, queries, schemas, taxonomy
from crm.directory.errors import DirectoryError
from crm.directory.views import contact_or_404, list_params, org_or_404
from crm.web.areas import api_area
from crm.web.auth import Principal, current_user
from crm.web.deps import DB, CurrentUser, Ext
from crm.web.errors import unprocessable
from crm.web.forms import Form
from crm.web.httpcache import ANONYMOUS_JSON
from crm.web.pages import api_page, get_or_404


def _require(user: Principal | None, role: m.Role) -> Principal:
    if user is None:
        raise NotAuthorizedException("Sign in or send an API key.")
    if not user.has_role(role):
        raise PermissionDeniedException("Your account does not have permission to do this.")
    return user


def _valid(checked: tuple[dict[str, Any], Form]) -> dict[str, Any]:
    """The values a ``validate_*`` service cleaned, or a 422 problem listing every bad field."""
    values, form = checked
    if not form.ok:
        raise ValidationException(
            detail="Some fields are not valid.",
            extra=[{"key": k, "message": v} for k, v in form.errors.items()],
            status_code=422,
        )
    return values


def _organisation(src: Any, region: str | None, topics: list[str]) -> schemas.Organisation:
    """The API's organisation from an ORM object or a public list row (``queries.api_public_page``): same names."""
    return schemas.Organisation(
        id=src.id,
        slug=src.slug,
        name=src.name,
        kind=src.kind.value,
        vcse_category=src.vcse_category.value if src.vcse_category else None,
        user_led=src.user_led,
        lived_experience_led=src.lived_experience_led,
        description=src.description,
        website=src.website,
        public_email=src.public_email,
        region=region,
        topics=topics,
        postcode=src.postcode,
        charity_number=src.charity_number,
        company_number=src.company_number,
        visibility=src.visibility.value,
        review_status=src.review_status.value,
        created_at=src.created_at,
        updated_at=src.updated_at,
    )


def _org_out(org: m.Organisation) -> schemas.Organisation:
    return _organisation(org, org.region.slug if org.region else None, [t.slug for t in org.topics])


def _visible_org(db: Session, user: Principal | None, org_id: int) -> m.Organisation:
    org = org_or_404(db, org_id)
    public = organisations.is_public(org)
    if not public and not (user and (user.is_admin or (user.organisation_id == org.id))):
        raise NotFoundException("No such organisation.")
    return org


def _org_row(r: Any, topics: dict[int, list[str]]) -> schemas.Organisation:
    """``_org_out`` of a public list row (``queries.api_public_page``): the same fields from the same columns."""
    return _organisation(r, r.region_slug, topics.get(r.id, []))


def public_list_json(request: Request[Any, Any, Any]) -> bytes:
    """The public list as anonymous visitors get it, encoded: what ``api_org_list`` answers everyone but admins, and
    what the cheap path of anonymous GETs sends without the handler (``crm.web.httpcache.ANONYMOUS_JSON``). It reads
    on a pooled connection (no session, no transaction to commit) and encodes the page once."""
    params = list_params(request, organisations.ORG_FILTERS)
    with request.app.state.engine.connect() as connection:
        _refuse_unknown(connection, params)
        page, topics = queries.api_public_page(connection, params)
    return encode_json(api_page(schemas.OrganisationPage, page, lambda r: _org_row(r, topics)))


def _refuse_unknown(db: Any, params: Any) -> None:
    """A 422 problem naming each filter whose value the directory does not list (``crm.filter_choices``): an answer
    that silently dropped it, or matched nothing, would answer a question nobody asked."""
    unknown = queries.unknown_filters(db, params)
    if unknown:
        raise unprocessable(filter_choices.api_messages(unknown))


@get("/organisations", sync_to_thread=False, security=PUBLIC_READ, opt={ANONYMOUS_JSON: public_list_json})
def api_org_list(request: Request[Any, Any, Any]) -> Response[schemas.OrganisationPage]:
    """Organisations (approved and public ones unless an admin asks). Filters: q, kind, category, topic, region,
    user_led, lived_experience_led (admins also status, visibility); sort; cursor; page_size (max 100). A kind,
    category, topic or region the directory does not list is a 422 problem naming it."""
    # No dependencies and no transaction to commit: the list only reads. Anonymous visitors are answered by
    # ``public_list_json`` before this handler runs, unless they ask past the cache.
    user = current_user(request)
    if not (user and user.is_admin):
        return Response(public_list_json(request), media_type=MediaType.JSON)
    with request.app.state.session_factory() as db:
        params = list_params(request, organisations.ADMIN_ORG_FILTERS)
        _refuse_unknown(db, params)
        page = queries.list_organisations(db, params, public=False)
        ids = [r.id for r in page.items]
        orgs = {
            o.id: o
            for o in db.scalars(
                select(m.Organisation)
                .where(m.Organisation.id.in_(ids))
                .options(selectinload(m.Organisation.topics), selectinload(m.Organisation.region))
            )
        }
        items = [_org_out(orgs[i]) for i in ids if i in orgs]
    return json_response(
        schemas.OrganisationPage(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)
    )


@get("/organisations/{org_id:int}", sync_to_thread=False, security=PUBLIC_READ)
def api_org_get(db: DB, user: CurrentUser, org_id: FromPath[int]) -> schemas.Organisation:
    return _org_out(_visible_org(db, user, org_id))


@post("/organisations", sync_to_thread=False)
def api_org_create(db: DB, user: CurrentUser, data: JSONBody[schemas.OrganisationIn]) -> Response[schemas.Organisation]:
    """Admins only (editors may update their own organisation)."""
    actor = _require(user, m.Role.ADMIN)
    values = _valid(organisations.validate_organisation(db, schemas.given(data)))
    org = organisations.create_organisation(db, actor, values)
    return Response(_org_out(organisations.get_organisation(db, org.id)), status_code=201)  # type: ignore[arg-type]


@patch("/organisations/{org_id:int}", sync_to_thread=False)
def api_org_update(
    db: DB, user: CurrentUser, org_id: FromPath[int], data: JSONBody[schemas.OrganisationIn]
) -> schemas.Organisation:
    """Admins, or an editor for their own organisation. Only the fields sent change."""
    actor = _require(user, m.Role.EDITOR)
    org = org_or_404(db, org_id)
    if not actor.is_admin and actor.organisation_id != org.id:
        raise PermissionDeniedException("Editors may change only their own organisation.")
    sent = schemas.given(data)
    if not actor.is_admin:
        sent.pop("visibility", None)
    merged = {**organisations.organisation_form_data(org), **sent}
    values = _valid(organisations.validate_organisation(db, merged, exclude_id=org.id))
    organisations.update_organisation(db, actor, org, values)
    db.expire_all()
    return _org_out(organisations.get_organisation(db, org.id))  # type: ignore[arg-type]


@delete("/organisations/{org_id:int}", sync_to_thread=False, status_code=204)
def api_org_delete(db: DB, ext: Ext, user: CurrentUser, org_id: FromPath[int]) -> None:
    actor = _require(user, m.Role.ADMIN)
    org = org_or_404(db, org_id)
    try:
        organisations.delete_organisation(db, ext, actor, org)
    except DirectoryError as exc:
        raise ClientException(detail=str(exc), status_code=409) from exc


def _contact_out(c: m.Contact) -> schemas.Contact:
    return schemas.Contact(
        id=c.id,
        name=c.name,
        email=c.email,
        phone=c.phone,
        job_title=c.job_title,
        career_stage=c.career_stage.value if c.career_stage else None,
        notes=c.notes,
        topics=[t.slug for t in c.topics],
        regions=[r.slug for r in c.regions],
        affiliations=[
            schemas.Affiliation(
                organisation_id=a.organisation_id,
                organisation=a.organisation.name,
                role=a.role,
                is_primary=a.is_primary,
            )
            for a in c.affiliations
        ],
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _contact_summary(r: Any) -> schemas.ContactSummary:
    return schemas.ContactSummary(
        id=r.id, name=r.name, email=r.email, job_title=r.job_title, organisation=r.organisation_name
    )


@get("/contacts", sync_to_thread=False)
def api_contact_list(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> schemas.ContactPage:
    """Admins only (session or API key). Filters: q, organisation (slug), topic, region, career_stage."""
    _require(user, m.Role.ADMIN)
    page = contacts.list_contacts(db, list_params(request, contacts.CONTACT_FILTERS))
    return api_page(schemas.ContactPage, page, _contact_summary)


@get("/contacts/{contact_id:int}", sync_to_thread=False)
def api_contact_get(db: DB, user: CurrentUser, contact_id: FromPath[int]) -> schemas.Contact:
    _require(user, m.Role.ADMIN)
    return _contact_out(contact_or_404(db, contact_id))


@post("/contacts", sync_to_thread=False)
def api_contact_create(db: DB, user: CurrentUser, data: JSONBody[schemas.ContactIn]) -> Response[schemas.Contact]:
    actor = _require(user, m.Role.ADMIN)
    values = _valid(contacts.validate_contact(db, schemas.given(data)))
    contact = contacts.create_contact(db, actor, values)
    return Response(_contact_out(contact_or_404(db, contact.id)), status_code=201)


@patch("/contacts/{contact_id:int}", sync_to_thread=False)
def api_contact_update(
    db: DB, user: CurrentUser, contact_id: FromPath[int], data: JSONBody[schemas.ContactIn]
) -> schemas.Contact:
    actor = _require(user, m.Role.ADMIN)
    contact = contact_or_404(db, contact_id)
    merged = {**contacts.contact_form_data(contact), **schemas.given(data)}
    values = _valid(contacts.validate_contact(db, merged, exclude_id=contact.id))
    contacts.update_contact(db, actor, contact, values)
    db.expire_all()
    return _contact_out(contact_or_404(db, contact_id))


@delete("/contacts/{contact_id:int}", sync_to_thread=False, status_code=204)
def api_contact_delete(db: DB, user: CurrentUser, contact_id: FromPath[int]) -> None:
    actor = _require(user, m.Role.ADMIN)
    contacts.delete_contact(db, actor, contact_or_404(db, contact_id))


def _topic_out(t: Any) -> schemas.Topic:
    return schemas.Topic(id=t.id, slug=t.slug, name=t.name, description=t.description)


@get("/topics", sync_to_thread=False, security=PUBLIC_READ)
def api_topic_list(db: DB) -> list[schemas.Topic]:
    """The topic vocabulary (public)."""
    return [_topic_out(t) for t in db.scalars(select(m.Topic).order_by(m.Topic.name))]


@get("/topics/{topic_id:int}", sync_to_thread=False, security=PUBLIC_READ)
def api_topic_get(db: DB, topic_id: FromPath[int]) -> schemas.Topic:
    return _topic_out(get_or_404(db, m.Topic, topic_id, "No such topic."))


@post("/topics", sync_to_thread=False)
def api_topic_create(db: DB, user: CurrentUser, data: JSONBody[schemas.TopicIn]) -> Response[schemas.Topic]:
    actor = _require(user, m.Role.ADMIN)
    values = _valid(taxonomy.validate_topic(db, schemas.given(data)))
    return Response(_topic_out(taxonomy.save_topic(db, actor, values)), status_code=201)


@patch("/topics/{topic_id:int}", sync_to_thread=False)
def api_topic_update(
    db: DB, user: CurrentUser, topic_id: FromPath[int], data: JSONBody[schemas.TopicIn]
) -> schemas.Topic:
    actor = _require(user, m.Role.ADMIN)
    topic = get_or_404(db, m.Topic, topic_id, "No such topic.")
    merged = {"name": topic.name, "description": topic.description, **schemas.given(data)}
    values = _valid(taxonomy.validate_topic(db, merged, exclude_id=topic.id))
    return _topic_out(taxonomy.save_topic(db, actor, values, topic))


@delete("/topics/{topic_id:int}", sync_to_thread=False, status_code=204)
def api_topic_delete(db: DB, user: CurrentUser, topic_id: FromPath[int]) -> None:
    actor = _require(user, m.Role.ADMIN)
    taxonomy.delete_topic(db, actor, get_or_404(db, m.Topic, topic_id, "No such topic."))


route_handlers: list[Any] = api_area(
    "/api/v1",
    [
        api_org_list,
        api_org_get,
        api_org_create,
        api_org_update,
        api_org_delete,
        api_contact_list,
        api_contact_get,
        api_contact_create,
        api_contact_update,
        api_contact_delete,
        api_topic_list,
        api_topic_get,
        api_topic_create,
        api_topic_update,
        api_topic_delete,
    ],
    tag="directory",
    bad_body_problems=False,
)
