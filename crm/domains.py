"""The manifest: every domain of the product and what it contributes, in one explicit list.

``create_app`` takes its routes from here, the ``crm`` command its commands, the worker its jobs, the demo seeder
its seeders (in this order, each seeing what the earlier ones made), and the services that other domains lend a
hand to (the organisation page's sections, deletion references, merge hooks, deferred email renderers) get
``EXTENSIONS``. Nothing is found by module name: a domain missing here is missing everywhere, and a module that
does not exist fails at import, at start-up.

A new domain copies the shape of an existing one: ``services``/rules, ``pages.py`` (public), ``admin.py``,
``api.py``, ``jobs.py``, ``commands.py``, ``demo.py``, then one ``Domain(...)`` entry below.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import click
from sqlalchemy.orm import Session

from crm.accounts import commands as accounts_commands
from crm.accounts import pages as accounts_pages
from crm.api import health
from crm.bulk import admin as bulk_admin
from crm.campaigns import admin as campaigns_admin
from crm.campaigns import admin_audience as campaigns_admin_audience
from crm.campaigns import admin_report as campaigns_admin_report
from crm.campaigns import admin_sending as campaigns_admin_sending
from crm.campaigns import api as campaigns_api
from crm.campaigns import delivery as campaigns_delivery
from crm.campaigns import demo as campaigns_demo
from crm.campaigns import jobs as campaigns_jobs
from crm.campaigns import pages as campaigns_pages
from crm.dashboard import admin as dashboard_admin
from crm.dashboard import commands as dashboard_commands
from crm.dashboard import jobs as dashboard_jobs
from crm.digests import admin as digests_admin
from crm.digests import commands as digests_commands
from crm.digests import demo as digests_demo
from crm.digests import jobs as digests_jobs
from crm.digests import pages as digests_pages
from crm.digests.render import render_claimed
from crm.directory import admin as directory_admin
from crm.directory import admin_contacts as directory_admin_contacts
from crm.directory import admin_merge as directory_admin_merge
from crm.directory import api as directory_api
from crm.directory import commands as directory_commands
from crm.directory import demo as directory_demo
from crm.directory import pages as directory_pages
from crm.events import admin as events_admin
from crm.events import admin_checkin as events_admin_checkin
from crm.events import admin_networking as events_admin_networking
from crm.events import api as events_api
from crm.events import demo as events_demo
from crm.events import inbound_routes as events_inbound_routes
from crm.events import jobs as events_jobs
from crm.events import pages as events_pages
from crm.events import references as events_references
from crm.events import sections as events_sections
from crm.extensions import (
    DeferredRenderer,
    Extensions,
    MergeHook,
    ReferenceProvider,
    SectionProvider,
)
from crm.funding import admin as funding_admin
from crm.funding import api as funding_api
from crm.funding import commands as funding_commands
from crm.funding import demo as funding_demo
from crm.funding import jobs as funding_jobs
from crm.funding import pages as funding_pages
from crm.funding import references as funding_references
from crm.funding import sections as funding_sections
from crm.imports import admin as imports_admin
from crm.imports import commands as imports_commands
from crm.internships import admin as internships_admin
from crm.internships import api as internships_api
from crm.internships import demo as internships_demo
from crm.internships import jobs as internships_jobs
from crm.internships import pages as internships_pages
from crm.internships import references as internships_references
from crm.internships import sections as internships_sections
from crm.involvement import admin as involvement_admin
from crm.involvement import admin_consultations as involvement_admin_consultations
from crm.involvement import admin_matching as involvement_admin_matching
from crm.involvement import admin_records as involvement_admin_records
from crm.involvement import api as involvement_api
from crm.involvement import consultation_jobs as involvement_consultation_jobs
from crm.involvement import consultation_pages as involvement_consultation_pages
from crm.involvement import demo as involvement_demo
from crm.involvement import jobs as involvement_jobs
from crm.involvement import merges as involvement_merges
from crm.involvement import network_jobs as involvement_network_jobs
from crm.involvement import network_pages as involvement_network_pages
from crm.involvement import offer_pages as involvement_offer_pages
from crm.involvement import pages as involvement_pages
from crm.involvement import references as involvement_references
from crm.involvement import sections as involvement_sections
from crm.mailing import admin as mailing_admin
from crm.mailing import commands as mailing_commands
from crm.mailing import demo as mailing_demo
from crm.mailing import jobs as mailing_jobs
from crm.mailing import pages as mailing_pages
from crm.mailing import webhook_routes as mailing_webhooks
from crm.map import admin as map_admin
from crm.map import commands as map_commands
from crm.map import demo as map_demo
from crm.map import jobs as map_jobs
from crm.map import pages as map_pages
from crm.partnerships import admin as partnerships_admin
from crm.partnerships import api as partnerships_api
from crm.partnerships import commands as partnerships_commands
from crm.partnerships import demo as partnerships_demo
from crm.partnerships import jobs as partnerships_jobs
from crm.partnerships import references as partnerships_references
from crm.partnerships import sections as partnerships_sections
from crm.privacy import admin as privacy_admin
from crm.privacy import commands as privacy_commands
from crm.privacy import jobs as privacy_jobs
from crm.public import pages as public_pages
from crm.scheduling import ScheduledJob
from crm.settings import Settings
from crm.timeline import admin as timeline_admin
from crm.views_saved import admin as views_saved_admin

Seeder = Callable[[Session, Settings], None]


def _routes(*modules: Any) -> tuple[Any, ...]:
    """The handlers of a domain's route modules (pages, admin, API), in order."""
    return tuple(handler for module in modules for handler in module.route_handlers)


