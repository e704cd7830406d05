"""drop the autoship_due working table of the engine's former SQLite path

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 19:00:00

The autoship engine builds a chunk's orders in set-based statements that read the due profiles
directly; the table it once filled row by row, inside a chunk's transaction, holds nothing
between transactions, so dropping it loses no data.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('autoship_due')


def downgrade():
    op.create_table('autoship_due',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('chunk', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('next_date', sa.Date(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('run_id', 'profile_id', name=op.f('pk_autoship_due'))
    )
