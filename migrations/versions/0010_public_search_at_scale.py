"""public search at scale

Full-text search for the public internship and funding-call lists (docs/proof.md, "Fast public pages"), the same
way as the directory's (0002): LIKE '%word%' scanned a million rows for a rare word.

* SQLite: FTS5 external-content tables ``internships_fts`` (title, description) and ``funding_calls_fts``
  (title, search_text), each kept in step by three triggers and filled once with 'rebuild'.
* PostgreSQL: a stored generated ``search_fts`` tsvector column (title = A, the rest = B) with a GIN index. Not an
  expression index as for organisations (0002): with a million rows, a common word makes the planner walk the
  primary key backwards filtering on the vector, and an expression is recomputed for every row it passes
  (0.8 s for a word in 4% of 200,000 listings); a stored vector is read, not rebuilt.

Objects whose names contain ``_fts`` are ignored by the drift check (``crm.migrate.include_name``); the models do
not know the column (PostgreSQL fills it).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> indexed columns, most important first (weights A, B). Keep in step with crm.search.
INDEXES = {"internships": ("title", "description"), "funding_calls": ("title", "search_text")}


def pg_vector(columns: Sequence[str]) -> str:
    parts = [
        f"setweight(to_tsvector('english'::regconfig, coalesce({column}, '')), '{'AB'[min(i, 1)]}')"
        for i, column in enumerate(columns)
    ]
    return "(" + " || ".join(parts) + ")"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, columns in INDEXES.items():
        fts = f"{table}_fts"
        if dialect == "sqlite":
            cols = ", ".join(columns)
            new = ", ".join(f"new.{c}" for c in columns)
            old = ", ".join(f"old.{c}" for c in columns)
            op.execute(
                f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', content_rowid='id', "
                "tokenize='porter unicode61 remove_diacritics 2')"
            )
            insert_new = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
            delete_old = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
            op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN {insert_new} END")
            op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN {delete_old} END")
            op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {cols} ON {table} BEGIN {delete_old} {insert_new} END")
            op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
        elif dialect == "postgresql":
            vector = pg_vector(columns)
            op.execute(f"ALTER TABLE {table} ADD COLUMN search_fts tsvector GENERATED ALWAYS AS {vector} STORED")
            op.execute(f"CREATE INDEX ix_{fts} ON {table} USING gin (search_fts)")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in INDEXES:
        fts = f"{table}_fts"
        if dialect == "sqlite":
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
        elif dialect == "postgresql":
            op.execute(f"DROP INDEX IF EXISTS ix_{fts}")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_fts")
