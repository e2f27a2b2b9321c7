"""coupon template names in English too

Revision ID: c7e2a9d41f08
Revises: b3051093ddc1
Create Date: 2026-12-07 10:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c7e2a9d41f08"
down_revision = "b3051093ddc1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("coupon_templates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_en", sa.String(length=120), server_default=sa.text("''"), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("coupon_templates", schema=None) as batch_op:
        batch_op.drop_column("name_en")
