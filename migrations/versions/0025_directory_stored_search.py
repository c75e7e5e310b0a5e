"""directory stored search

The directory's search on PostgreSQL reads a stored generated ``search_fts`` tsvector column with a GIN index, as the
large tables have since 0010, instead of the weighted expression index of 0002. Right after a seed or an import
(no statistics yet) the planner chose a nested loop that rebuilt the expression for every organisation it passed:
3.1-3.9 s for one search of 20,000 organisations (issue 21, bench/pg_search.py). A stored vector is read, not
rebuilt. SQLite keeps its FTS5 table (0002): nothing changes there.

Objects whose names contain ``_fts`` are ignored by the drift check (``crm.migrate.include_name``); the model does
not know the column (PostgreSQL fills it).

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep identical to crm.search.ORGANISATIONS.pg_vector (and 0002's PG_VECTOR, which the downgrade restores).
PG_VECTOR = (
    "(setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B'))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_organisations_fts")
    op.execute(f"ALTER TABLE organisations ADD COLUMN search_fts tsvector GENERATED ALWAYS AS {PG_VECTOR} STORED")
    op.execute("CREATE INDEX ix_organisations_fts ON organisations USING gin (search_fts)")
    op.execute("ANALYZE organisations")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_organisations_fts")
    op.execute("ALTER TABLE organisations DROP COLUMN IF EXISTS search_fts")
    op.execute(f"CREATE INDEX ix_organisations_fts ON organisations USING gin ({PG_VECTOR})")