@dataclasses.dataclass(frozen=True, slots=True)
class Domain:
    name: str
    routes: Sequence[Any] = ()  # Litestar handlers and routers, public pages, admin pages and API alike
    commands: Sequence[click.Command] = ()
    jobs: Sequence[ScheduledJob] = ()
    seed: Seeder | None = None
    public_sections: SectionProvider | None = None
    admin_sections: SectionProvider | None = None
    references: ReferenceProvider | None = None
    merge_organisations: MergeHook | None = None
    merge_contacts: MergeHook | None = None
    deferred_renderers: Mapping[str, DeferredRenderer] = dataclasses.field(default_factory=dict)


DOMAINS: tuple[Domain, ...] = (
    Domain("public", routes=public_pages.route_handlers),
    Domain("system", routes=health.route_handlers),
    Domain("accounts", routes=accounts_pages.route_handlers, commands=accounts_commands.commands),
    Domain(
        "directory",
        routes=_routes(
            directory_pages, directory_admin, directory_admin_contacts, directory_admin_merge, directory_api
        ),
        commands=directory_commands.commands,
        seed=directory_demo.seed,
    ),
    Domain(
        "mailing",
        routes=_routes(mailing_pages, mailing_admin, mailing_webhooks),
        commands=mailing_commands.commands,
        jobs=mailing_jobs.JOBS,
        seed=mailing_demo.seed,
    ),
    Domain(
        "funding",
        routes=_routes(funding_pages, funding_admin, funding_api),
        commands=funding_commands.commands,
        jobs=funding_jobs.JOBS,
        seed=funding_demo.seed,
        public_sections=funding_sections.public_sections,
        references=funding_references.references,
    ),
    # The batches of the directory's and funding's imports: their pages, undo, `crm imports`.
    Domain("imports", routes=_routes(imports_admin), commands=imports_commands.commands),
    Domain(
        "partnerships",
        routes=_routes(partnerships_admin, partnerships_api),
        commands=partnerships_commands.commands,
        jobs=partnerships_jobs.JOBS,
        seed=partnerships_demo.seed,
        admin_sections=partnerships_sections.admin_sections,
        references=partnerships_references.references,
    ),
    Domain(
        "events",
        routes=_routes(
            events_pages,
            events_admin,
            events_admin_checkin,
            events_admin_networking,
            events_api,
            events_inbound_routes,
        ),
        jobs=events_jobs.JOBS,
        seed=events_demo.seed,
        public_sections=events_sections.public_sections,
        admin_sections=events_sections.admin_sections,
        references=events_references.references,
    ),
    Domain(
        "internships",
        routes=_routes(internships_pages, internships_admin, internships_api),
        jobs=internships_jobs.JOBS,
        seed=internships_demo.seed,
        public_sections=internships_sections.public_sections,
        admin_sections=internships_sections.admin_sections,
        references=internships_references.references,
    ),
    Domain(
        "digests",
        routes=_routes(digests_pages, digests_admin),
        commands=digests_commands.commands,
        jobs=digests_jobs.JOBS,
        seed=digests_demo.seed,
        deferred_renderers={"digest": render_claimed},
    ),
    # The fellow's campaigns: write, choose the audience, test, schedule, send; news; figures (issue 16).
    Domain(
        "campaigns",
        routes=_routes(
            campaigns_pages,
            campaigns_admin,
            campaigns_admin_audience,
            campaigns_admin_sending,
            campaigns_admin_report,
            campaigns_api,
        ),
        jobs=campaigns_jobs.JOBS,
        seed=campaigns_demo.seed,
        deferred_renderers={"campaign": campaigns_delivery.render_claimed},
    ),
    # Involvement: opportunities for people with lived experience, the lived experience network, consultation
    # requests to involvement groups, and the record of who took part (issue 18, docs/involvement.md).
    Domain(
        "involvement",
        routes=_routes(
            involvement_offer_pages,  # static paths (/involvement/offer, /network, /answer) before /{slug}
            involvement_network_pages,
            involvement_consultation_pages,
            involvement_pages,
            involvement_admin,
            involvement_admin_matching,
            involvement_admin_consultations,
            involvement_admin_records,
            involvement_api,
        ),
        jobs=(*involvement_jobs.JOBS, *involvement_network_jobs.JOBS, *involvement_consultation_jobs.JOBS),
        seed=involvement_demo.seed,
        admin_sections=involvement_sections.admin_sections,
        references=involvement_references.references,
        merge_organisations=involvement_merges.merge_organisations,
    ),
    Domain(
        "dashboard", routes=_routes(dashboard_admin), commands=dashboard_commands.commands, jobs=dashboard_jobs.JOBS
    ),
    Domain("privacy", routes=_routes(privacy_admin), commands=privacy_commands.commands, jobs=privacy_jobs.JOBS),
    # A contact's or organisation's timeline, and the notes and tasks the fellow adds (overdue ones join the nudge).
    Domain("timeline", routes=_routes(timeline_admin)),
    # The regional map (/map, /admin/map) and where the gaps are (issue 19.1). Its seeder counts the map's tally,
    # so it runs after every domain that seeds data.
    Domain(
        "map",
        routes=_routes(map_pages, map_admin),
        commands=map_commands.commands,
        jobs=map_jobs.JOBS,
        seed=map_demo.seed,
    ),
    # Bulk actions on the admin organisation and contact lists (topics, contact lists, CSV of a selection).
    Domain("bulk", routes=_routes(bulk_admin)),
    # Saved views: a user's named sets of filters on the admin lists.
    Domain("views_saved", routes=_routes(views_saved_admin)),
)


