"""``crm partnerships nudge``: the weekly partnership email, run once now."""

from __future__ import annotations

import click

from crm.cliutil import handles_config_errors, runtime


@click.group("partnerships")
def partnerships_group() -> None:
    """Partnership records."""


@partnerships_group.command("nudge")
@handles_config_errors
def nudge() -> None:
    """Queue this week's partnership nudge email now (the weekly job; at most once per ISO week)."""
    from crm.partnerships.jobs import weekly_nudge

    queued = weekly_nudge(runtime())
    click.echo(f"queued {queued} email(s)" if queued else "nothing to report, or already sent this week")


commands = [partnerships_group]
