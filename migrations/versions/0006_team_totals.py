"""stored cycle PV per standing order and indexes for the team views

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 16:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('autoship_profiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cycle_pv', sa.BigInteger(), nullable=True))
    _backfill_cycle_pv()
    with op.batch_alter_table('autoship_profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_autoship_profiles_user_id')
        batch_op.create_index('ix_autoship_profiles_user_id_status',
                              ['user_id', 'status', 'next_run_date', 'cycle_pv', 'rrule',
                               'anchor_date', 'regularity'], unique=False)
    # The id lets a downline join read only this index.
    op.drop_index('ix_users_downline', table_name='users')
    op.create_index('ix_users_downline', 'users', ['tree_path', 'depth', 'role'], unique=False,
                    postgresql_include=['id'])


def _backfill_cycle_pv():
    """The definition of portal.autoship.volume.cycle_pv_of as of this revision, frozen here."""
    op.execute(sa.text("""
        UPDATE autoship_profiles SET cycle_pv = (
            SELECT SUM(CASE WHEN autoship_profiles.price_policy = 'locked' AND i.locked_pv IS NOT NULL
                            THEN i.locked_pv ELSE u.pv END * i.quantity)
            FROM autoship_items i
            JOIN products pr ON pr.id = i.product_id AND pr.active
            JOIN product_units u ON u.product_id = i.product_id AND u.code = i.unit_code AND u.active
            WHERE i.profile_id = autoship_profiles.id)
    """))


def downgrade():
    op.drop_index('ix_users_downline', table_name='users')
    op.create_index('ix_users_downline', 'users', ['tree_path', 'depth', 'role'], unique=False)
    with op.batch_alter_table('autoship_profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_autoship_profiles_user_id_status')
        batch_op.create_index('ix_autoship_profiles_user_id', ['user_id'], unique=False)
        batch_op.drop_column('cycle_pv')
