"""``crm funding import FILE.csv [--dry-run] [--skip-bad-rows]`` and ``crm funding close-expired``.

A separate ``funding`` group (not a sub-command of the directory's ``import`` group) so the two domains never
clash over one click group.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from crm.cliutil import fail, handles_config_errors, runtime


@click.group("funding")
def funding_group() -> None:
    """Funding calls: import from CSV, close expired calls."""


@funding_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and match every row, print the problems, write nothing.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows even if some rows have errors.")
@click.option("--show", default=50, show_default=True, help="How many problems to print.")
@handles_config_errors
def import_calls(file: Path, dry_run: bool, skip_bad_rows: bool, show: int) -> None:
    """Import funding calls from FILE.csv (see docs/funding.md for the columns).

    Rows are matched to existing calls by external_ref, else by funder + title, and updated. Nothing is written
    when any row has an error, unless --skip-bad-rows is given.
    """
    from crm.db import unit_of_work
    from crm.funding import importer

    ctx = runtime()
    text = importer.decode(file.read_bytes())
    now = dt.datetime.now(dt.UTC)
    with unit_of_work(ctx.session_factory) as session:
        report = importer.run_import(session, text, apply=False, now=now)
        for problem in report.file_errors:
            click.echo(f"error: {problem}", err=True)
        problems = [(r.row, column, reason) for r in report.rows for column, reason in r.errors]
        for row, column, reason in problems[:show]:
            click.echo(f"row {row}, column {column}: {reason}", err=True)
        if len(problems) > show:
            click.echo(f"… and {len(problems) - show} more problems", err=True)
        if report.file_errors:
            fail("nothing imported")
        click.echo(importer.summary_line(report))
        if dry_run:
            click.echo("Dry run: nothing written.")
            return
        if report.errors and not skip_bad_rows:
            fail(f"{report.errors} row(s) have errors; fix them or use --skip-bad-rows. Nothing imported.")
        report = importer.run_import(session, text, apply=True, now=now)
    click.echo(importer.summary_line(report))


@funding_group.command("close-expired")
@handles_config_errors
def close_expired() -> None:
    """Close published calls whose last deadline has passed (the hourly job, run once now)."""
    from crm.funding.jobs import close_expired_calls

    result = close_expired_calls(runtime())
    click.echo(f"closed {result['closed']}, moved next deadline on {result['advanced']}")


commands = [funding_group]
