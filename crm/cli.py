"""The ``crm`` command. ``crm --help`` lists everything; each command has its own ``--help``.

Configuration errors (a bad database URL, a default secret in production) end with one clear line and exit
status 1, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from crm.settings import Settings, SettingsError


def _fail(message: str) -> None:
    click.echo(f"crm: {message}", err=True)
    sys.exit(1)


def handles_config_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SettingsError as exc:
            _fail(f"configuration error: {exc}")
        except (OperationalError, ProgrammingError) as exc:
            _fail(f"cannot use the database: {str(exc.orig).strip().splitlines()[0] if exc.orig else exc}")

    return wrapper


def load_settings() -> Settings:
    return Settings.from_env().validate()


def _context() -> Any:
    from jobs.context import WorkerContext

    return WorkerContext(load_settings())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Roundtable CRM: partnership CRM and mailing system. Settings come from CRM_* environment variables."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "apscheduler.executors", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Web worker processes.")
@click.option(
    "--with-worker/--no-worker", default=None, help="Run the scheduler in this process (default: on in development)."
)
@click.option(
    "--seed/--no-seed",
    default=True,
    show_default=True,
    help="Load demo data when the database is empty (development only).",
)
@handles_config_errors
def run(host: str, port: int, workers: int, with_worker: bool | None, seed: bool) -> None:
    """Migrate, load demo data if empty, print a sign-in link, and serve the web app."""
    import uvicorn

    from crm.accounts.services import ensure_user, issue_sign_in_link
    from crm.db import unit_of_work
    from crm.demo import is_empty, seed_demo
    from crm.migrate import upgrade
    from crm.tokens import Signer

    settings = load_settings()
    ctx = _context()
    upgrade(ctx.engine)
    if not settings.is_production:
        with unit_of_work(ctx.session_factory) as session:
            if seed and is_empty(session):
                click.echo("Loading demo data (first run)...")
                seed_demo(session, settings)
            admin = ensure_user(session, settings.demo_admin_email)
            link = issue_sign_in_link(session, Signer(settings), settings, admin)
        click.secho("\nRoundtable CRM is starting at " + settings.base_url, bold=True)
        click.echo(f"Sign in as the demo admin ({settings.demo_admin_email}) with this one-time link (15 minutes):")
        click.secho(f"  {link}\n", fg="green")
    run_worker_here = (
        settings.run_worker_in_process and not settings.is_production if with_worker is None else with_worker
    )
    if run_worker_here:
        from jobs.worker import start_background_worker

        start_background_worker(settings)
        click.echo("Scheduler and outbox dispatcher running in this process.")
    uvicorn.run("crm.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")


@main.command()
@handles_config_errors
def worker() -> None:
    """Run the scheduler and the outbox dispatcher (one active worker; others wait as standbys)."""
    from jobs.worker import run_worker

    run_worker(load_settings())


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@handles_config_errors
def db_upgrade(revision: str) -> None:
    """Apply migrations and ensure reference data (regions, topics)."""
    from crm.db import unit_of_work
    from crm.directory.reference import ensure_reference_data
    from crm.migrate import upgrade

    ctx = _context()
    upgrade(ctx.engine, revision)
    with unit_of_work(ctx.session_factory) as session:
        ensure_reference_data(session)
    click.echo(f"Database at {ctx.engine.url.render_as_string(hide_password=True)} is up to date.")


@db.command("check")
@handles_config_errors
def db_check() -> None:
    """Exit 1 if the models and the migrated schema differ."""
    from crm.migrate import pending_drift

    drift = pending_drift(_context().engine)
    if drift:
        for d in drift:
            click.echo(f"drift: {d}")
        sys.exit(1)
    click.echo("Models and migrations agree.")


@main.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even if the database already has organisations.")
@handles_config_errors
def seed_demo_cmd(force: bool) -> None:
    """Load the demo data (invented organisations, contacts, calls, events, internships)."""
    from crm.db import unit_of_work
    from crm.demo import is_empty, seed_demo

    ctx = _context()
    with unit_of_work(ctx.session_factory) as session:
        if not force and not is_empty(session):
            click.echo("The database already has data; use --force to add the demo data anyway.")
            return
        seed_demo(session, ctx.settings)
    click.echo("Demo data loaded.")


@main.command("create-admin")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@handles_config_errors
def create_admin(email: str, name: str) -> None:
    """Create (or promote) an admin and print a one-time sign-in link."""
    from crm.accounts.services import ensure_user, issue_sign_in_link
    from crm.db import unit_of_work
    from crm.web.forms import normalise_email

    try:
        email = normalise_email(email)
    except ValueError as exc:
        _fail(str(exc))
    ctx = _context()
    with unit_of_work(ctx.session_factory) as session:
        user = ensure_user(session, email, name=name)
        link = issue_sign_in_link(session, ctx.signer, ctx.settings, user)
    click.echo(f"{email} is an admin. Sign in within 15 minutes with:\n{link}")


@main.group("api-key")
def api_key() -> None:
    """API keys for integrations (sent as Authorization: Bearer <key>)."""


@api_key.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), default="admin", show_default=True)
@handles_config_errors
def api_key_create(name: str, role: str) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    from crm import models as m
    from crm.accounts.services import create_api_key
    from crm.db import unit_of_work

    ctx = _context()
    with unit_of_work(ctx.session_factory) as session:
        key, plaintext = create_api_key(session, name, m.Role(role))
    click.echo(f"API key {key.id} ({name}, {role}). Copy it now; it will not be shown again:\n{plaintext}")


@api_key.command("list")
@handles_config_errors
def api_key_list() -> None:
    """List keys (never their values)."""
    from sqlalchemy import select

    from crm import models as m

    ctx = _context()
    with ctx.session_factory() as session:
        for k in session.scalars(select(m.ApiKey).order_by(m.ApiKey.id)):
            state = "revoked" if k.revoked_at else "active"
            click.echo(f"{k.id}\t{k.prefix}…\t{k.name}\t{k.role.value}\t{state}")


@api_key.command("revoke")
@click.argument("key_id", type=int)
@handles_config_errors
def api_key_revoke(key_id: int) -> None:
    """Revoke a key by id."""
    from crm import models as m
    from crm.db import unit_of_work

    ctx = _context()
    with unit_of_work(ctx.session_factory) as session:
        key = session.get(m.ApiKey, key_id)
        if key is None:
            _fail(f"no API key with id {key_id}")
        key.revoked_at = m.utcnow()
    click.echo(f"API key {key_id} revoked.")


@main.group()
def outbox() -> None:
    """The mail outbox."""


@outbox.command("dispatch")
@handles_config_errors
def outbox_dispatch() -> None:
    """Send everything that is due, once, then exit."""
    from crm.mailing.dispatch import drain

    ctx = _context()
    stats = drain(ctx.session_factory, ctx.transport, ctx.settings)
    click.echo(
        f"claimed {stats.claimed}, sent {stats.sent}, retry {stats.retried}, failed {stats.failed}, "
        f"suppressed {stats.suppressed}, ambiguous {stats.ambiguous}"
    )
    if stats.halted:
        _fail("the mail provider refused our credentials; sending stopped")


# Domain command groups: each module exposes ``commands`` (a list of click commands/groups) added to ``crm``.
COMMAND_MODULES = (
    "crm.directory.commands",
    "crm.mailing.commands",
    "crm.funding.commands",
    "crm.events.commands",
    "crm.internships.commands",
    "crm.digests.commands",
    "crm.dashboard.commands",
)


def _add_domain_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        for command in module.commands:
            main.add_command(command)


if __name__ == "__main__":
    # Run the importable module, so domain command modules (which import crm.cli) see one crm.cli, not two.
    from crm.cli import main as _main

    _main()
else:
    _add_domain_commands()
