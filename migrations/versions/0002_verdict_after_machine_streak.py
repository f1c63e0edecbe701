"""Mark verdicts given after three machine games in a row (left out of pass rates).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode: SQLite cannot add a NOT NULL column in place.
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.add_column(sa.Column('after_machine_streak', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.drop_column('after_machine_streak')
