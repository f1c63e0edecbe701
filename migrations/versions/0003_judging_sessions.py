"""Judging sessions: an organiser's private Turing test, its participants, its games.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('judging_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('game_seconds', sa.Float(), nullable=False),
    sa.Column('bot_share', sa.Float(), nullable=False),
    sa.Column('machines', sa.Text(), nullable=False),
    sa.Column('min_games', sa.Integer(), nullable=False),
    sa.Column('max_games', sa.Integer(), nullable=False),
    sa.Column('allow_judges', sa.Boolean(), nullable=False),
    sa.Column('allow_witnesses', sa.Boolean(), nullable=False),
    sa.Column('results_early', sa.Boolean(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('bot_share between 0 and 1', name=op.f('ck_judging_session_bot_share')),
    sa.CheckConstraint('min_games >= 0 and max_games >= min_games',
                       name=op.f('ck_judging_session_games_per_judge')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_judging_session')),
    sa.UniqueConstraint('code', name=op.f('uq_judging_session_code'))
    )
    op.create_table('participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('player_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("role in ('judge', 'witness')", name=op.f('ck_participant_role')),
    sa.ForeignKeyConstraint(['player_id'], ['player.id'], name=op.f('fk_participant_player_id_player')),
    sa.ForeignKeyConstraint(['session_id'], ['judging_session.id'],
                            name=op.f('fk_participant_session_id_judging_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant')),
    sa.UniqueConstraint('session_id', 'player_id', name=op.f('uq_participant_one_role_per_session'))
    )
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participant_player_id'), ['player_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_participant_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('game', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_game_session_id'), ['session_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_game_session_id_judging_session'),
                                    'judging_session', ['session_id'], ['id'])


def downgrade():
    with op.batch_alter_table('game', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_game_session_id_judging_session'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_game_session_id'))
        batch_op.drop_column('session_id')
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participant_session_id'))
        batch_op.drop_index(batch_op.f('ix_participant_player_id'))
    op.drop_table('participant')
    op.drop_table('judging_session')
