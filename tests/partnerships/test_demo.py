"""Demo data: calls open / closing soon / closed, partnerships in every stage and health, sensible matches."""

from __future__ import annotations

import datetime as dt
import importlib

from sqlalchemy import select

from crm import models as m
from crm.funding import demo as funding_demo
from crm.funding.matching import suggest_partners
from crm.partnerships import demo as partnership_demo
from crm.partnerships import rules


def _seed(db, settings, *, with_directory: bool):
    if with_directory:
        importlib.import_module("crm.directory.demo").seed(db, settings)
        db.flush()
    funding_demo.seed(db, settings)
    db.flush()
    partnership_demo.seed(db, settings)
    db.flush()


def _check(db, settings):
    now = dt.datetime.now(dt.UTC)
    calls = list(db.scalars(select(m.FundingCall)))
    statuses = {c.status for c in calls}
    assert {m.CallStatus.PUBLISHED, m.CallStatus.CLOSED, m.CallStatus.DRAFT} <= statuses
    open_calls = [c for c in calls if c.status == m.CallStatus.PUBLISHED]
    assert any(c.next_deadline_at - now < dt.timedelta(days=7) for c in open_calls)  # closing soon
    assert any(c.next_deadline_at - now > dt.timedelta(days=30) for c in open_calls)
    rows = list(db.execute(select(m.Partnership.stage, m.Partnership.last_activity_at, m.Partnership.created_at)))
    assert {r.stage for r in rows} == set(rules.Stage)
    healths = {rules.health_of(r.last_activity_at, r.created_at, now, settings) for r in rows}
    assert healths == set(m.Health)
    needs_vcse = next(c for c in open_calls if c.requires_vcse_partner)
    assert suggest_partners(db, needs_vcse)  # at least one sensible suggestion


def test_demo_without_directory_demo_creates_its_own_organisations(db, settings):
    _seed(db, settings, with_directory=False)
    _check(db, settings)


def test_demo_after_the_directory_demo(db, settings):
    try:
        importlib.import_module("crm.directory.demo")
    except ModuleNotFoundError:  # the directory's demo is another issue's work
        return
    _seed(db, settings, with_directory=True)
    _check(db, settings)
    funders = set(db.scalars(select(m.FundingCall.funder_id)))
    kinds = set(db.scalars(select(m.Organisation.kind).where(m.Organisation.id.in_(funders))))
    assert kinds == {m.OrgKind.FUNDER}
