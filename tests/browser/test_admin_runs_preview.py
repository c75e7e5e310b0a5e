"""The digest runs page with its shards, the contacts import preview and the offload 503 page, on a 390px phone: the
page never scrolls sideways, axe-core finds nothing serious, and every control is reached with Tab and shows its
focus. These pages were checked by eye at 1280 and 390 px; this keeps them that way.

The runs are planned through ``shards.plan`` for old periods (more than a few days late, so no worker would ever
build them) and their shards set by hand, as a worker would leave them: one run part built, one stopped."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from crm import models as m
from crm.digests import shards
from crm.digests.periods import parse
from crm.web import offload
from tests.browser.a11y import _OVERFLOW_JS, horizontal_overflow, serious_violations, unreadable_controls
from tests.browser.keyboard import tab_to

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
WORKER = "crm-worker-7d9f8c6b5-x2kqp.roundtable.internal:41273"  # a long host:pid, as Kubernetes names them


def _layout_problems(page) -> list[str]:
    """Sideways scrolling at 390 px (and at 360 px / 200% zoom), axe's serious findings, faint controls."""
    result = page.evaluate(_OVERFLOW_JS)
    problems = []
    if result["scrollWidth"] > result["clientWidth"]:
        problems.append(f"scrolls sideways at 390px: {result}")
    problems += serious_violations(page)
    problems += unreadable_controls(page)
    problems += horizontal_overflow(page)
    return problems


def _focus_is_visible(page) -> bool:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }"
    )


def _runs(live) -> tuple[int, int]:
    """A run with its first shard built and one stopped with an error, each with a failure to show."""
    factory, settings = live.factory, live.settings
    running = shards.plan(factory, settings, parse("2020-W10"), trigger="manual", shard_size=10)
    stopped = shards.plan(factory, settings, parse("2020-W11"), trigger="manual", shard_size=10)
    S = m.DigestShard
    with factory.begin() as s:
        for run_id in (running, stopped):
            s.execute(
                update(S)
                .where(S.run_id == run_id, S.shard == 0)
                .values(
                    status=m.DigestShardStatus.DONE, worker=WORKER, considered=10, sent=7, skipped_empty=2, failed=1
                )
            )
        s.add(
            m.DigestFailure(run_id=stopped, subscription_id=1, period="2020-W11", stage="render", error="KeyError: 'x'")
        )
    shards.fail_run(factory, stopped, "OperationalError: connection to server at db.internal:5432 closed unexpectedly")
    return running, stopped


