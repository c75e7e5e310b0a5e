"""``crm privacy export EMAIL``, ``crm privacy erase EMAIL``, ``crm retention run [--dry-run]``,
``crm report impact [--from DATE --to DATE]``."""

from __future__ import annotations

import datetime as dt
import json

import click

from crm.cli import _context, _fail, handles_config_errors


@click.group("privacy")
def privacy_group() -> None:
    """Subject-access exports and erasure (UK GDPR)."""


@privacy_group.command("export")
@click.argument("email")
@handles_config_errors
def privacy_export(email: str) -> None:
    """Print everything held about EMAIL as JSON."""
    from crm.db import unit_of_work
    from crm.privacy import services as ps

    ctx = _context()
    with unit_of_work(ctx.session_factory) as session:
        try:
            subject = ps.find_subject(session, email=email)
        except ps.NotFound as exc:
            _fail(str(exc))
        click.echo(json.dumps(ps.export(session, subject), indent=2, ensure_ascii=False, default=str))


@privacy_group.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handles_config_errors
def privacy_erase(email: str, yes: bool) -> None:
    """Erase the personal data held about EMAIL and suppress it as a one-way hash."""
    from crm.db import unit_of_work
    from crm.privacy import services as ps

    ctx = _context()
    with unit_of_work(ctx.session_factory) as session:
        try:
            subject = ps.find_subject(session, email=email)
        except ps.NotFound as exc:
            _fail(str(exc))
        if not yes:
            click.confirm(f"Permanently erase the personal data of {subject.label} ({email})?", abort=True)
        counts = ps.erase(session, subject, None, reason="erasure request (command line)")
    click.echo("Erased: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v))


@click.group("retention")
def retention_group() -> None:
    """Retention rules: anonymise what we no longer need."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="List what would be anonymised; change nothing.")
@handles_config_errors
def retention_run(dry_run: bool) -> None:
    """Anonymise unconfirmed subscriptions after 30 days and contacts idle for CRM_RETENTION_CONTACT_YEARS."""
    from crm.db import unit_of_work
    from crm.privacy import retention

    ctx = _context()
    now = dt.datetime.now(dt.UTC)
    with unit_of_work(ctx.session_factory) as session:
        result = retention.run(session, now=now, settings=ctx.settings, dry_run=dry_run)
        plan = result["plan"]
        if dry_run:
            for s in plan.subscriptions:
                click.echo(f"subscription #{s.id} {s.email} (unconfirmed since {s.created_at:%Y-%m-%d})")
            for c in plan.contacts:
                click.echo(f"contact #{c.id} {c.name} (unchanged since {c.updated_at:%Y-%m-%d})")
    verb = "Would anonymise" if dry_run else "Anonymised"
    click.echo(f"{verb} {result['subscriptions']} subscription(s) and {result['contacts']} contact(s).")


@click.group("report")
def report_group() -> None:
    """Impact reports."""


@report_group.command("impact")
@click.option("--from", "from_", default="", help="First day (YYYY-MM-DD); default: start of last month.")
@click.option("--to", "to", default="", help="Last day (YYYY-MM-DD); default: end of last month.")
@handles_config_errors
def report_impact(from_: str, to: str) -> None:
    """Print the impact summary as CSV."""
    from crm.dashboard import reports
    from crm.db import unit_of_work

    ctx = _context()
    now = dt.datetime.now(dt.UTC)
    period, errors = reports.parse_period(from_, to, now)
    if errors:
        _fail("; ".join(f"--{k}: {v}" for k, v in errors.items()))
    with unit_of_work(ctx.session_factory) as session:
        click.echo(reports.report_csv(reports.impact_report(session, period, now=now)), nl=False)


commands = [privacy_group, retention_group, report_group]
