"""digest ledger: one row per digest, holding its items

``digest_deliveries`` had a row per item sent (subscription × kind × item): ~8 rows a digest, each with a
foreign-key check and three index entries. At a million digests that was the largest share of PostgreSQL's work in
a run (docs/scale.md). Now a row per digest (subscription × period, unique) holds its items as ``kind:id,…`` text
(``crm.digests.ledger``). Existing rows are grouped into the new shape; downgrading splits them again.
Measured on PostgreSQL (bench/digests_workers.py's million): 7,933,867 item rows became 1,000,000 rows in 20 s
(1,108 MB → 225 MB with indexes); the way back took 125 s. The table is locked meanwhile, so run it, as every
migration, before the workers start.

Revision ID: 0030
Revises: 0029
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.models.base

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "digest_deliveries_by_item"


def _set_aside(table: str, unique: str) -> None:
    """Rename ``digest_deliveries`` out of the way with its schema-wide names (PostgreSQL's index, constraint and
    sequence names; SQLite's index names), so the new table can take them."""
    op.drop_index("ix_digest_deliveries_period_subscription", table_name="digest_deliveries")
    op.rename_table("digest_deliveries", table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT pk_digest_deliveries TO pk_{table}")
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {unique} TO {unique}_old")
        op.execute(f"ALTER SEQUENCE digest_deliveries_id_seq RENAME TO {table}_id_seq")


def _create(columns: list[sa.Column], unique: sa.UniqueConstraint) -> None:
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        *columns,
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", crm.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_digest_deliveries_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_deliveries")),
        unique,
    )
    op.create_index("ix_digest_deliveries_period_subscription", "digest_deliveries", ["period", "subscription_id"])


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _set_aside(OLD, "uq_digest_deliveries_item")
    _create(
        [sa.Column("items", sa.Text(), nullable=False)],
        sa.UniqueConstraint("subscription_id", "period", name="uq_digest_deliveries_subscription_period"),
    )
    item = "item_kind || ':' || CAST(item_id AS TEXT)"
    items = f"string_agg({item}, ',' ORDER BY id)" if postgresql else f"group_concat({item}, ',')"
    op.execute(
        "INSERT INTO digest_deliveries (subscription_id, period, run_id, items, sent_at) "
        f"SELECT subscription_id, period, MAX(run_id), {items}, MIN(sent_at) FROM (SELECT * FROM {OLD} ORDER BY id) "
        "AS o GROUP BY subscription_id, period ORDER BY MIN(id)"
    )
    op.drop_table(OLD)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    aside = "digest_deliveries_by_digest"
    _set_aside(aside, "uq_digest_deliveries_subscription_period")
    _create(
        [
            sa.Column("item_kind", sa.String(length=20), nullable=False),
            sa.Column("item_id", sa.Integer(), nullable=False),
        ],
        sa.UniqueConstraint("subscription_id", "item_kind", "item_id", name="uq_digest_deliveries_item"),
    )
    if postgresql:
        split = (
            f"SELECT d.subscription_id, split_part(p.part, ':', 1), CAST(split_part(p.part, ':', 2) AS INTEGER), "
            f"d.period, d.run_id, d.sent_at FROM {aside} d "
            "CROSS JOIN LATERAL unnest(string_to_array(d.items, ',')) WITH ORDINALITY AS p(part, n) "
            "WHERE p.part LIKE '%:%' ORDER BY d.id, p.n"
        )
    else:
        part = "j.value"
        split = (
            f"SELECT d.subscription_id, substr({part}, 1, instr({part}, ':') - 1), "
            f"CAST(substr({part}, instr({part}, ':') + 1) AS INTEGER), d.period, d.run_id, d.sent_at "
            f"FROM {aside} d, json_each('[\"' || replace(d.items, ',', '\",\"') || '\"]') j "
            f"WHERE instr({part}, ':') > 0 ORDER BY d.id, j.key"
        )
    op.execute(
        "INSERT INTO digest_deliveries (subscription_id, item_kind, item_id, period, run_id, sent_at) "
        f"{split} ON CONFLICT DO NOTHING"
    )
    op.drop_table(aside)
