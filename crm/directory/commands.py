"""``crm import organisations FILE.csv [--dry-run]`` and ``crm export organisations|contacts``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from crm.cliutil import fail, handles_config_errors, runtime


@click.group("import")
def import_group() -> None:
    """Import data from CSV files."""


@import_group.command("organisations")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and match every row, print the problems, write nothing.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows even if some rows have errors.")
@click.option("--show", default=50, show_default=True, help="How many problems to print.")
@handles_config_errors
def import_organisations(file: Path, dry_run: bool, skip_bad_rows: bool, show: int) -> None:
    """Import organisations and contacts from FILE.csv (UTF-8; see docs/directory.md for the columns).

    Nothing is written when any row has an error, unless --skip-bad-rows is given.
    """
    from crm.db import unit_of_work
    from crm.directory.importer import run_import

    ctx = runtime()
    size = file.stat().st_size
    with unit_of_work(ctx.session_factory) as session:
        with click.progressbar(length=size, label="Checking", file=sys.stderr) as bar:
            report = run_import(session, file, apply=False, progress=bar.update)
        _print_problems(report, show)
        if not report.ok:
            fail("nothing imported")
        click.echo(report.summary())
        if dry_run:
            click.echo("Dry run: nothing written.")
            return
        if report.error_rows and not skip_bad_rows:
            fail(f"{report.error_rows} row(s) have errors; fix them or use --skip-bad-rows. Nothing imported.")
        with click.progressbar(length=size, label="Importing", file=sys.stderr) as bar:
            report = run_import(session, file, apply=True, progress=bar.update)
    click.echo(report.summary())


def _print_problems(report, show: int) -> None:  # type: ignore[no-untyped-def]
    for problem in report.file_errors:
        click.echo(f"error: {problem}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for row, column, message in report.errors[:show]:
        click.echo(f"row {row}{f', column {column}' if column else ''}: {message}", err=True)
    if len(report.errors) > show:
        click.echo(f"… and {len(report.errors) - show} more problems", err=True)


@click.group("export")
def export_group() -> None:
    """Export lists as CSV."""


@export_group.command("organisations")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout)."
)
@handles_config_errors
def export_organisations(output: Path | None) -> None:
    """Write every organisation as CSV (the same columns the import reads)."""
    from crm.directory.export import organisation_rows
    from crm.web.listing import ListParams

    ctx = runtime()
    with ctx.session_factory() as session:
        _write(output, organisation_rows(session, ListParams(), public=False))


@export_group.command("contacts")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout)."
)
@handles_config_errors
def export_contacts(output: Path | None) -> None:
    """Write every contact with their primary organisation as CSV."""
    from crm.directory.export import contact_rows
    from crm.web.listing import ListParams

    ctx = runtime()
    with ctx.session_factory() as session:
        _write(output, contact_rows(session, ListParams()))


def _write(output: Path | None, rows) -> None:  # type: ignore[no-untyped-def]
    if output is None:
        csv.writer(sys.stdout).writerows(rows)
        return
    with open(output, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


commands = [import_group, export_group]
