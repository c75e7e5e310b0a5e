"""The map's stored tally: counted in one statement per measure (flat as data grows), read by the pages without
touching the big tables, right as of the refresh (and the page says when), refreshed by the job, the demo seeder
and ``crm map refresh``; on both databases."""

from __future__ import annotations

import datetime as dt
import re

from click.testing import CliRunner
from sqlalchemy import func, select

from crm import models as m
from crm.cli import main
from crm.db import is_postgres
from crm.map import counting, figures, tally
from tests import factories
from tests.dashboard import factories as f

NOW = f.NOW  # 12:00 UTC, 12:00 in London (November)
BIG_TABLES = ("funding_calls", "internships", "events", "subscriptions", "partnership")


def page_view(db, measure: str = "organisations", admin: bool = False, now: dt.datetime = NOW) -> figures.MapView:
    return figures.map_view(db, {"measure": measure}, admin=admin, now=now)


def london(view: figures.MapView) -> int:
    return next(t.count for t in view.tiles if t.name == "London")


def _some_of_everything(db, n: int) -> None:
    funder = factories.funder(db, region_name="London")
    for i in range(n):
        org = factories.organisation(db, region_name="London", topics=["Carers"], user_led=True)
        call = f.call(db, funder, deadlines=[NOW + dt.timedelta(days=5)])
        db.execute(m.funding_call_regions.insert(), [{"call_id": call.id, "region_id": org.region_id}])
        f.internship(db, org, region_id=org.region_id)
        event = f.event(db, starts=NOW + dt.timedelta(days=3))
        event.host_organisation_id = org.id
        p = f.partnership(db, stage=m.PartnershipStage.EXPLORING)
        db.add(m.PartnershipMember(partnership_id=p.id, side=m.Side.VCSE, organisation_id=org.id))
        f.subscription(db, f"tally{n}-{i}@example.org")
    db.commit()


def test_a_refresh_is_one_statement_per_measure_whatever_the_data(db, count_queries):
    statements = []
    for n in (2, 10):
        _some_of_everything(db, n)
        with count_queries() as q:
            done = tally.refresh(db, now=NOW)
        db.commit()
        statements.append(q.count)
        assert [c.measure for c in done] == list(counting.TALLIES)
    # The UK-wide region's id, one grouped statement per measure, one delete, one insert (and a lock on PostgreSQL).
    assert statements == [len(counting.TALLIES) + 3 + is_postgres(db)] * 2
    assert london(page_view(db, "user-led")) == 12
    assert london(page_view(db, "partnerships-exploring", admin=True)) == 12
    assert london(page_view(db, "partnerships", admin=True)) == 12  # live: idea to active
    assert london(page_view(db, "subscribers", admin=True)) == 12  # none chosen: everywhere


def test_the_map_pages_read_the_tally_never_the_big_tables(db, admin_client, count_queries):
    _some_of_everything(db, 2)
    tally.refresh(db, now=NOW)
    db.commit()
    for key in ("funding-calls", "internships", "events", "partnerships", "subscribers", "organisations"):
        for url in (f"/map?measure={key}", f"/admin/map?measure={key}&topic=carers"):
            with count_queries() as q:
                assert admin_client.get(url).status_code == 200
            text = " ".join(q.statements).lower()
            assert "map_tallies" in text
            assert not [t for t in BIG_TABLES if t in text], (url, q.statements)


def test_figures_are_right_as_of_the_refresh_and_the_page_says_when(db, client):
    closing = f.call(db, factories.funder(db), deadlines=[NOW + dt.timedelta(hours=1)])
    db.execute(m.funding_call_regions.insert(), [{"call_id": closing.id, "region_id": factories.region_id(db, "UKI")}])
    factories.organisation(db, region_name="London")
    db.commit()
    tally.refresh(db, now=NOW)
    db.commit()
    factories.organisation(db, region_name="London")  # after the refresh: not counted yet
    db.commit()
    seen = page_view(db, now=NOW + dt.timedelta(minutes=3))
    assert london(seen) == 1 and seen.as_of == NOW
    assert seen.counted == f"Figures as of 12:00: they are counted every {tally.REFRESH_MINUTES} minutes."
    assert london(page_view(db, "funding-calls", now=NOW + dt.timedelta(hours=2))) == 1  # open when counted
    later = page_view(db, now=NOW + dt.timedelta(days=1))
    assert later.counted.startswith("Figures as of Wed 25 Nov 2026, 12:00")  # another day: the date too
    assert "Figures as of" in client.get("/map").text

    tally.refresh(db, now=NOW + dt.timedelta(hours=2))
    db.commit()
    assert london(page_view(db)) == 2
    assert london(page_view(db, "funding-calls")) == 0  # closed at the second refresh


