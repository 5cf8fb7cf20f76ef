"""updated_at indexes (issue 18): the query engine fetches the flags and labels changed since its last copy

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:20:00
"""

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_flags_updated_at', 'flags', ['updated_at'])
    op.create_index('ix_labels_updated_at', 'labels', ['updated_at'])


def downgrade() -> None:
    op.drop_index('ix_labels_updated_at', table_name='labels')
    op.drop_index('ix_flags_updated_at', table_name='flags')
