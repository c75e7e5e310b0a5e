"""``crm map refresh``: count the map's figures now; ``crm map fill-regions [--dry-run]``: fill organisations'
empty regions from their postcodes."""

from __future__ import annotations

import click

from crm.cliutil import fail, handles_config_errors, runtime


@click.group("map")
def map_group() -> None:
    """The regional map's data."""


@map_group.command("refresh")
@click.option(
    "--measure",
    "measures",
    multiple=True,
    metavar="NAME",
    help="Count only this stored measure (repeat for more): organisations-public, organisations-admin, calls, "
    "internships, events, partnerships, subscribers. Default: all of them.",
)
@handles_config_errors
def refresh(measures: tuple[str, ...]) -> None:
    """Count the regional map's figures now and store them (the worker does this every few minutes; run it after
    a bulk import or a big change to show it at once). Open funding calls and internships and upcoming events are
    counted as of now. Prints a line per measure as it is counted, then the total."""
    import datetime as dt
    import time

    from crm.db import unit_of_work
    from crm.map import tally
    from crm.map.counting import TALLIES

    unknown = [name for name in measures if name not in TALLIES]
    if unknown:
        fail(f"No such measure: {', '.join(unknown)}. Choose from: {', '.join(TALLIES)}.")
    wanted = list(dict.fromkeys(measures)) or list(TALLIES)

    def show(counted: tally.Counted) -> None:
        done.append(counted)
        click.echo(
            f"[{len(done)}/{len(wanted)}] {counted.measure}: {counted.rows:,} figures in {counted.seconds:.1f} s",
            err=True,
        )

    done: list[tally.Counted] = []
    started = time.perf_counter()
    with unit_of_work(runtime().session_factory) as session:
        tally.refresh(session, now=dt.datetime.now(dt.UTC), measures=wanted, progress=show)
    click.echo(
        f"Counted {len(done)} measure{'s' if len(done) != 1 else ''} ({sum(c.rows for c in done):,} figures) "
        f"in {time.perf_counter() - started:.1f} s; the map shows them now."
    )


@map_group.command("fill-regions")
@click.option("--dry-run", is_flag=True, help="Count what would be filled; change nothing.")
@handles_config_errors
def fill_regions(dry_run: bool) -> None:
    """Give every organisation without a region the region its postcode lies in (by postcode area; see
    docs/map.md). Organisations that have a region are left alone. Prints a running count, then the totals (or a
    sentence saying there is nothing to fill); the map's figures for organisations, events and partnerships are
    counted again at once."""
    import datetime as dt

    from crm.db import unit_of_work
    from crm.map.counting import PLACED_BY_ORGANISATIONS
    from crm.map.regions_fill import FillResult
    from crm.map.regions_fill import fill_regions as fill
    from crm.map.tally import refresh as recount

    shown = False

    def show(result: FillResult) -> None:
        nonlocal shown
        shown = True
        click.echo(f"\rchecked {result.checked:,}, filled {result.filled:,}", nl=False, err=True)

    with unit_of_work(runtime().session_factory) as session:
        result = fill(session, apply=not dry_run, progress=show)
        if dry_run:
            session.rollback()
        elif result.filled:
            # What an organisation's region places (organisations, their events and partnerships) is counted again
            # at once, so the map shows the filled regions now; these counts are small.
            recount(session, now=dt.datetime.now(dt.UTC), measures=PLACED_BY_ORGANISATIONS)
    if shown:  # ends the running count's line; with nothing checked there is none, and an empty line said nothing
        click.echo("", err=True)
    if not result.checked:
        click.echo("No organisation without a region has a postcode to read one from: nothing to fill.")
        return
    verb = "would fill" if dry_run else "filled"
    click.echo(
        f"{result.checked} organisations without a region have a postcode: {verb} {result.filled}; "
        f"{result.no_region} have a postcode outside the UK's regions or an unknown area."
    )


commands = [map_group]
