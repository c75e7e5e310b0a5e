"""The PostgreSQL engine's connection settings (crm.db.create_db_engine)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crm.db import create_db_engine
from crm.settings import Settings


def show_jit(settings: Settings) -> str:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only setting (SQLite has no JIT)")
    engine = create_db_engine(settings)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW jit")).scalar())
    finally:
        engine.dispose()


def test_postgresql_connections_run_without_jit(settings):
    """JIT compilation cost the digest batch query 0.5-1.9 s per 1,000 subscribers for an 80 ms execution."""
    assert show_jit(settings) == "off"


def test_a_url_with_its_own_options_keeps_them(settings):
    url = settings.database_url + ("&" if "?" in settings.database_url else "?") + "options=-c%20jit%3Don"
    assert show_jit(settings.replace(database_url=url)) == "on"


def test_jsonb_values_decode_with_msgspec_to_the_same_values(settings):
    """The dispatcher reads a JSONB context per digest claimed: decoded by msgspec, with the standard library's
    results (nested values, unicode, numbers, null)."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("a psycopg loader (SQLite's JSON is text, decoded by the caller)")
    import json

    import msgspec

    value = {"sections": [["calls_new", [1, 2]], ["events", []]], "name": "Zoë “café” \u2028", "n": 1.5, "x": None}
    engine = create_db_engine(settings)
    try:
        assert engine.dialect._json_deserializer is msgspec.json.decode
        with engine.connect() as conn:
            got = conn.exec_driver_sql("SELECT CAST(%s AS JSONB)", (json.dumps(value),)).scalar()
    finally:
        engine.dispose()
    assert got == value
