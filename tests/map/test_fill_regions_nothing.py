"""``crm map fill-regions`` with nothing to check says so in a sentence; it printed an empty line (the running
count's line ending, with no count before it) and "0 organisations ... filled 0"."""

from __future__ import annotations

from click.testing import CliRunner

from crm.cli import main
from tests import factories


def _run(settings, monkeypatch, *args):
    monkeypatch.setenv("CRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CRM_ENV", "test")
    return CliRunner().invoke(main, ["map", "fill-regions", *args], catch_exceptions=False)


def test_nothing_to_check_is_a_sentence_not_a_blank_line(db, settings, monkeypatch):
    factories.organisation(db, region_name="Wales", postcode="CF10 1AA")  # has a region: not looked at
    db.commit()
    for args in ([], ["--dry-run"]):
        result = _run(settings, monkeypatch, *args)
        assert result.exit_code == 0
        assert result.output == "No organisation without a region has a postcode to read one from: nothing to fill.\n"


def test_a_fill_still_ends_its_running_count_and_prints_the_totals(db, settings, monkeypatch):
    factories.organisation(db, postcode="M1 1AE")
    db.commit()
    result = _run(settings, monkeypatch, "--dry-run")
    assert result.exit_code == 0
    assert result.stderr == "\rchecked 1, filled 1\n"
    assert result.stdout.startswith("1 organisations without a region have a postcode: would fill 1;")


def test_help_says_what_it_does():
    result = CliRunner().invoke(main, ["map", "fill-regions", "--help"])
    assert result.exit_code == 0
    assert "region its postcode lies in" in result.output and "nothing to fill" in result.output
