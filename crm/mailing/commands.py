"""``crm subscribers …`` (export the list with consent dates, show counts), ``crm outbox dispatch`` and
``crm mail prune`` (drop old mail detail, keeping the summary)."""

from __future__ import annotations

import csv
import sys

import click
from sqlalchemy import func, select

from crm import models as m
from crm.cliutil import fail, handles_config_errors, runtime
from crm.db import unit_of_work


@click.group("subscribers")
def subscribers() -> None:
    """Mailing-list subscribers."""


@subscribers.command("export")
@click.option("--status", type=click.Choice([s.value for s in m.SubscriptionStatus]), default=None)
def export(status: str | None) -> None:
    """Write subscribers as CSV to standard output (email, name, organisation, status, mailings, dates)."""
    writer = csv.writer(sys.stdout)
    writer.writerow(
        [
            "email",
            "name",
            "organisation",
            "status",
            "mailings",
            "frequency",
            "consent_version",
            "created_at",
            "confirmed_at",
            "unsubscribed_at",
        ]
    )
    with unit_of_work(runtime().session_factory) as session:
        query = select(m.Subscription).order_by(m.Subscription.id)
        if status:
            query = query.where(m.Subscription.status == status)
        for sub in session.scalars(query.execution_options(yield_per=1000)):
            writer.writerow(
                [
                    sub.email,
                    sub.name,
                    sub.organisation_name,
                    sub.status.value,
                    " ".join(sub.mailings or []),
                    sub.frequency.value,
                    sub.consent_version,
                    sub.created_at.isoformat(),
                    sub.confirmed_at.isoformat() if sub.confirmed_at else "",
                    sub.unsubscribed_at.isoformat() if sub.unsubscribed_at else "",
                ]
            )


@subscribers.command("stats")
def stats() -> None:
    """Subscribers by status, and active suppressions by reason."""
    with unit_of_work(runtime().session_factory) as session:
        for status, count in session.execute(
            select(m.Subscription.status, func.count()).group_by(m.Subscription.status)
        ):
            click.echo(f"subscribers {status.value}: {count}")
        rows = session.execute(
            select(m.Suppression.reason, func.count())
            .where(m.Suppression.lifted_at.is_(None))
            .group_by(m.Suppression.reason)
        )
        for reason, count in rows:
            click.echo(f"suppressed ({reason}): {count}")


@click.group()
def outbox() -> None:
    """The mail outbox."""


@outbox.command("dispatch")
@handles_config_errors
def outbox_dispatch() -> None:
    """Send everything that is due, once, then exit."""
    from crm.mailing.dispatch import drain

    ctx = runtime()
    stats = drain(ctx.session_factory, ctx.transport, ctx.settings, renderers=ctx.extensions.deferred_renderers)
    click.echo(
        f"claimed {stats.claimed}, sent {stats.sent}, retry {stats.retried}, failed {stats.failed}, "
        f"suppressed {stats.suppressed}, ambiguous {stats.ambiguous}"
    )
    if stats.halted:
        fail("the mail provider refused our credentials; sending stopped")


@click.group("mail")
def mail() -> None:
    """Mail records: retention of their full text."""


@mail.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would be pruned; change nothing.")
@handles_config_errors
def mail_prune(dry_run: bool) -> None:
    """Drop the full text of emails older than CRM_MAIL_DETAIL_DAYS (bodies, stored copy, headers) and, from the
    digest ledger, the items closed that long, keeping each email's summary. Safe to stop and run again."""
    from crm.mailing import prune

    ctx = runtime()
    days = ctx.settings.mail_detail_days
    if dry_run:
        with unit_of_work(ctx.session_factory) as session:
            click.echo(prune.count(session, days).line())
        return

    def progress(stats: prune.PruneStats) -> None:
        click.echo(
            f"batch {stats.batches}: {stats.outbox_cleared} outbox rows cleared, "
            f"{stats.ledger_deleted} ledger items dropped",
            err=True,
        )

    click.echo(prune.prune(ctx.session_factory, days, progress=progress).line())


commands = [subscribers, outbox, mail]
