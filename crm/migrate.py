"""Running Alembic from code (the CLI, ``make run`` and the test suite all build schemas this way)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from crm.settings import PROJECT_ROOT


def alembic_config(engine: Engine) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Hand-made search objects (SQLite FTS5 tables and their shadows, PostgreSQL tsvector columns and indexes) are
    named ``*_fts*`` and live only in migrations; autogenerate and the drift check ignore them."""
    return not (type_ in {"table", "index", "column"} and name and "_fts" in name)


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def pending_drift(engine: Engine) -> list[object]:
    """Differences between the models and the migrated schema (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from crm import models as m

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "render_as_batch": conn.dialect.name == "sqlite",
                "include_name": include_name,
            },
        )
        return list(compare_metadata(ctx, m.Base.metadata))
