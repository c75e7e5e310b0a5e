"""``crm import organisations FILE.csv [--dry-run]`` and ``crm export organisations|contacts``."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from crm.cliutil import handles_config_errors, import_options, replace_columns, run_import, runtime


@click.group("import")
def import_group() -> None:
    """Import data from CSV files."""


@import_group.command("organisations")
@import_options
@handles_config_errors
def import_organisations(file: Path, dry_run: bool, skip_bad_rows: bool, replace: str, show: int) -> None:
    """Import organisations and contacts from FILE.csv (UTF-8 or Excel's Windows-1252; see docs/directory.md for
    the columns).

    A matched record only has its empty fields filled unless --replace names the columns to overwrite. Nothing is
    written when any row has an error, unless --skip-bad-rows is given. What is written is one import batch that can
    be undone for 30 days (`crm imports undo`).
    """
    from crm.directory.importer import REPLACEABLE
    from crm.directory.importer import run_import as import_file

    columns = replace_columns(replace, REPLACEABLE)
    size = file.stat().st_size

    def read(session: Session, label: str, apply: bool) -> Any:
        with click.progressbar(length=size, label=label, file=sys.stderr) as bar:
            return import_file(session, file, apply=apply, progress=bar.update, replace=columns, filename=file.name)

    run_import(
        lambda session: read(session, "Checking", False),
        lambda session: read(session, "Importing", True),
        dry_run=dry_run,
        skip_bad_rows=skip_bad_rows,
        show=show,
    )


@click.group("export")
def export_group() -> None:
    """Export lists as CSV."""


_output_option = click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout)."
)


@export_group.command("organisations")
@_output_option
@handles_config_errors
def export_organisations(output: Path | None) -> None:
    """Write every organisation as CSV (the same columns the import reads)."""
    from crm.directory.export import organisation_rows

    _export(output, lambda session, everything: organisation_rows(session, everything, public=False))


@export_group.command("contacts")
@_output_option
@handles_config_errors
def export_contacts(output: Path | None) -> None:
    """Write every contact with their primary organisation as CSV."""
    from crm.directory.export import contact_rows

    _export(output, contact_rows)


def _export(output: Path | None, rows: Callable[[Session, Any], Iterable[Any]]) -> None:
    """Write ``rows(session, the unfiltered list's parameters)`` as CSV to ``output`` or stdout."""
    from crm.listing import ListParams

    with runtime().session_factory() as session:
        lines = rows(session, ListParams())
        if output is None:
            csv.writer(sys.stdout).writerows(lines)
            return
        with open(output, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(lines)


commands = [import_group, export_group]
