"""The fellow runs a digest period from the admin: check first (counts, nothing queued), then confirm."""

from __future__ import annotations

import datetime as dt
import html
import time

from sqlalchemy import select

from crm import models as m
from crm.digests import manual
from crm.digests.periods import latest_due
from tests import factories
from tests.conftest import post_form
from tests.digests import helpers as h


def _wait_for_run(db, period: str, seconds: float = 20.0) -> m.DigestRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.expire_all()
        done = db.scalar(
            select(m.DigestRun).where(
                m.DigestRun.period == period,
                m.DigestRun.trigger == "admin",
                m.DigestRun.status != m.DigestRunStatus.RUNNING,
            )
        )
        if done is not None:
            return done
        time.sleep(0.1)
    raise AssertionError(f"the run of {period} started from the admin did not finish in {seconds} s")


def test_check_then_run_a_period_from_the_admin(admin_client, db) -> None:
    ts = h.topics(db)
    h.call(db, factories.funder(db), "Peer research fund", topic_ids=(ts[0].id,), deadline=None)
    h.subscription(db, "ada@example.org", topic_ids=(ts[0].id,))
    h.subscription(db, "monthly@example.org", topic_ids=(ts[0].id,), frequency=m.Frequency.MONTHLY)
    db.commit()
    period = latest_due("weekly", dt.datetime.now(dt.UTC)).key
    page = admin_client.get("/admin/digests")
    assert page.status_code == 200 and f'value="{period}"' in page.text and "Check what would be sent" in page.text

    check = post_form(admin_client, "/admin/digests/check", {"period": period})
    text = html.unescape(check.text)
    assert check.status_code == 200 and f"Run {period} now?" in text
    assert "<dt>Would get it now</dt><dd>up to 1</dd>" in text  # the weekly subscriber, not the monthly one
    assert h.digest_rows(db) == []  # checking queues nothing

    started = post_form(admin_client, "/admin/digests/run", {"period": period}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/admin/digests?notice=started"
    run = _wait_for_run(db, period)
    assert run.status == m.DigestRunStatus.DONE and run.sent == 1
    assert [r.recipient for r in h.digest_rows(db)] == ["ada@example.org"]

    again = html.unescape(post_form(admin_client, "/admin/digests/check", {"period": period}).text)
    assert "<dt>Already have this digest</dt><dd>1</dd>" in again and "Nobody would get it now" in again


def test_a_period_not_offered_is_refused_with_a_message(admin_client, db) -> None:
    for bad in ("2019-W01", "soon", ""):
        page = post_form(admin_client, "/admin/digests/run", {"period": bad})
        assert page.status_code == 422 and "Choose one of the periods offered." in page.text
    assert db.scalar(select(m.DigestRun.id)) is None


def test_the_fellow_finds_whose_preview_to_see(admin_client, db) -> None:
    sub = h.subscription(db, "grace.hopper@example.org", name="Grace Hopper")
    h.subscription(db, "someone.else@example.org")
    db.commit()
    page = html.unescape(admin_client.get("/admin/digests", params={"who": "hopper"}).text)
    assert f'href="/admin/digests/preview/{sub.id}"' in page and "someone.else" not in page
    assert "No subscriber matches “nobody”" in html.unescape(admin_client.get("/admin/digests?who=nobody").text)


def test_choices_offer_the_latest_due_and_the_next_period_of_each_frequency() -> None:
    now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)  # a Sunday
    keys = [(c.key, c.early) for c in manual.choices(now)]
    assert keys == [
        ("2026-W49", False),
        ("2026-W50", True),
        ("2026-11", False),
        ("2026-12", True),
    ]  # 7 December is the first Monday
    assert manual.choice_for("2026-W50", now).early and manual.choice_for("2026-W40", now) is None