def test_digest_runs_and_shards_on_a_phone_by_keyboard(page, live, signed_in):
    running, stopped = _runs(live)
    with live.session() as s:
        total = s.query(m.DigestShard).filter(m.DigestShard.run_id == stopped).count()
    assert total > 1, "the demo data should give a run of several shards"
    signed_in(m.Role.ADMIN)
    page.set_viewport_size(PHONE)
    page.goto("/admin/digests")
    runs = page.locator("table.digest-runs")
    expect(runs).to_contain_text(f"1 of {total} shards done")
    expect(runs).to_contain_text(f"built by {WORKER}")
    expect(runs).to_contain_text("Stopped because: OperationalError")
    assert _layout_problems(page) == []

    # Keyboard only: Tab to the stopped run's shards, open them with Enter.
    tab_to(page, f'a[href="/admin/digests?run={stopped}#h-shards"]')
    assert _focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Shards of run {stopped}")).to_be_visible()
    shard_rows = page.locator("table.digest-shards tbody tr")
    expect(shard_rows).to_have_count(total)
    expect(shard_rows.nth(0)).to_contain_text(WORKER)
    expect(shard_rows.nth(1)).to_contain_text("Not built: the run stopped")
    expect(page.locator("table.digest-failures")).to_contain_text("Writing the email")
    assert _layout_problems(page) == []
    tab_to(page, 'a[href="/admin/digests/preview/1"]')
    assert _focus_is_visible(page)
    tab_to(page, 'a[href="/admin/digests#h-runs"]')  # back to all runs
    assert _focus_is_visible(page)

    # The running run's figures are its shards' so far; its failure count opens its failures.
    page.goto("/admin/digests")
    tab_to(page, f'a[href="/admin/digests?run={running}#h-failures"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Failures in run {running}")).to_be_visible()
    assert page.console.errors == []


def test_import_preview_reports_every_bad_row_on_a_phone_by_keyboard(page, live, signed_in, tmp_path):
    tag = secrets.token_hex(3)
    csv_path = tmp_path / "contacts.csv"
    csv_path.write_text(
        "organisation_name,region,postcode,contact_name,contact_email,user_led\n"
        f"Riverside Wellbeing {tag},London,E1 6AN,Amina Yusuf,amina.{tag}@riverside-wellbeing-collective.example.org,yes\n"
        ",London,,,,\n"
        f"Harbour Lights {tag},Atlantis,ZZ99 9ZZ,Chris O'Neill,chris@harbour,maybe\n"
        f"Moorside Carers {tag},North West,M1 1AE,Jo Brown,amina.{tag}@riverside-wellbeing-collective.example.org,\n",
        encoding="utf-8",
    )
    signed_in(m.Role.ADMIN)
    page.set_viewport_size(PHONE)
    page.goto("/admin/import")
    page.get_by_label("CSV file").set_input_files(str(csv_path))  # the file picker itself is the browser's
    tab_to(page, "main button[type=submit]")
    assert _focus_is_visible(page)
    page.keyboard.press("Enter")
    # The check pass runs in a worker process; the first one of the session starts the pool (seconds when busy).
    expect(page.get_by_role("heading", level=1)).to_contain_text("Import preview: contacts.csv", timeout=60_000)

    problems = page.locator("table.import-problems tbody tr")
    reported = {problems.nth(i).locator("td").first.inner_text() for i in range(problems.count())}
    assert reported == {"3", "4", "5"}, reported  # every bad row (the header is row 1)
    rows = page.locator("table.import-rows tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text(re.compile(r"\bnew\b", re.I))
    for bad in (1, 2, 3):
        expect(rows.nth(bad).locator(".badge-failed")).to_have_text(re.compile(r"^error$", re.I))
    expect(rows.nth(2)).to_contain_text("Unknown region")
    expect(rows.nth(3)).to_contain_text("already used in row 2")
    assert _layout_problems(page) == []

    tab_to(page, "input[name=skip_bad_rows]")
    assert _focus_is_visible(page)
    page.keyboard.press("Space")
    expect(page.get_by_label("Skip the 3 rows with errors and import the rest")).to_be_checked()
    tab_to(page, "button[value=import]")
    assert _focus_is_visible(page)
    tab_to(page, 'main a[href="/admin/import"]')  # cancel
    assert page.console.errors == []


def test_the_503_page_when_the_worker_stops_on_a_phone(page, live, signed_in, tmp_path, monkeypatch):
    async def worker_stopped(*args, **kwargs):
        raise offload.HeavyWorkFailed(detail=offload.UNAVAILABLE)

    monkeypatch.setattr(offload, "run_in_session", worker_stopped)  # the live server runs in this process
    csv_path = tmp_path / "one.csv"
    csv_path.write_text("organisation_name\nOne Row Group\n", encoding="utf-8")
    signed_in(m.Role.ADMIN)
    page.set_viewport_size(PHONE)
    page.goto("/admin/import")
    page.get_by_label("CSV file").set_input_files(str(csv_path))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Preview").click()
    assert answer.value.status == 503 and answer.value.headers.get("retry-after") == "10"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sorry, this could not be finished")
    expect(page.get_by_text("background worker stopped")).to_be_visible()
    expect(page.get_by_text("Nothing was changed.")).to_be_visible()
    expect(page.get_by_role("link", name="Digests")).to_be_visible()  # the admin navigation stays
    assert _layout_problems(page) == []
    tab_to(page, 'main a[href="/admin/import"]')
    assert _focus_is_visible(page)
    expect(page.locator("main a[href='/admin/import']")).to_have_text("Go back and try again")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Import organisations and contacts")
