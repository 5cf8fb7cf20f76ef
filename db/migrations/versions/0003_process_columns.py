"""process columns: host and process start time on jobs, runs and exports (and pid on exports)

Who runs a row was kept in its JSON (jobs.params, runs.config, exports.manifest); db/jobs.py now
reads columns, and guards against pid reuse with the process start time. Rows written before this
migration get their pid and host copied from the JSON; their start time stays unknown (NULL), so
they are judged by pid alone, as they were.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# table -> the JSON column that held the owner's host (and, for exports, pid)
OWNER_JSON = {'jobs': 'params', 'runs': 'config', 'exports': 'manifest'}


def upgrade() -> None:
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
    for table in OWNER_JSON:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))
            batch_op.add_column(sa.Column('pid_start', sa.String(length=64), nullable=True))
    _copy_owners()


def _copy_owners() -> None:
    """pid and host of rows written before: read from their JSON, in Python (one code path for every backend)."""
    conn = op.get_bind()
    for name, json_name in OWNER_JSON.items():
        table = sa.table(name, sa.column('id', sa.Integer()), sa.column(json_name, sa.JSON()),
                         sa.column('host', sa.String()), sa.column('pid', sa.Integer()))
        for row_id, owner in conn.execute(sa.select(table.c.id, table.c[json_name])).all():
            if not isinstance(owner, dict) or not owner.get('host'):
                continue
            values = {'host': str(owner['host'])}
            if name == 'exports' and isinstance(owner.get('pid'), int):
                values['pid'] = owner['pid']
            conn.execute(sa.update(table).where(table.c.id == row_id).values(**values))


def downgrade() -> None:
    for table in OWNER_JSON:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('pid_start')
            batch_op.drop_column('host')
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.drop_column('pid')
