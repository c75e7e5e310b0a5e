"""``crm create-admin EMAIL`` and ``crm api-key create|list|revoke``: people and keys that may use the product."""

from __future__ import annotations

import click

from crm.cliutil import fail, handles_config_errors, runtime

# The users' and API keys' name columns hold 200 characters: longer was a database error and a traceback on
# PostgreSQL (SQLite kept it whole), so every command checks a name before it writes one.
NAME_MAX = 200


def _name(value: str, *, what: str, required: bool) -> str:
    """``value`` as a name to store, or the command ends with one line saying what is wrong with it."""
    value = value.strip()
    if required and not value:
        fail(f"{what} is empty: give one that says what uses it.")
    if len(value) > NAME_MAX:
        fail(f"{what} must be at most {NAME_MAX} characters (it has {len(value)}).")
    if "\n" in value or "\r" in value:
        fail(f"{what} must be a single line.")
    return value


@click.command("create-admin")
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
        fail(str(exc))
    name = _name(name, what="--name", required=False)
    ctx = runtime()
    with unit_of_work(ctx.session_factory) as session:
        user = ensure_user(session, email, name=name)
        link = issue_sign_in_link(session, ctx.signer, ctx.settings, user)
    click.echo(f"{email} is an admin. Sign in within 15 minutes with:\n{link}")


@click.group("api-key")
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

    name = _name(name, what="The key's name", required=True)
    ctx = runtime()
    with unit_of_work(ctx.session_factory) as session:
        key, plaintext = create_api_key(session, name, m.Role(role))
    click.echo(f"API key {key.id} ({name}, {role}). Copy it now; it will not be shown again:\n{plaintext}")


@api_key.command("list")
@handles_config_errors
def api_key_list() -> None:
    """List keys (never their values)."""
    from sqlalchemy import select

    from crm import models as m

    ctx = runtime()
    with ctx.session_factory() as session:
        keys = list(session.scalars(select(m.ApiKey).order_by(m.ApiKey.id)))
    if not keys:
        click.echo("No API keys yet. Create one with `crm api-key create NAME`.")
    for k in keys:
        state = "revoked" if k.revoked_at else "active"
        click.echo(f"{k.id}\t{k.prefix}…\t{k.name}\t{k.role.value}\t{state}")


@api_key.command("revoke")
@click.argument("key_id", type=int)
@handles_config_errors
def api_key_revoke(key_id: int) -> None:
    """Revoke a key by id."""
    from crm import models as m
    from crm.db import unit_of_work

    ctx = runtime()
    with unit_of_work(ctx.session_factory) as session:
        key = session.get(m.ApiKey, key_id)
        if key is None:
            fail(f"no API key with id {key_id}")
        if key.revoked_at is not None:  # keep the time it was revoked (a second revoke moved it to now)
            click.echo(f"API key {key_id} was already revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC.")
            return
        key.revoked_at = m.utcnow()
    click.echo(f"API key {key_id} revoked.")


commands = [create_admin, api_key]
