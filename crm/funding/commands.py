"""``crm funding import FILE.csv [--dry-run] [--skip-bad-rows] [--replace COLUMNS]`` and ``crm funding close-expired``.

A separate ``funding`` group (not a sub-command of the directory's ``import`` group) so the two domains never
clash over one click group.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from crm.cliutil import fail, handles_config_errors, import_options, replace_columns, run_import, runtime


@click.group("funding")
def funding_group() -> None:
    """Funding calls: import from CSV, close expired calls."""


@funding_group.command("import")
@import_options
@handles_config_errors
def import_calls(file: Path, dry_run: bool, skip_bad_rows: bool, replace: str, show: int) -> None:
    """Import funding calls from FILE.csv (UTF-8 or Excel's Windows-1252; see docs/funding.md for the columns).

    Rows are matched to existing calls by external_ref, else by funder + title. A matched call only has its empty
    fields filled unless --replace names the columns to overwrite. Nothing is written when any row has an error,
    unless --skip-bad-rows is given. What is written is one import batch that can be undone for 30 days
    (`crm imports undo`).
    """
    from crm.funding import import_values, importer

    columns = replace_columns(replace, import_values.REPLACEABLE)
    decoded = importer.decode(file.read_bytes())
    if decoded.error:
        fail(decoded.error)
    lines = decoded.text.count("\n") + 1
    now = dt.datetime.now(dt.UTC)

    def read(session: Session, label: str, apply: bool) -> Any:
        with click.progressbar(length=lines, label=label, file=sys.stderr) as bar:
            return importer.run_import(
                session, decoded.text, apply=apply, now=now, replace=columns, filename=file.name,
                encoding=decoded.encoding, progress=bar.update,
            )  # fmt: skip

    run_import(
        lambda session: read(session, "Checking", False),
        lambda session: read(session, "Importing", True),
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
