"""Indexes for the leaderboard's two selective counts: the verdicts given after a
machine streak, and the games cut short by a server restart.

Both are rare rows counted on every computation of the board; without these indexes
each count read the whole verdict table (and, for the restarts, the whole game table
too). The board's other queries add up every verdict, which a full scan does best.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('game', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_game_end_reason'), ['end_reason'], unique=False)
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verdict_after_machine_streak'),
                              ['after_machine_streak'], unique=False)


def downgrade():
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verdict_after_machine_streak'))
    with op.batch_alter_table('game', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_game_end_reason'))
