"""volume and rank: person volumes per period, rank plan versions, adjustments, highest ranks

Revision ID: volume
Revises: 0011
Create Date: 2026-12-08 00:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'volume'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('highest_ranks',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.String(length=20), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_highest_ranks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_highest_ranks'))
    )
    op.create_table('person_volumes',
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('own_pv', sa.BigInteger(), nullable=False),
    sa.Column('pv', sa.BigInteger(), nullable=False),
    sa.Column('gv', sa.BigInteger(), nullable=False),
    sa.Column('rank', sa.String(length=20), nullable=True),
    sa.Column('frontline_legs', sa.Integer(), nullable=False),
    sa.Column('leg_of_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_person_volumes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('period', 'user_id', name=op.f('pk_person_volumes'))
    )
    with op.batch_alter_table('person_volumes', schema=None) as batch_op:
        batch_op.create_index('ix_person_volumes_leg_of', ['period', 'leg_of_id'], unique=False)
        batch_op.create_index('ix_person_volumes_user_id', ['user_id', 'period'], unique=False)

    op.create_table('rank_plan_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rank_plan_versions_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rank_plan_versions')),
    sa.UniqueConstraint('version', name=op.f('uq_rank_plan_versions_version'))
    )
    op.create_table('volume_periods',
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('plan_version_id', sa.Integer(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_volume_periods_status_known')),
    sa.CheckConstraint('extract(day from period) = 1', name=op.f('ck_volume_periods_first_of_month')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_volume_periods_closed_by_id_users')),
    sa.ForeignKeyConstraint(['plan_version_id'], ['rank_plan_versions.id'], name=op.f('fk_volume_periods_plan_version_id_rank_plan_versions')),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_volume_periods'))
    )
    op.create_table('order_refund_volumes',
    sa.Column('refund_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('pv', sa.BigInteger(), nullable=False),
    sa.Column('bv', sa.BigInteger(), nullable=False),
    sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_refund_volumes_order_id_orders')),
    sa.PrimaryKeyConstraint('refund_id', name=op.f('pk_order_refund_volumes'))
    )
    with op.batch_alter_table('order_refund_volumes', schema=None) as batch_op:
        batch_op.create_index('ix_order_refund_volumes_order_id', ['order_id'], unique=False)

    op.create_table('volume_adjustments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('refund_id', sa.String(length=64), nullable=False),
    sa.Column('pv', sa.BigInteger(), nullable=False),
    sa.Column('bv', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_volume_adjustments_order_id_orders')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_volume_adjustments_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_adjustments'))
    )
    with op.batch_alter_table('volume_adjustments', schema=None) as batch_op:
        batch_op.create_index('ix_volume_adjustments_period', ['period', 'user_id'], unique=False)
        batch_op.create_index('uq_volume_adjustments_order_refund', ['order_id', 'refund_id'], unique=True)

    # The period's orders are read by when they were paid.
    op.create_index('ix_orders_paid_at', 'orders', ['paid_at'], unique=False)


def downgrade():
    op.drop_index('ix_orders_paid_at', table_name='orders')
    with op.batch_alter_table('volume_adjustments', schema=None) as batch_op:
        batch_op.drop_index('uq_volume_adjustments_order_refund')
        batch_op.drop_index('ix_volume_adjustments_period')

    op.drop_table('volume_adjustments')
    with op.batch_alter_table('order_refund_volumes', schema=None) as batch_op:
        batch_op.drop_index('ix_order_refund_volumes_order_id')

    op.drop_table('order_refund_volumes')
    op.drop_table('volume_periods')
    op.drop_table('rank_plan_versions')
    with op.batch_alter_table('person_volumes', schema=None) as batch_op:
        batch_op.drop_index('ix_person_volumes_user_id')
        batch_op.drop_index('ix_person_volumes_leg_of')

    op.drop_table('person_volumes')
    op.drop_table('highest_ranks')
