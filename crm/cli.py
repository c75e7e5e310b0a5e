"""The ``crm`` command. ``crm --help`` lists everything; each command has its own ``--help``.

This module holds the process commands (run, worker, db, seed-demo); every domain's commands come from the
manifest (``crm.domains``).

Configuration errors (a bad database URL, a default secret in production) end with one clear line and exit
status 1, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import click

from crm.cliutil import fail, handles_config_errors, load_settings, runtime
from crm.domains import all_commands
from crm.settings import LOG_FORMAT


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Roundtable CRM: partnership CRM and mailing system. Settings come from CRM_* environment variables."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for noisy in ("alembic", "apscheduler", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def link_base(host: str, port: int) -> str:
    """The address people open for ``crm run --host H --port P``: a wildcard interface is reached on localhost."""
    if host in {"", "0.0.0.0", "::"}:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _announce_when_serving(server: object, lines: list[tuple[str, dict[str, object]]]) -> None:
    """Print the banner and sign-in link once the server accepts requests, so they are the last thing printed."""

    def wait() -> None:
        deadline = time.monotonic() + 120
        while not getattr(server, "started", False) and time.monotonic() < deadline:
            if getattr(server, "should_exit", False):
                return
            time.sleep(0.05)
        for text, style in lines:
            click.secho(text, **style)  # type: ignore[arg-type]

    threading.Thread(target=wait, name="announce", daemon=True).start()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
# Ranges, so a mistyped number is refused before anything starts: --port 99999 served and printed a sign-in link
# to a port that cannot exist, and --workers 0 or -3 quietly ran one.
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Web worker processes.")
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

    if not os.environ.get("CRM_BASE_URL") and os.environ.get("CRM_ENV", "development") != "production":
        # In development every link (sign-in, emails) follows --host/--port unless CRM_BASE_URL says otherwise;
        # the variable is set for this process, so the app and the in-process worker read the same value.
        os.environ["CRM_BASE_URL"] = link_base(host, port)
    settings = load_settings()
    ctx = runtime()
    upgrade(ctx.engine)
    announce: list[tuple[str, dict[str, object]]] = []
    if not settings.is_production:
        with unit_of_work(ctx.session_factory) as session:
            if seed and is_empty(session):
                click.echo("Loading demo data (first run)...")
                seed_demo(session, settings)
            admin = ensure_user(session, settings.demo_admin_email)
            link = issue_sign_in_link(session, Signer(settings), settings, admin)
        announce = [
            ("\nRoundtable CRM is running at " + settings.base_url, {"bold": True}),
            (f"Sign in as the demo admin ({settings.demo_admin_email}) with this one-time link (15 minutes):", {}),
            (f"  {link}\n", {"fg": "green"}),
        ]
    run_worker_here = (
        settings.run_worker_in_process and not settings.is_production if with_worker is None else with_worker
    )
    if run_worker_here:
        from jobs.worker import start_background_worker

        start_background_worker(settings)
        click.echo("Scheduler and outbox dispatcher running in this process.")
    if workers > 1:
        for text, style in announce:
            click.secho(text, **style)  # type: ignore[arg-type]
        uvicorn.run(
            "crm.app:create_app", factory=True, host=host, port=port, workers=workers, log_config=None, log_level="info"
        )
        return
    server = uvicorn.Server(
        uvicorn.Config("crm.app:create_app", factory=True, host=host, port=port, log_config=None, log_level="info")
    )
    _announce_when_serving(server, announce)
    server.run()


@main.command()
@handles_config_errors
def worker() -> None:
    """Run the scheduler and the outbox dispatcher. One worker leads (every job); on PostgreSQL the others
    dispatch the outbox beside it, on SQLite they wait as standbys; one takes over when the leader stops."""
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
    from alembic.util import CommandError

    from crm.db import unit_of_work
    from crm.directory.reference import ensure_reference_data
    from crm.migrate import upgrade

    ctx = runtime()
    try:
        upgrade(ctx.engine, revision)
    except CommandError as exc:  # an unknown --revision: Alembic's message, not its traceback
        fail(f"cannot upgrade to {revision!r}: {exc}")
    with unit_of_work(ctx.session_factory) as session:
        ensure_reference_data(session)
    click.echo(f"Database at {ctx.engine.url.render_as_string(hide_password=True)} is up to date.")


@db.command("check")
@handles_config_errors
def db_check() -> None:
    """Exit 1 if the models and the migrated schema differ."""
    from crm.migrate import pending_drift

    drift = pending_drift(runtime().engine)
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

    ctx = runtime()
    with unit_of_work(ctx.session_factory) as session:
        if not force and not is_empty(session):
            click.echo("The database already has data; use --force to add the demo data anyway.")
            return
        seed_demo(session, ctx.settings)
    click.echo("Demo data loaded.")


def _add_domain_commands() -> None:
    """Each domain's commands, as the manifest lists them; two domains claiming one name is a start-up error."""
    for command in all_commands():
        if command.name in main.commands:
            raise RuntimeError(f"two domains declare the command {command.name!r}")
        main.add_command(command)


_add_domain_commands()


if __name__ == "__main__":
    main()
