"""card-expiry notices; carrier, ship date and tracking numbers of shipments

Revision ID: notices_tracking
Revises: oneoff
Create Date: 2026-12-08 00:40:00

Adds tables and nullable columns only: shipments shipped before this revision keep no carrier
or tracking number, and the pages say so.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'notices_tracking'
down_revision = 'oneoff'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('card_expiry_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_method_id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('days_ahead', sa.Integer(), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('days_ahead > 0', name=op.f('ck_card_expiry_notices_days_ahead_positive')),
    sa.ForeignKeyConstraint(['payment_method_id'], ['payment_methods.id'], name=op.f('fk_card_expiry_notices_payment_method_id_payment_methods'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['profile_id'], ['autoship_profiles.id'], name=op.f('fk_card_expiry_notices_profile_id_autoship_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_expiry_notices')),
    sa.UniqueConstraint('payment_method_id', 'profile_id', 'days_ahead', name=op.f('uq_card_expiry_notices_payment_method_id_profile_id_days_ahead'))
    )
    op.create_index('ix_card_expiry_notices_profile_id', 'card_expiry_notices', ['profile_id'], unique=False)

    op.add_column('shipments', sa.Column('carrier', sa.String(length=40), nullable=True))
    op.add_column('shipments', sa.Column('shipped_on', sa.Date(), nullable=True))
    op.add_column('shipments', sa.Column('shipped_by_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_shipments_shipped_by_id_users'), 'shipments', 'users', ['shipped_by_id'], ['id'])

    op.create_table('tracking_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_tracking_numbers_shipment_id_shipments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_numbers')),
    sa.UniqueConstraint('number', name=op.f('uq_tracking_numbers_number'))
    )
    op.create_index('ix_tracking_numbers_shipment_id', 'tracking_numbers', ['shipment_id'], unique=False)


def downgrade():
    op.drop_index('ix_tracking_numbers_shipment_id', table_name='tracking_numbers')
    op.drop_table('tracking_numbers')
    op.drop_constraint(op.f('fk_shipments_shipped_by_id_users'), 'shipments', type_='foreignkey')
    op.drop_column('shipments', 'shipped_by_id')
    op.drop_column('shipments', 'shipped_on')
    op.drop_column('shipments', 'carrier')
    op.drop_index('ix_card_expiry_notices_profile_id', table_name='card_expiry_notices')
    op.drop_table('card_expiry_notices')
