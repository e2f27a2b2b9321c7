"""refund status: a refund through Stripe is requested, then succeeded or failed

Revision ID: a1c3e5f70921
Revises: 26aa1376b8b6
Create Date: 2026-12-06 16:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a1c3e5f70921'
down_revision = '26aa1376b8b6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('status', sa.String(length=16), server_default='succeeded', nullable=False)
        )
        batch_op.add_column(
            sa.Column('failure', sa.String(length=255), server_default='', nullable=False)
        )
        batch_op.create_index(batch_op.f('ix_refunds_status'), ['status'], unique=False)
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.alter_column('failure', server_default=None)


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_status'))
        batch_op.drop_column('failure')
        batch_op.drop_column('status')
