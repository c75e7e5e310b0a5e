"""``crm subscribers …`` (export the list with consent dates, show counts) and ``crm outbox dispatch``."""

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


commands = [subscribers, outbox]
