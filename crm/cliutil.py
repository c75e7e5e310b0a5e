"""What every ``crm`` command shares: clear one-line failures, configuration errors without a traceback, and the
process's ``Runtime``. Domain ``commands.py`` modules import it; it imports no domain, so there is no cycle.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

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
