"""``crm imports list`` and ``crm imports undo BATCH``: the import batches from the command line (the same as
/admin/imports), so an import run with ``crm import organisations`` or ``crm funding import`` can be undone there too.
"""

from __future__ import annotations

import datetime as dt

import click

from crm.cliutil import fail, handles_config_errors, runtime


@click.group("imports")
def imports_group() -> None:
    """Import batches: list them, undo one (within 30 days)."""


@imports_group.command("list")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    # A negative LIMIT listed every import on SQLite and was a traceback on PostgreSQL (as is one past a bigint).
    type=click.IntRange(min=1, max=1_000_000),
    help="How many of the newest imports to list.",
)
@handles_config_errors
def list_batches(limit: int) -> None:
    """The newest imports: number, when, who, file, created/updated/unchanged records, rows with errors."""
    from crm.imports import batches

    with runtime().session_factory() as session:
        shown = batches.recent(session, limit)
        if not shown:
            click.echo("No imports yet. Import a file with `crm import organisations` or `crm funding import`.")
        for b in shown:
            state = f" (undone {b.undone_at:%Y-%m-%d %H:%M} UTC)" if b.undone_at else ""
            click.echo(
                f"#{b.id} {b.created_at:%Y-%m-%d %H:%M} UTC {b.actor} {b.kind} {b.filename!r}: {b.created} created, "
                f"{b.updated} updated, {b.unchanged} unchanged, {b.errors} rows with errors{state}"
            )


@imports_group.command("undo")
@click.argument("batch_id", type=int)
@handles_config_errors
def undo_batch(batch_id: int) -> None:
    """Undo import BATCH_ID: changed fields go back (unless edited since), created records go (unless something now
    refers to them). Prints what it kept and left."""
    from crm.db import unit_of_work
    from crm.imports import undo

    rt = runtime()
    with unit_of_work(rt.session_factory) as session:
        try:
            result = undo.undo(session, None, batch_id, rt.extensions, now=dt.datetime.now(dt.UTC))
        except undo.UndoRefused as exc:
            fail(exc.errors["batch"])
    for line in result.kept + result.left:
        click.echo(f"note: {line}", err=True)
    click.echo(result.summary())


commands = [imports_group]
