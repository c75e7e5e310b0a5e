"""``crm privacy export|erase EMAIL`` and ``crm retention run [--dry-run]`` against the test database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crm.cli import main
from tests import factories
from tests.dashboard import factories as f
from tests.dashboard.factories import NOW, days


@pytest.fixture
def run(settings, monkeypatch):
    monkeypatch.setenv("CRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CRM_ENV", "test")

    def _run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return _run


def test_privacy_export_and_erase(run, db):
    factories.contact(db, "Invented Clicontact", "cli.person@example.org", notes="likes tea")
    db.commit()
    out = run("privacy", "export", "cli.person@example.org")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["contact"]["notes"] == "likes tea"
    aborted = run("privacy", "erase", "cli.person@example.org", input="n\n")
    assert aborted.exit_code != 0
    done = run("privacy", "erase", "cli.person@example.org", "--yes")
    assert done.exit_code == 0 and "contacts 1" in done.output
    assert run("privacy", "export", "cli.person@example.org").exit_code != 0


def test_retention_dry_run_then_run(run, db):
    f.subscription(db, "cli.pending@example.org", status=f.m.SubscriptionStatus.PENDING, created=NOW - days(400))
    db.commit()
    dry = run("retention", "run", "--dry-run")
    assert dry.exit_code == 0 and "cli.pending@example.org" in dry.output
    assert "Would anonymise 1 subscription(s)" in dry.output
    real = run("retention", "run")
    assert real.exit_code == 0 and "Anonymised 1 subscription(s)" in real.output


def test_report_impact_prints_csv(run, db):
    out = run("report", "impact", "--from", "2026-10-01", "--to", "2026-10-31")
    assert out.exit_code == 0 and out.output.startswith("period_from,period_to,section,measure,value")
    assert run("report", "impact", "--from", "bad").exit_code != 0
