"""The hand-off stores each row's own copy and subject, whatever the batch mixes, and on PostgreSQL hands the driver
no Python list to adapt element by element (the copies go as one bytea, the subjects as one array text)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, event, insert, select, text

from crm import models as m
from crm.db import array_text
from crm.mailing import claims
from crm.mailing.recording import Batch, DispatchStats
from crm.mailing.transports.base import OutgoingEmail
from tests.mailing.rows import queue_bulk

NOW = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
# Subjects an array literal must quote: commas, braces, quotes, backslashes, the word NULL, spaces at the ends.
TRICKY = ['a, "b" {c}', 'back\\slash \\\\ and \\"', "NULL", "  padded  ", "", "caf\u00e9 \u00b7 \u2603 {}"]


def _claimed(db, n: int) -> tuple[list, dt.datetime]:
    queue_bulk(db, n, "h", NOW, subject="queued subject {i}")
    rows = claims.claim(db, NOW, n)
    db.commit()
    return rows, NOW + claims.LEASE


def _email(row) -> OutgoingEmail:
    return OutgoingEmail(row.id, row.kind, row.recipient, "", row.subject, "t", "<p>h</p>", bulk=True)


def test_each_row_gets_its_own_copy_and_subject_and_rows_without_one_keep_theirs(db, app):
    rows, lease = _claimed(db, 9)
    # Every other row was rendered at dispatch (a copy), the rest were queued with their bodies (none).
    copied = {r.id: i for i, r in enumerate(rows) if i % 2 == 0}
    parts = {
        rid: (TRICKY[i % len(TRICKY)], f"text {i} " * (i * 50 + 1), f"<p>{i}</p>", {"X-N": str(i)})
        for rid, i in copied.items()
    }
    batch = Batch(DispatchStats(), [_email(r) for r in rows], {r.id: r.attempts for r in rows}, NOW, lease)
    batch.copies = [(subject, m.pack_sent(subject, t, h, hd), rid) for rid, (subject, t, h, hd) in parts.items()]
    claims.hand_off(app.state.session_factory, batch, NOW)
    assert [e.outbox_id for e in batch.to_send] == [r.id for r in rows]
    db.expire_all()
    stored = {o.id: o for o in db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.id.in_([r.id for r in rows])))}
    for i, r in enumerate(rows):
        row = stored[r.id]
        assert row.last_error == claims.HANDED
        if r.id in parts:
            subject, t, h, hd = parts[r.id]
            assert row.subject == subject
            assert row.parts == m.EmailParts(subject, t, h, hd)
        else:
            assert row.sent_copy is None and row.subject == f"queued subject {i}"


def test_a_batch_without_any_copy_is_handed_off(db, app):
    rows, lease = _claimed(db, 3)
    batch = Batch(DispatchStats(), [_email(r) for r in rows], {r.id: r.attempts for r in rows}, NOW, lease)
    claims.hand_off(app.state.session_factory, batch, NOW)
    db.expire_all()
    stored = db.execute(select(m.OutboxMessage.sent_copy, m.OutboxMessage.last_error)).all()
    assert stored == [(None, claims.HANDED)] * 3


def test_the_postgresql_hand_off_gives_the_driver_no_list_to_adapt(db, app):
    if db.get_bind().dialect.name != "postgresql":
        return
    rows, lease = _claimed(db, 4)
    batch = Batch(DispatchStats(), [_email(r) for r in rows], {r.id: r.attempts for r in rows}, NOW, lease)
    batch.copies = [(f"s{r.id}", m.pack_sent(f"s{r.id}", "t", "h", {}), r.id) for r in rows]
    seen: list[tuple] = []

    def params(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append(tuple(parameters))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", params)
    try:
        claims.hand_off(app.state.session_factory, batch, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", params)
    (sent,) = seen
    assert not [p for p in sent if isinstance(p, list | tuple)]
    db.expire_all()
    assert {r.id: db.get(m.OutboxMessage, r.id).parts.subject for r in rows} == {r.id: f"s{r.id}" for r in rows}


def test_array_text_is_read_back_as_the_same_strings(db):
    if db.get_bind().dialect.name != "postgresql":
        return
    values = [*TRICKY, None, "x"]
    back = db.execute(text("SELECT CAST(:a AS VARCHAR[])"), {"a": array_text(values)}).scalar_one()
    assert back == values


def test_ids_match_finds_values_an_array_literal_must_quote(db, app):
    # Addresses with quoted local parts carry what an array literal quotes: commas, braces, quotes, backslashes.
    addresses = ['"a,b"@example.org', '"x\\"y"@example.org', "{z}@example.org", "null", "plain@example.org"]
    db.execute(insert(m.Suppression), [{"address": a, "reason": f"r{i}"} for i, a in enumerate(addresses)])
    db.commit()
    with app.state.session_factory() as s:
        found = dict(
            s.execute(
                select(m.Suppression.address, m.Suppression.reason).where(
                    claims.ids_match(s, m.Suppression.address, [*addresses[:4], "other@example.org"], String())
                )
            ).all()
        )
        ids = s.scalars(select(m.Suppression.id).order_by(m.Suppression.id)).all()
        by_id = s.scalars(
            select(m.Suppression.address).where(claims.ids_match(s, m.Suppression.id, ids[-2:], Integer()))
        ).all()
    assert found == {a: f"r{i}" for i, a in enumerate(addresses[:4])}
    assert sorted(by_id) == sorted(addresses[-2:])


def test_light_rows_keep_every_claimed_value_by_name(db):
    rows, _lease = _claimed(db, 2)
    light = claims.light(rows)
    assert [r._asdict() for r in light] == [dict(r._mapping) for r in rows]
    assert light[0].recipient == rows[0].recipient and light[1].id == rows[1].id
