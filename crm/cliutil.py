"""What every ``crm`` command shares: clear one-line failures, configuration errors without a traceback, the
process's ``Runtime``, and the steps of a CSV import command. Domain ``commands.py`` modules import it; it imports no
domain, so there is no cycle.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
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
    """FILE and the options of every CSV import command: --dry-run, --skip-bad-rows, --show."""
    for decorate in (
        click.option("--show", default=50, show_default=True, help="How many problems to print."),
        click.option("--skip-bad-rows", is_flag=True, help="Import the good rows even if some rows have errors."),
        click.option("--dry-run", is_flag=True, help="Check and match every row, print the problems, write nothing."),
        click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    ):
        command = decorate(command)
    return command


def run_import(
    check: Callable[[Session], Any], write: Callable[[Session], Any], *, dry_run: bool, skip_bad_rows: bool, show: int
) -> None:
    """A CSV import command's steps, in one transaction: ``check`` every row (nothing written) and print the problems;
    stop on a file error; print the summary; unless it is a dry run, refuse rows with errors without --skip-bad-rows,
    then ``write`` and print what was written. Both return a ``crm.csvimport.Report`` with a ``summary()``."""
    from crm.db import unit_of_work

    with unit_of_work(runtime().session_factory) as session:
        report = check(session)
        _print_problems(report, show)
        if report.file_errors:
            fail("nothing imported")
        click.echo(report.summary())
        if dry_run:
            click.echo("Dry run: nothing written.")
            return
        if report.error_rows and not skip_bad_rows:
            fail(f"{report.error_rows} row(s) have errors; fix them or use --skip-bad-rows. Nothing imported.")
        report = write(session)
    click.echo(report.summary())


def _print_problems(report: Any, show: int) -> None:
    for problem in report.file_errors:
        click.echo(f"error: {problem}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for row, column, message in report.problems[:show]:
        click.echo(f"row {row}{f', column {column}' if column else ''}: {message}", err=True)
    if len(report.problems) > show:
        click.echo(f"… and {len(report.problems) - show} more problems", err=True)
