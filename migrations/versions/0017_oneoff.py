"""one-time lines: items added to a standing order's next shipment only

Revision ID: oneoff
Revises: refunds
Create Date: 2026-12-08 00:30:00

A new table; nothing existing changes. Its idempotency key is unique (one line per press of
the button), and a partial index on the pending lines serves the engine's chunk statement.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'oneoff'
down_revision = 'refunds'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('autoship_one_time_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('locked_price', sa.BigInteger(), nullable=True),
    sa.Column('locked_pv', sa.BigInteger(), nullable=True),
    sa.Column('locked_bv', sa.BigInteger(), nullable=True),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=80), nullable=False),
    sa.Column('added_by', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_autoship_one_time_lines_quantity_positive')),
    sa.CheckConstraint("unit_code IN ('each', 'case', 'lot')", name=op.f('ck_autoship_one_time_lines_unit_known')),
    sa.CheckConstraint("status IN ('pending', 'shipped', 'left_out', 'removed')", name=op.f('ck_autoship_one_time_lines_status_known')),
    sa.CheckConstraint("status <> 'shipped' OR order_id IS NOT NULL", name=op.f('ck_autoship_one_time_lines_shipped_has_order')),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_autoship_one_time_lines_added_by_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_autoship_one_time_lines_order_id_orders')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_autoship_one_time_lines_product_id_products')),
    sa.ForeignKeyConstraint(['profile_id'], ['autoship_profiles.id'], name=op.f('fk_autoship_one_time_lines_profile_id_autoship_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_autoship_one_time_lines')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_autoship_one_time_lines_idempotency_key'))
    )
    op.create_index('ix_autoship_one_time_lines_pending', 'autoship_one_time_lines', ['profile_id', 'id'],
                    unique=False, postgresql_where=sa.text("status = 'pending'"))


def downgrade():
    op.drop_index('ix_autoship_one_time_lines_pending', table_name='autoship_one_time_lines',
                  postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('autoship_one_time_lines')
