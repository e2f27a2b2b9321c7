"""commission entries: no kind or bucket index, payout index on payout entries only

Settlement writes a ledger row per line it settles, and each index costs on every row. No
query needs the kind or bucket index (three and four values; the planner scans or takes the
line, order or sharer index), and only payout entries have a payout_id.

Revision ID: f35e6eed2951
Revises: 91b6ab0fbd2b
Create Date: 2026-11-23 01:07:37.392859

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f35e6eed2951'
down_revision = '91b6ab0fbd2b'
branch_labels = None
depends_on = None

PAYOUT_ENTRIES = sa.text("payout_id IS NOT NULL")


def upgrade():
    with op.batch_alter_table('commission_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commission_entries_bucket'))
        batch_op.drop_index(batch_op.f('ix_commission_entries_kind'))
        batch_op.drop_index(batch_op.f('ix_commission_entries_payout_id'))
        batch_op.create_index(
            batch_op.f('ix_commission_entries_payout_id'),
            ['payout_id'],
            unique=False,
            postgresql_where=PAYOUT_ENTRIES,
            sqlite_where=PAYOUT_ENTRIES,
        )


def downgrade():
    with op.batch_alter_table('commission_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commission_entries_payout_id'))
        batch_op.create_index(batch_op.f('ix_commission_entries_payout_id'), ['payout_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commission_entries_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_commission_entries_bucket'), ['bucket'], unique=False)
