"""embodiments (issue 15): robot embodiment specs and which spec each robot episode follows

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('embodiments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('clip_embodiments',
    sa.Column('clip_id', sa.String(length=64), nullable=False),
    sa.Column('embodiment', sa.String(length=128), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('clip_id')
    )
    with op.batch_alter_table('clip_embodiments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clip_embodiments_embodiment'), ['embodiment'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clip_embodiments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clip_embodiments_embodiment'))
    op.drop_table('clip_embodiments')
    op.drop_table('embodiments')
