"""Wiring: jobs registered with explicit ids and London schedules, OpenAPI documents the APIs, deleting a
referenced organisation is refused with the list of what refers to it."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from crm import models as m
from crm.directory.references import organisation_references
from crm.domains import EXTENSIONS
from crm.funding import jobs as funding_jobs
from crm.partnerships import changes, rules
from crm.partnerships import jobs as partnership_jobs
from crm.runtime import Runtime
from jobs.worker import register_jobs
from tests import factories
from tests.funding.helpers import NOW, make_call


def test_jobs_are_registered_with_explicit_ids(settings):
    scheduler = BackgroundScheduler(timezone="UTC")
    register_jobs(scheduler, Runtime(settings), [*funding_jobs.JOBS, *partnership_jobs.JOBS])
    close = scheduler.get_job("funding.close_expired_calls")
    nudge = scheduler.get_job("partnerships.weekly_nudge")
    assert close is not None and nudge is not None
    assert str(nudge.trigger.timezone) == "Europe/London" and "day_of_week='mon'" in str(nudge.trigger)
    assert str(close.trigger.timezone) == "Europe/London"


def test_openapi_documents_both_apis(client):
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert "/api/v1/funding-calls" in paths and "/api/v1/partnerships/{partnership_id}/activities" in paths
    assert not any(p.startswith("/admin/") for p in paths)


def test_referenced_organisation_cannot_be_deleted(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    charity = factories.organisation(db, "Aster Voices")
    make_call(db, funder, "Community awards", now=NOW)
    changes.create_partnership(
        db,
        None,
        rules.PartnershipInput(
            "Peer study",
            members=[rules.MemberInput(m.Side.ACADEMIC, uni.id), rules.MemberInput(m.Side.VCSE, charity.id)],
        ),
        now=NOW,
    )
    db.flush()
    assert organisation_references(db, funder.id, EXTENSIONS) == ["Funding call “Community awards” names it as funder"]
    assert organisation_references(db, charity.id, EXTENSIONS) == [
        "Partnership “Peer study” has it as a member (vcse side)"
    ]
    assert organisation_references(db, factories.organisation(db, "Unused").id, EXTENSIONS) == []
