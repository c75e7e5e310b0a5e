"""``crm digests run --period 2026-W48 [--dry-run]`` and ``crm digests preview EMAIL``."""

from __future__ import annotations

import sys

import click

from crm.cliutil import fail, handles_config_errors, runtime


@click.group("digests")
def digests_group() -> None:
    """Personalised digests: run a period by hand, preview a subscriber's next digest."""


@digests_group.command("run")
@click.option("--period", "period_key", required=True, help="ISO week (2026-W48) or month (2026-12).")
@click.option("--dry-run", is_flag=True, help="Select and count, queue nothing.")
@click.option("--batch-size", default=1000, show_default=True, type=int, hidden=True)
@handles_config_errors
def run_cmd(period_key: str, dry_run: bool, batch_size: int) -> None:
    """Queue one period's digests (each subscription at most once per period; safe to repeat).

    Plans the period's run (or joins its unfinished one) and builds every shard no other worker holds."""
    from sqlalchemy import func, select

    from crm import models as m
    from crm.digests import engine
    from crm.digests.periods import PeriodError, parse

    try:
        period = parse(period_key)
    except PeriodError as exc:
        fail(str(exc))
        return
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    if period.due_at > now:
        click.echo(
            f"Note: {period.key} is due {period.due_at:%Y-%m-%d %H:%M} UTC; running it now includes items published "
            "until now, and its subscribers will not get it again when it falls due."
        )
    ctx = runtime()
    with ctx.session_factory() as session:
        total = session.scalar(
            select(func.count(m.Subscription.id)).where(
                m.Subscription.status == m.SubscriptionStatus.ACTIVE, m.Subscription.frequency == period.frequency
            )
        )
    label = f"{'Dry run: ' if dry_run else ''}{period.key} ({period.frequency})"
    with click.progressbar(length=total or 0, label=label, file=sys.stderr) as bar:
        stats = engine.run_period(
            ctx.session_factory,
            ctx.settings,
            period,
            dry_run=dry_run,
            trigger="manual",
            batch_size=batch_size,
            progress=bar.update,
        )
    click.echo(stats.line())
    if stats.resumed_after:
        click.echo(f"(resumed after subscription {stats.resumed_after}: earlier subscriptions were already done)")
    if not dry_run and stats.run_id is not None:
        from crm.digests import services

        with ctx.session_factory() as session:
            progress = services.shard_progress(session, [stats.run_id]).get(stats.run_id)
        if progress is not None and progress.done < progress.total:
            click.echo(
                f"run {stats.run_id}: {progress.done} of {progress.total} shards done; the others are being built by "
                "other workers (see /admin/digests)"
            )
    for sub_id, error in stats.errors[:20]:
        click.echo(f"  subscription {sub_id}: {error}")


@digests_group.command("preview")
@click.argument("email")
@click.option("--html", "show_html", is_flag=True, help="Print the HTML part instead of the text part.")
@handles_config_errors
def preview_cmd(email: str, show_html: bool) -> None:
    """Print the next digest of the subscriber with this address (nothing is sent or recorded)."""
    from sqlalchemy import select

    from crm import models as m
    from crm.digests import services

    ctx = runtime()
    with ctx.session_factory() as session:
        sub_id = session.scalar(select(m.Subscription.id).where(m.Subscription.email == email.strip().lower()))
        if sub_id is None:
            fail(f"no subscription for {email}")
            return
        result = services.preview(session, ctx.settings, sub_id)
    if result is None or result.rendered is None:
        click.echo(result.reason if result else "nothing to preview")
        return
    click.echo(f"Subject: {result.rendered.subject}\n")
    click.echo(result.rendered.html if show_html else result.rendered.text)


commands = [digests_group]
