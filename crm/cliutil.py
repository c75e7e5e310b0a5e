"""What every ``crm`` command shares: clear one-line failures, configuration errors without a traceback, the
process's ``Runtime``, and the steps of a CSV import command. Domain ``commands.py`` modules import it; it imports no
domain, so there is no cycle.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from crm.runtime import Runtime
from crm.settings import Settings, SettingsError


def fail(message: str) -> NoReturn:
    """End the command with one line on stderr and exit status 1."""
    click.echo(f"crm: {message}", err=True)
    sys.exit(1)


def handles_config_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SettingsError as exc:
            fail(f"configuration error: {exc}")
        except (OperationalError, ProgrammingError) as exc:
            fail(f"cannot use the database: {str(exc.orig).strip().splitlines()[0] if exc.orig else exc}")

    return wrapper


def load_settings() -> Settings:
    return Settings.from_env().validate()


def runtime() -> Runtime:
    """The command's runtime, with the extensions the manifest declares (looked up when a command runs)."""
    from crm.domains import EXTENSIONS  # the manifest imports the commands modules that import this one

    return Runtime(load_settings(), EXTENSIONS)


def import_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """FILE and the options of every CSV import command: --dry-run, --skip-bad-rows, --replace, --show."""
    for decorate in (
        click.option(
            "--show",
            default=50,
            show_default=True,
            type=click.IntRange(min=0),  # a negative count hid the last problems (a slice from the end)
            help="How many problems and changes to print.",
        ),
        click.option(
            "--replace",
            default="",
            metavar="COLUMNS",
            help="Comma-separated columns whose values overwrite what a matched record already has (e.g. "
            "description,website). Without it an import only fills empty fields.",
        ),
        click.option("--skip-bad-rows", is_flag=True, help="Import the good rows even if some rows have errors."),
        click.option("--dry-run", is_flag=True, help="Check and match every row, print the problems, write nothing."),
        click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    ):
        command = decorate(command)
    return command


def replace_columns(value: str, allowed: Mapping[str, str]) -> list[str]:
    """``--replace description,website`` as column names; an unknown column ends the command (a typo must not
    silently keep the old values)."""
    columns = [c.strip().lower() for c in value.split(",") if c.strip()]
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        fail(f"--replace: unknown column(s) {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return columns


def run_import(
    check: Callable[[Session], Any], write: Callable[[Session], Any], *, dry_run: bool, skip_bad_rows: bool, show: int
) -> None:
    """A CSV import command's steps, in one transaction: ``check`` every row (nothing written) and print the problems
    and the changes to matched records (old → new); stop on a file error; print the summary; unless it is a dry run,
    refuse rows with errors without --skip-bad-rows, then ``write``, print what was written and the import batch
    (undo it with ``crm imports undo``). Both return a ``crm.csvimport.Report`` with a ``summary()``."""
    from crm.db import unit_of_work

    with unit_of_work(runtime().session_factory) as session:
        report = check(session)
        _print_problems(report, show)
        if report.file_errors:
            fail("nothing imported")
        _print_changes(report, show)
        click.echo(report.summary())
        if dry_run:
            click.echo("Dry run: nothing written.")
            return
        if report.error_rows and not skip_bad_rows:
            fail(f"{report.error_rows} row(s) have errors; fix them or use --skip-bad-rows. Nothing imported.")
        report = write(session)
    click.echo(report.summary())
    if report.batch_id:
        click.echo(
            f"Recorded as import #{report.batch_id}: see it at /admin/imports/{report.batch_id}; undo it within 30 "
            f"days with `crm imports undo {report.batch_id}`."
        )


def _print_changes(report: Any, show: int) -> None:
    """Every field the file would change in a matched record (old → new), and the values kept."""
    changes = [(r.row, c) for r in report.rows if not r.errors for c in r.changes]
    for row, c in changes[:show]:
        what = f"{c.old_text} → {c.new_text}" if c.applied else f"kept {c.old_text} (the file has {c.new_text})"
        click.echo(f"row {row}, {c.record}: {c.label}: {what}", err=True)
    if len(changes) > show:
        click.echo(f"… and {len(changes) - show} more changes", err=True)
    if report.conflicts:
        columns = ", ".join(f"{col} ({n})" for col, n in sorted(report.conflicts.items()))
        click.echo(
            f"note: matched records keep their own values where the file differs: {columns}. "
            f"Use --replace {','.join(sorted(report.conflicts))} to take the file's.",
            err=True,
        )


def _print_problems(report: Any, show: int) -> None:
    for problem in report.file_errors:
        click.echo(f"error: {problem}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for row, column, message in report.problems[:show]:
        click.echo(f"row {row}{f', column {column}' if column else ''}: {message}", err=True)
    if len(report.problems) > show:
        click.echo(f"… and {len(report.problems) - show} more problems", err=True)
