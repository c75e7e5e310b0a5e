"""``crm funding import FILE.csv [--dry-run] [--skip-bad-rows]`` and ``crm funding close-expired``.

A separate ``funding`` group (not a sub-command of the directory's ``import`` group) so the two domains never
clash over one click group.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from crm.cliutil import handles_config_errors, import_options, run_import, runtime


@click.group("funding")
def funding_group() -> None:
    """Funding calls: import from CSV, close expired calls."""


@funding_group.command("import")
@import_options
@handles_config_errors
def import_calls(file: Path, dry_run: bool, skip_bad_rows: bool, show: int) -> None:
    """Import funding calls from FILE.csv (see docs/funding.md for the columns).

    Rows are matched to existing calls by external_ref, else by funder + title, and updated. Nothing is written
    when any row has an error, unless --skip-bad-rows is given.
    """
    from crm.funding import importer

    text = importer.decode(file.read_bytes())
    now = dt.datetime.now(dt.UTC)
    run_import(
        lambda session: importer.run_import(session, text, apply=False, now=now),
        lambda session: importer.run_import(session, text, apply=True, now=now),
        dry_run=dry_run,
        skip_bad_rows=skip_bad_rows,
        show=show,
    )


@funding_group.command("close-expired")
@handles_config_errors
def close_expired() -> None:
    """Close published calls whose last deadline has passed (the hourly job, run once now)."""
    from crm.funding.jobs import close_expired_calls

    result = close_expired_calls(runtime())
    click.echo(f"closed {result['closed']}, moved next deadline on {result['advanced']}")


commands = [funding_group]
