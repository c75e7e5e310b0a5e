"""directory search and import

Full-text search over organisations' name and description (docs/directory.md, "Search"):

* SQLite: an FTS5 external-content table ``organisations_fts`` kept in step by three triggers.
* PostgreSQL: a GIN index on a weighted ``tsvector`` expression (name = A, description = B). The query in
  ``crm.search`` repeats the expression verbatim so the planner uses the index.

Objects whose names contain ``_fts`` are created by hand here and ignored by the drift check
(``crm.migrate.include_name``).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep identical to crm.search.ORGANISATIONS.pg_vector.
PG_VECTOR = (
    "(setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B'))"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE organisations_fts USING fts5("
            "name, description, content='organisations', content_rowid='id', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER organisations_fts_ai AFTER INSERT ON organisations BEGIN "
            "INSERT INTO organisations_fts(rowid, name, description) VALUES (new.id, new.name, new.description); END"
        )
        op.execute(
            "CREATE TRIGGER organisations_fts_ad AFTER DELETE ON organisations BEGIN "
            "INSERT INTO organisations_fts(organisations_fts, rowid, name, description) "
            "VALUES ('delete', old.id, old.name, old.description); END"
        )
        op.execute(
            "CREATE TRIGGER organisations_fts_au AFTER UPDATE OF name, description ON organisations BEGIN "
            "INSERT INTO organisations_fts(organisations_fts, rowid, name, description) "
            "VALUES ('delete', old.id, old.name, old.description); "
            "INSERT INTO organisations_fts(rowid, name, description) VALUES (new.id, new.name, new.description); END"
        )
        op.execute("INSERT INTO organisations_fts(organisations_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_organisations_fts ON organisations USING gin ({PG_VECTOR})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("organisations_fts_ai", "organisations_fts_ad", "organisations_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS organisations_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_organisations_fts")
