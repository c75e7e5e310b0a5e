"""Reading internships: the public and admin lists (one statement per page), filters, detail pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Float, Select, Subquery, and_, func, literal, select, union_all
from sqlalchemy.orm import Session

from crm import filter_choices as choices
from crm import models as m
from crm import search
from crm.accounts.principal import Principal
from crm.directory.reference import topics_and_regions
from crm.errors import NotFound
from crm.httpcache import remember
from crm.internships.fit import Criteria, fit_conditions, region_condition, topic_condition
from crm.internships.rules import (
    ADMIN_SORTS,
    PUBLIC_SORTS,
    PUBLIC_STATUSES,
    STAGE_LABELS,
    I,
    Status,
    _list,
    _text,
    is_fellow,
    require_org,
    stipend_label,
)
from crm.listing import ListParams, Page, Sorts, fetch_page


def topic_ids_of(session: Session, internship_id: int) -> list[int]:
    return sorted(
        session.scalars(
            select(m.internship_topics.c.topic_id).where(m.internship_topics.c.internship_id == internship_id)
        )
    )


def stages_of(session: Session, internship_id: int) -> list[str]:
    return sorted(
        session.scalars(
            select(m.internship_career_stages.c.stage).where(
                m.internship_career_stages.c.internship_id == internship_id
            )
        )
    )


def get_internship(session: Session, internship_id: int) -> m.Internship:
    internship = session.get(m.Internship, internship_id)
    if internship is None:
        raise NotFound("No such internship.")
    return internship


def _detail_query() -> Any:
    return (
        select(
            I,
            m.Organisation.name.label("host_name"),
            m.Organisation.slug.label("host_slug"),
            m.Organisation.website.label("host_website"),
            m.Organisation.visibility.label("host_visibility"),
            m.Region.name.label("region_name"),
            m.Region.code.label("region_code"),
        )
        .join(m.Organisation, m.Organisation.id == I.host_organisation_id)
        .outerjoin(m.Region, m.Region.id == I.region_id)
    )


@dataclasses.dataclass(slots=True)
class Detail:
    internship: m.Internship
    host_name: str
    host_slug: str
    host_website: str
    host_public: bool
    region_name: str
    region_code: str
    topics: list[Any]
    stages: list[str]

    @property
    def is_open(self) -> bool:
        return self.internship.status == Status.PUBLISHED

    @property
    def stipend(self) -> str:
        return stipend_label(self.internship)


def _detail(session: Session, where: ColumnElement[bool]) -> Detail | None:
    row = session.execute(_detail_query().where(where)).first()
    if row is None:
        return None
    internship = row[0]
    topics = list(
        session.execute(
            select(m.Topic.id, m.Topic.name, m.Topic.slug)
            .join(m.internship_topics, m.internship_topics.c.topic_id == m.Topic.id)
            .where(m.internship_topics.c.internship_id == internship.id)
            .order_by(m.Topic.name)
        )
    )
    return Detail(
        internship=internship,
        host_name=row.host_name,
        host_slug=row.host_slug,
        host_website=row.host_website or "",
        host_public=row.host_visibility == m.Visibility.PUBLIC,
        region_name=row.region_name or "",
        region_code=row.region_code or "",
        topics=topics,
        stages=stages_of(session, internship.id),
    )


def public_detail(session: Session, slug: str, *, now: dt.datetime | None = None) -> Detail:
    detail = _detail(session, and_(I.slug == slug, I.status.in_(PUBLIC_STATUSES)))
    if detail is None:
        raise NotFound("We could not find that internship. It may have been removed.")
    return detail


def detail_by_id(session: Session, internship_id: int) -> Detail:
    """A listing in any status (three statements); the caller decides who may see it."""
    detail = _detail(session, I.id == internship_id)
    if detail is None:
        raise NotFound("No such internship.")
    return detail


def admin_detail(session: Session, actor: Principal, internship_id: int) -> Detail:
    detail = detail_by_id(session, internship_id)
    require_org(actor, detail.internship.host_organisation_id)
    return detail


def listings(*columns: Any) -> Select[Any]:
    """Listings with what every list of them shows (title, terms, dates, host and region names) and ``columns``;
    callers add conditions and order."""
    return (
        select(
            I.id,
            I.title,
            I.slug,
            I.direction,
            I.mode,
            I.paid,
            I.stipend_pence,
            I.stipend_period,
            I.hours_per_week,
            I.closing_date,
            I.closes_at,
            I.published_at,
            m.Organisation.name.label("host_name"),
            m.Region.name.label("region_name"),
            *columns,
        )
        .join(m.Organisation, m.Organisation.id == I.host_organisation_id)
        .outerjoin(m.Region, m.Region.id == I.region_id)
    )


def _cards(*columns: Any) -> Select[Any]:
    """The list pages' cards (and the feed's entries)."""
    return listings(I.duration, I.status, I.host_organisation_id, *columns)


def open_at(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """Published and not yet closed: the listings people can still apply to."""
    return I.status == Status.PUBLISHED, I.closes_at > now


HOST_MATCH_CAP = 20


def search_matches(session: Session, q: str) -> Subquery | None:
    """``(id, score)`` of listings with every word in their title or description (full-text, capped), or hosted by
    one of up to ``HOST_MATCH_CAP`` organisations whose name holds every word (people search for a charity by
    name), their newest 1,000 listings. None without words.

    The hosts are looked up first, in their own statement: inside the query, a host list that turned out empty
    still made PostgreSQL walk every listing newest first looking for them (120 ms at 200,000 listings), and
    without the newest-first limit a common word in many names pulled in thousands of listings (60 ms on SQLite at
    a million). A search page is then at most three statements (page, filter options, hosts)."""
    found = search.matches(session, search.INTERNSHIPS, q)
    if found is None:
        return None
    name = func.lower(m.Organisation.name)
    hosts = list(
        session.scalars(
            select(m.Organisation.id)
            .where(*(name.contains(word, autoescape=True) for word in search.terms(q)))
            .limit(HOST_MATCH_CAP)
        )
    )
    if not hosts:
        return found
    by_host = (
        select(I.id.label("id"), literal(0.0, Float).label("score"))
        .where(I.host_organisation_id.in_(hosts))
        .order_by(I.id.desc())
        .limit(search.MATCH_CAP)
        .subquery("by_host")
    )
    both = union_all(select(found.c.id, found.c.score), select(by_host.c.id, by_host.c.score)).subquery("both")
    return select(both.c.id, func.max(both.c.score).label("score")).group_by(both.c.id).subquery("internship_matches")


def _searched(session: Session, query: Any, q: str, sorts: Sorts) -> tuple[Any, Sorts]:
    found = search_matches(session, q) if q else None
    if found is None:
        return query, sorts
    return query.join(found, found.c.id == I.id), sorts.with_relevance(found.c.score)


@dataclasses.dataclass(frozen=True, slots=True)
class Filters:
    """Public list / alert filters, already validated (bad values are dropped, never an error page)."""

    direction: str = ""
    topics: tuple[str, ...] = ()  # topic slugs
    regions: tuple[str, ...] = ()  # region slugs
    modes: tuple[str, ...] = ()
    paid: str = ""  # "paid" | "unpaid" | ""
    max_hours: int | None = None
    closing_within_weeks: int | None = None
    stage: str = ""

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Filters:
        if not raw:
            return NO_FILTERS  # the list as most visitors ask for it

        def one(name: str) -> str:
            return _text(raw.get(name))[:100]

        def positive(name: str, top: int) -> int | None:
            value = one(name)
            return int(value) if value.isdigit() and 1 <= int(value) <= top else None

        direction = one("direction")
        paid = one("paid")
        stage = one("stage")
        return cls(
            direction=direction if direction in _DIRECTIONS else "",
            topics=tuple(dict.fromkeys(_list(raw.get("topic"))))[:30],
            regions=tuple(dict.fromkeys(_list(raw.get("region"))))[:20],
            modes=tuple(v for v in dict.fromkeys(_list(raw.get("mode"))) if v in _MODES),
            paid=paid if paid in {"paid", "unpaid"} else "",
            max_hours=positive("hours", 60),
            closing_within_weeks=positive("closing_within", 52),
            stage=stage if stage in STAGE_LABELS else "",
        )

    def as_query(self) -> dict[str, Any]:
        """The URL parameters for these filters (the same names the list page reads)."""
        return {
            "direction": self.direction,
            "topic": list(self.topics),
            "region": list(self.regions),
            "mode": list(self.modes),
            "paid": self.paid,
            "hours": self.max_hours or "",
            "closing_within": self.closing_within_weeks or "",
            "stage": self.stage,
        }

    @property
    def active(self) -> bool:
        return any(v for v in self.as_query().values())


NO_FILTERS = Filters()
COUNTED = ("internships", "internship_topics", "internship_career_stages", "topics", "regions")  # the count reads
_DIRECTIONS = frozenset(d.value for d in m.InternshipDirection)
_MODES = frozenset(x.value for x in m.InternshipMode)


def apply_filters(query: Any, filters: Filters, *, now: dt.datetime) -> Any:
    """The list's filters as SQL conditions: the fit rule (``crm.internships.fit``) with topics and regions named by
    slug, and "closing within N weeks" (no extra statements: topics and regions are sub-selects)."""
    query = query.where(*fit_conditions(Criteria.of(filters)))
    if filters.closing_within_weeks:
        query = query.where(I.closes_at <= now + dt.timedelta(weeks=filters.closing_within_weeks))
    if filters.topics:
        query = query.where(topic_condition(select(m.Topic.id).where(m.Topic.slug.in_(filters.topics))))
    if filters.regions:
        query = query.where(region_condition(select(m.Region.id).where(m.Region.slug.in_(filters.regions))))
    return query


@functools.cache
def _public_base() -> Select[Any]:
    """Built once (statements are immutable): composing this select cost ~80 µs of every public list request."""
    return _cards().where(I.status == Status.PUBLISHED)


def public_list(session: Session | Connection, params: ListParams, *, now: dt.datetime, count: bool = False) -> Page:
    """Published listings whose closing date has not passed: one statement whatever the page size (two with
    ``count``, the capped number of matches).

    Without a search or "closing within" (whose bound moves with the clock), the statement depends on the
    filters alone: it is built once per set of filters and bound per request (``shape``, crm/listing.py), and
    ``session`` may be a plain ``Connection`` (the API's public list opens no session for it)."""
    filters = Filters.from_mapping(params.filters)
    # still open: passed as the floor, one index range at any depth when sorted by closing date
    open_floor = (I.closes_at, now)
    if not params.q and not filters.closing_within_weeks:
        return fetch_page(
            session,
            lambda: apply_filters(_public_base(), filters, now=now),
            params,
            PUBLIC_SORTS,
            id_column=I.id,
            floor=open_floor,
            count=count,
            shape=("internships.public", filters),
            count_query=lambda: apply_filters(select(I.id).where(I.status == Status.PUBLISHED), filters, now=now),
            count_tables=COUNTED,
        )
    if isinstance(session, Connection):  # a search reads in a session: on this connection, rolled back after
        with Session(bind=session) as own:
            return public_list(own, params, now=now, count=count)
    query, sorts = _searched(session, apply_filters(_public_base(), filters, now=now), params.q, PUBLIC_SORTS)
    return fetch_page(session, query, params, sorts, id_column=I.id, floor=open_floor, count=count)


def admin_list(session: Session, actor: Principal, params: ListParams, *, count: bool = False) -> Page:
    """The fellow sees every listing, an editor their organisation's; with interest counts, one statement."""
    query, sorts = admin_query(session, actor, params)
    return fetch_page(session, query, params, sorts, id_column=I.id, count=count)


def admin_query(session: Session, actor: Principal, params: ListParams) -> tuple[Any, Sorts]:
    """The admin list's query and sorts (also every id a bulk action selects)."""
    counts = (
        select(func.count(m.InternshipInterest.id))
        .where(m.InternshipInterest.internship_id == I.id)
        .correlate(I)
        .scalar_subquery()
    )
    query = _cards(I.updated_at, counts.label("interest_count"))
    if not is_fellow(actor):
        query = query.where(I.host_organisation_id == (actor.organisation_id or -1))
    status = _text(params.filters.get("status"))
    if status in {s.value for s in Status}:
        query = query.where(I.status == status)
    return _searched(session, query, params.q, ADMIN_SORTS)


def filter_options(session: Session) -> tuple[list[Any], list[Any]]:
    """Topics and regions for the filter form and the alert link, kept until either table changes (it was 14% of
    the list page's time when read on every request)."""
    return remember(session, "topics_and_regions", ("topics", "regions"), topics_and_regions)


def unknown_filters(db: Session | Connection, params: ListParams) -> dict[str, choices.Unknown]:
    """The filters whose value the list's menus do not offer (``crm.filter_choices``): the page leaves them out and
    says so (``Filters`` used to drop a direction, pay or stage silently, and to apply a topic or region nobody
    lists, so nothing matched), the API answers 422. In a session the topics and regions are the filter form's
    (``filter_options``, read anyway); on the API's connection they are kept slugs, read only when filtered by."""
    if isinstance(db, Session):
        topics: Any = lambda: {t.slug for t in filter_options(db)[0]}  # noqa: E731
        regions: Any = lambda: {r.slug for r in filter_options(db)[1]}  # noqa: E731
    else:
        topics, regions = choices.topic_slugs(db), choices.region_slugs(db)
    return choices.unknown_choices(
        params.filters,
        (
            choices.Menu("direction", "direction", _DIRECTIONS),
            choices.Menu("paid", "pay option", {"paid", "unpaid"}),
            choices.Menu("stage", "career stage", STAGE_LABELS),
            choices.Menu("mode", "way of working", _MODES, plural="ways of working"),
            choices.Menu("region", "region", regions),
            choices.Menu("topic", "topic", topics),
        ),
    )


def organisation_choices(session: Session, actor: Principal) -> list[Any]:
    query = select(m.Organisation.id, m.Organisation.name).order_by(m.Organisation.name_normalised)
    if not is_fellow(actor):
        query = query.where(m.Organisation.id == (actor.organisation_id or -1))
    return list(session.execute(query.limit(2000)))


def open_listings(session: Session, *, now: dt.datetime, limit: int = 50) -> list[Any]:
    """The newest published, open listings (the feed)."""
    query = _cards(I.description, I.updated_at).where(*open_at(now)).order_by(I.published_at.desc(), I.id.desc())
    return list(session.execute(query.limit(limit)))
