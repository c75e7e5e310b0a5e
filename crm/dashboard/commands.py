"""``crm report impact [--from DATE --to DATE]`` (the privacy and retention commands are in crm/privacy/commands.py)."""

from __future__ import annotations

import datetime as dt

import click

from crm.cliutil import fail, handles_config_errors, runtime


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

    ctx = runtime()
    now = dt.datetime.now(dt.UTC)
    period, errors = reports.parse_period(from_, to, now)
    if errors:
        fail("; ".join(f"--{k}: {v}" for k, v in errors.items()))
    with unit_of_work(ctx.session_factory) as session:
        click.echo(reports.report_csv(reports.impact_report(session, period, now=now)), nl=False)


commands = [report_group]