def test_before_the_first_refresh_the_map_says_it_has_not_counted(db, client, admin_client):
    factories.organisation(db, region_name="London")
    db.commit()
    view = page_view(db)
    assert view.as_of is None and london(view) == 0
    assert "have not been counted yet" in view.counted and "crm map refresh" not in view.counted
    assert "crm map refresh" in page_view(db, admin=True).counted
    assert "have not been counted yet" in admin_client.get("/admin/map").text


def test_refresh_replaces_what_was_counted_and_keeps_a_row_saying_when(db):
    factories.organisation(db, region_name="London")
    db.commit()
    tally.refresh(db, now=NOW)
    db.commit()
    db.execute(m.Organisation.__table__.delete())
    db.commit()
    tally.refresh(db, now=NOW + dt.timedelta(minutes=5))
    db.commit()
    rows = db.execute(select(m.MapTally.measure, m.MapTally.region_id, m.MapTally.refreshed_at)).all()
    assert {r.region_id for r in rows} == {tally.COUNTED}  # nothing left to count, but when it was is kept
    assert {r.measure for r in rows} == set(counting.TALLIES)
    assert {r.refreshed_at for r in rows} == {NOW + dt.timedelta(minutes=5)}
    assert page_view(db).as_of == NOW + dt.timedelta(minutes=5)


def _cli(database, *args: str):
    return CliRunner().invoke(main, ["map", *args], env={"CRM_DATABASE_URL": database.url, "CRM_ENV": "test"})


def test_refresh_command_counts_with_a_progress_line_per_measure(database, db):
    factories.organisation(db, region_name="London")
    db.commit()
    result = _cli(database, "refresh")
    assert result.exit_code == 0, result.output
    progress = re.findall(r"^\[(\d)/(\d)\] ([a-z-]+): [\d,]+ figures in [\d.]+ s$", result.output, re.M)
    assert [p[2] for p in progress] == list(counting.TALLIES)
    assert f"Counted {len(counting.TALLIES)} measures" in result.output
    db.expire_all()
    assert london(page_view(db)) == 1

    one = _cli(database, "refresh", "--measure", "calls")
    assert one.exit_code == 0 and "[1/1] calls:" in one.output and "Counted 1 measure " in one.output
    wrong = _cli(database, "refresh", "--measure", "nonsense")
    assert wrong.exit_code == 1 and "No such measure: nonsense" in wrong.output and "Traceback" not in wrong.output
    helped = _cli(database, "refresh", "--help")
    assert helped.exit_code == 0 and "--measure" in helped.output and "every few minutes" in helped.output


def test_the_job_is_in_the_manifest_and_counts(app, db, settings):
    from crm import domains
    from crm.map import jobs
    from crm.runtime import Runtime

    job = next(j for j in domains.all_jobs() if j.id == "map.refresh_tally")
    assert job.run is jobs.refresh_tally and job.first_run_after is not None
    assert job.trigger(settings).interval == dt.timedelta(minutes=tally.REFRESH_MINUTES)
    factories.organisation(db, region_name="London")
    db.commit()
    rt = Runtime(settings)
    rt.__dict__["session_factory"] = app.state.session_factory
    done = jobs.refresh_tally(rt, now=NOW)
    assert len(done) == len(counting.TALLIES)
    db.expire_all()
    assert london(page_view(db)) == 1


def test_demo_seeding_ends_with_a_count(db, settings):
    from crm import domains
    from crm.map import demo

    assert domains.all_seeders()[-1] is demo.seed  # after every domain that makes data
    factories.organisation(db, region_name="London")
    demo.seed(db, settings)
    db.commit()
    assert db.scalar(select(func.count()).select_from(m.MapTally)) > len(counting.TALLIES)
    assert london(page_view(db)) == 1


def test_fill_regions_counts_what_organisations_place_again_at_once(database, db):
    factories.organisation(db, postcode="M1 1AE")  # Manchester: North West
    db.commit()
    tally.refresh(db, now=NOW)
    db.commit()
    before = page_view(db)
    assert before.orgs_without_region == before.unplaced == 1
    result = _cli(database, "fill-regions")
    assert result.exit_code == 0 and "filled 1" in result.output
    db.expire_all()
    after = page_view(db)
    assert (after.orgs_without_region, after.unplaced) == (0, 0)
    assert next(t.count for t in after.tiles if t.name == "North West") == 1
    assert after.as_of is not None and after.as_of > NOW  # organisations were counted again, just now
