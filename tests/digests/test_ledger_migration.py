"""Migration 0030: the per-item delivery ledger becomes a row per digest with its items, and back, losing nothing."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text

from crm import models as m
from crm.digests import ledger
from crm.migrate import alembic_config, pending_drift, upgrade
from tests.conftest import _postgres_admin_url

ITEMS = [  # (subscription, kind, item id, period, run, sent at), in id order
    (1, "call", 10, "2026-W10", 7, "2026-03-02 09:00:00"),
    (1, "event", 20, "2026-W10", 7, "2026-03-02 09:00:01"),
    (1, "call_closing", 10, "2026-W10", 7, "2026-03-02 09:00:02"),
    (2, "news", 30, "2026-W10", 7, "2026-03-02 09:00:03"),
    (1, "internship", 40, "2026-W11", None, "2026-03-09 09:00:00"),
]


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
        yield eng
        eng.dispose()
        return
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL not available")
    name = f"crm_ledger_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = create_engine(admin.url.set(database=name))
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _to(engine: Engine, revision: str, *, down: bool = False) -> None:
    if not down:
        upgrade(engine, revision)
        return
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_ledger_rows_are_grouped_per_digest_and_split_back(engine: Engine) -> None:
    _to(engine, "0029")
    with engine.begin() as conn:
        conn.execute(
            m.Subscription.__table__.insert(),
            [{"id": sid, "email": f"reader{sid}@example.org", "status": "active"} for sid in (1, 2)],
        )
        for sid, kind, item_id, period, run_id, sent_at in ITEMS:
            conn.execute(
                text(
                    "INSERT INTO digest_deliveries (subscription_id, item_kind, item_id, period, run_id, sent_at) "
                    "VALUES (:s, :k, :i, :p, :r, :t)"
                ),
                {"s": sid, "k": kind, "i": item_id, "p": period, "r": run_id, "t": sent_at},
            )

    _to(engine, "head")  # through 0030, and whatever follows it
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT subscription_id, period, run_id, items FROM digest_deliveries ORDER BY id")
        ).all()
    assert [(s, p, r, sorted(ledger.parse_items(items))) for s, p, r, items in rows] == [
        (1, "2026-W10", 7, [("call", 10), ("call_closing", 10), ("event", 20)]),
        (2, "2026-W10", 7, [("news", 30)]),
        (1, "2026-W11", None, [("internship", 40)]),
    ]
    assert pending_drift(engine) == []
    with engine.begin() as conn, pytest.raises(Exception, match=r"(?i)unique"):
        conn.execute(
            text(
                "INSERT INTO digest_deliveries (subscription_id, period, items, sent_at) "
                "VALUES (1, '2026-W10', 'call:99', '2026-03-02')"
            )
        )

    _to(engine, "0029", down=True)
    with engine.connect() as conn:
        back = conn.execute(
            text(
                "SELECT subscription_id, item_kind, item_id, period, run_id FROM digest_deliveries "
                "ORDER BY subscription_id, period, item_kind"
            )
        ).all()
    assert sorted(tuple(r) for r in back) == sorted((s, k, i, p, r) for s, k, i, p, r, _ in ITEMS)
