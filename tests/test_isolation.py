"""The per-test clean-up (tests/isolation.py): what any test wrote is gone before the next one, and nothing else
is touched."""

from __future__ import annotations

from sqlalchemy import func, select

from crm import models as m


def _org(name: str) -> m.Organisation:
    return m.Organisation(name=name, name_normalised=name.lower(), slug=name.lower(), kind=m.OrgKind.VCSE)


def _state(db) -> tuple[int, list[tuple[int, str]], list[tuple[int, str]]]:
    db.rollback()
    return (
        db.scalar(select(func.count()).select_from(m.Organisation)),
        [tuple(r) for r in db.execute(select(m.Topic.id, m.Topic.name).order_by(m.Topic.id))],
        [tuple(r) for r in db.execute(select(m.Region.id, m.Region.code).order_by(m.Region.id))],
    )


def test_reset_empties_what_was_written_and_restores_reference_data(database, db):
    clean = _state(db)
    assert clean[0] == 0 and clean[1] and clean[2]
    db.scalar(select(m.Topic).order_by(m.Topic.id).limit(1)).name = "Renamed by a test"
    db.add(_org("Written through the ORM"))
    db.commit()
    # Written behind SQLAlchemy's back (as a subprocess would): found by the probe, not the statement listener.
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("INSERT INTO topics (name, slug, description) VALUES ('Raw topic', 'raw-topic', '')")
        cursor.execute(
            "INSERT INTO contact_lists (name, description, created_at, updated_at) "
            "VALUES ('Raw list', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
        raw.commit()
    finally:
        raw.close()
    assert _state(db)[0] == 1 and len(_state(db)[1]) == len(clean[1]) + 1

    database.isolation.reset()

    assert _state(db) == clean  # same reference rows with the same ids, nothing else
    assert db.scalar(select(func.count()).select_from(m.ContactList)) == 0
    db.add(_org("First after the reset"))
    db.commit()
    assert db.scalar(select(m.Organisation.id)) == 1  # ids restart, as TRUNCATE ... RESTART IDENTITY did


def test_a_reset_after_nothing_was_written_is_one_statement(database, db, count_queries):
    database.isolation.reset()  # whatever ran before this test
    with count_queries(database.engine) as q:
        database.isolation.reset()
    assert q.count == 1
