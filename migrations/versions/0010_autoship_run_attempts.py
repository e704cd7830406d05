"""a run's record is history: one row per attempt, chunks numbered on across attempts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 19:00:00

Existing data: each run gets one attempt row, numbered as its latest attempt and holding what
the run row says now; its chunks belong to that attempt. What earlier attempts did was wiped by
the re-runs before this change and cannot be recovered.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('autoship_run_attempts',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due', sa.Integer(), nullable=False),
    sa.Column('resumed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['autoship_runs.id'], name=op.f('fk_autoship_run_attempts_run_id_autoship_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'number', name=op.f('pk_autoship_run_attempts'))
    )
    with op.batch_alter_table('autoship_run_chunks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt', sa.Integer(), server_default=sa.text('1'), nullable=False))
    op.execute("""
        INSERT INTO autoship_run_attempts (run_id, number, trigger, started_at, due, resumed)
        SELECT id, attempts, trigger, started_at, due, resumed FROM autoship_runs
    """)
    op.execute("""
        UPDATE autoship_run_chunks SET attempt = (
            SELECT attempts FROM autoship_runs WHERE autoship_runs.id = autoship_run_chunks.run_id)
    """)


def downgrade():
    with op.batch_alter_table('autoship_run_chunks', schema=None) as batch_op:
        batch_op.drop_column('attempt')
    op.drop_table('autoship_run_attempts')
