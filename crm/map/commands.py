"""``crm map fill-regions [--dry-run]``: fill organisations' empty regions from their postcodes."""

from __future__ import annotations

import click

from crm.cliutil import handles_config_errors, runtime


@click.group("map")
def map_group() -> None:
    """The regional map's data."""


@map_group.command("fill-regions")
@click.option("--dry-run", is_flag=True, help="Count what would be filled; change nothing.")
@handles_config_errors
def fill_regions(dry_run: bool) -> None:
    """Give every organisation without a region the region its postcode lies in (by postcode area; see
    docs/map.md). Organisations that have a region are left alone. Prints a running count, then the totals."""
    from crm.db import unit_of_work
    from crm.map.regions_fill import FillResult
    from crm.map.regions_fill import fill_regions as fill

    def show(result: FillResult) -> None:
        click.echo(f"\rchecked {result.checked:,}, filled {result.filled:,}", nl=False, err=True)

    with unit_of_work(runtime().session_factory) as session:
        result = fill(session, apply=not dry_run, progress=show)
        if dry_run:
            session.rollback()
    click.echo("", err=True)
    verb = "would fill" if dry_run else "filled"
    click.echo(
        f"{result.checked} organisations without a region have a postcode: {verb} {result.filled}; "
        f"{result.no_region} have a postcode outside the UK's regions or an unknown area."
    )


commands = [map_group]
