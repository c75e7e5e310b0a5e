"""``crm funding import`` (dry run writes nothing; errors stop the import) and ``crm partnerships nudge``."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from crm import models as m
from crm.cli import main
from tests import factories

GOOD = "title,funder,deadlines,status\nCLI call,Northfield Trust,Full=2099-01-31 17:00,published\n"
BAD = GOOD + "Broken,Nobody,2099-01-01,\n"


def run(database, tmp_path, text, *args):
    path = tmp_path / "calls.csv"
    path.write_text(text)
    env = {"CRM_DATABASE_URL": database.url, "CRM_ENV": "test"}
    return CliRunner().invoke(main, ["funding", "import", str(path), *args], env=env)


def count(db):
    db.expire_all()
    return db.scalar(select(func.count(m.FundingCall.id)))


def test_cli_import_dry_run_errors_and_apply(database, db, tmp_path):
    factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    dry = run(database, tmp_path, GOOD, "--dry-run")
    assert dry.exit_code == 0 and "1 new" in dry.output and "Dry run" in dry.output
    assert count(db) == 0
    refused = run(database, tmp_path, BAD)
    assert refused.exit_code == 1 and "row 3, column funder" in refused.output
    assert count(db) == 0
    skipped = run(database, tmp_path, BAD, "--skip-bad-rows")
    assert skipped.exit_code == 0 and count(db) == 1
    again = run(database, tmp_path, GOOD)
    assert "1 unchanged" in again.output and count(db) == 1  # de-duplicated by funder + title, nothing to change


def test_cli_nudge_with_nothing_to_report(database, db):
    result = CliRunner().invoke(
        main, ["partnerships", "nudge"], env={"CRM_DATABASE_URL": database.url, "CRM_ENV": "test"}
    )
    assert result.exit_code == 0 and "nothing to report" in result.output
