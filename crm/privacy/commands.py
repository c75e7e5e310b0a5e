"""``crm privacy export EMAIL``, ``crm privacy erase EMAIL``, ``crm retention run [--dry-run]``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from crm.cliutil import fail, handles_config_errors, runtime


@click.group("privacy")
def privacy_group() -> None:
    """Subject-access exports and erasure (UK GDPR)."""


def _subject(session: Any, email: str) -> Any:
    """The data subject known by EMAIL, or the command ends saying none is."""
    from crm.privacy import subjects

    try:
        return subjects.find_subject(session, email=email)
    except subjects.NotFound as exc:
        fail(str(exc))


@privacy_group.command("export")
@click.argument("email")
@handles_config_errors
def privacy_export(email: str) -> None:
    """Print everything held about EMAIL as JSON."""
    from crm.db import unit_of_work
    from crm.privacy import subjects

    rt = runtime()
    with unit_of_work(rt.session_factory) as session:
        subject = _subject(session, email)
        click.echo(
            json.dumps(
                subjects.export(session, subject, rt.settings.mail_detail_days),
                indent=2,
                ensure_ascii=False,
                default=str,
            )
        )


@privacy_group.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handles_config_errors
def privacy_erase(email: str, yes: bool) -> None:
    """Erase the personal data held about EMAIL and suppress it as a one-way hash."""
    from crm.db import unit_of_work
    from crm.privacy.erasure import erase

    rt = runtime()
    with unit_of_work(rt.session_factory) as session:
        subject = _subject(session, email)
        if not yes:
            click.confirm(f"Permanently erase the personal data of {subject.label} ({email})?", abort=True)
        counts = erase(session, subject, None, reason="erasure request (command line)")
    click.echo("Erased: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v))


@click.group("retention")
def retention_group() -> None:
    """Retention rules: anonymise what we no longer need."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="List what would be anonymised; change nothing.")
@handles_config_errors
def retention_run(dry_run: bool) -> None:
    """Anonymise unconfirmed subscriptions after 30 days, contacts and network members idle for
    CRM_RETENTION_CONTACT_YEARS, and interest in involvement opportunities closed over a year ago."""
    from crm.db import unit_of_work
    from crm.privacy import retention

    rt = runtime()
    now = dt.datetime.now(dt.UTC)
    with unit_of_work(rt.session_factory) as session:
        result = retention.run(session, now=now, settings=rt.settings, dry_run=dry_run)
        plan = result["plan"]
        if dry_run:
            for s in plan.subscriptions:
                click.echo(f"subscription #{s.id} {s.email} (unconfirmed since {s.created_at:%Y-%m-%d})")
            for c in plan.contacts:
                click.echo(f"contact #{c.id} {c.name} (unchanged since {c.updated_at:%Y-%m-%d})")
            for n in plan.members:
                click.echo(f"network member #{n.id} {n.email} ({n.status}, last involved {n.last_seen:%Y-%m-%d})")
            for i in plan.interests:
                click.echo(f"expression of interest #{i.id} {i.email} ({i.opportunity}, closed {i.closed:%Y-%m-%d})")
            for j in plan.joins:
                click.echo(f"network join never confirmed {j.email} (joined {j.joined:%Y-%m-%d})")
    verb = "Would anonymise" if dry_run else "Anonymised"
    click.echo(
        f"{verb} {result['subscriptions']} subscription(s), {result['contacts']} contact(s), "
        f"{result['network_members']} network member(s), {result['involvement_interests']} expression(s) of "
        f"interest and {result['network_joins']} unconfirmed network join(s)."
    )


commands = [privacy_group, retention_group]
