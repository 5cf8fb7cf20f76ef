"""flag embodiment: the robot hand a retargeting-quality flag is about (issue 14)

A rule on retargeting quality is checked per embodiment (a 6-DoF hand's residual must never flag
a clip for the 22-DoF hand), so its flags say which embodiment they mean. NULL for every other
flag, and for flags written before this migration.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embodiment', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_column('embodiment')