def _present(values: Iterator[Any]) -> tuple[Any, ...]:
    return tuple(v for v in values if v is not None)


def _renderers() -> dict[str, DeferredRenderer]:
    out: dict[str, DeferredRenderer] = {}
    for d in DOMAINS:
        for kind, renderer in d.deferred_renderers.items():
            if kind in out:
                raise RuntimeError(f"two domains render {kind!r} emails")
            out[kind] = renderer
    return out


EXTENSIONS = Extensions(
    public_sections=_present(d.public_sections for d in DOMAINS),
    admin_sections=_present(d.admin_sections for d in DOMAINS),
    references=_present(d.references for d in DOMAINS),
    merge_organisations=_present(d.merge_organisations for d in DOMAINS),
    merge_contacts=_present(d.merge_contacts for d in DOMAINS),
    deferred_renderers=_renderers(),
)


def all_routes() -> list[Any]:
    return [handler for d in DOMAINS for handler in d.routes]


def all_commands() -> list[click.Command]:
    return [command for d in DOMAINS for command in d.commands]


def all_jobs() -> list[ScheduledJob]:
    """Every domain's jobs; two with one id would silently replace each other in the scheduler, so that fails."""
    jobs = [job for d in DOMAINS for job in d.jobs]
    ids = [job.id for job in jobs]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"two jobs share an id: {sorted(i for i in set(ids) if ids.count(i) > 1)}")
    return jobs


def all_seeders() -> list[Seeder]:
    return [d.seed for d in DOMAINS if d.seed is not None]
