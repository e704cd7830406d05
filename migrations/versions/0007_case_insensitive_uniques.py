"""e-mail addresses and live address monikers unique whatever their case

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:00:00

Existing data:
- Two accounts whose e-mail addresses differ only in case stop the upgrade, with a message
  listing them: which one is the real account (orders, downline, wallet) is for a person to
  decide. Change or merge them, then run the upgrade again.
- Two live addresses of one person whose monikers differ only in case ("Home", "HOME"): the
  oldest keeps its moniker, the others get a suffix ("HOME (2)"). A moniker is only a label
  (orders keep their own copy), so this loses nothing; each rename is logged.
- Archived addresses are outside the index and keep their monikers.
"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')

MONIKER_LENGTH = 40  # addresses.moniker is VARCHAR(40)
LISTED = 50  # duplicates named in the refusal; the count says how many more there are


def upgrade():
    _refuse_case_twins_of_emails()
    _rename_case_twins_of_live_monikers()
    op.create_index('uq_users_lower_email', 'users', [sa.text('lower(email)')], unique=True)
    op.drop_index('uq_addresses_user_moniker_live', table_name='addresses')
    op.create_index('uq_addresses_user_lower_moniker_live', 'addresses',
                    ['user_id', sa.text('lower(moniker)')], unique=True,
                    sqlite_where=sa.text('archived_at IS NULL'),
                    postgresql_where=sa.text('archived_at IS NULL'))


def downgrade():
    op.drop_index('uq_addresses_user_lower_moniker_live', table_name='addresses')
    op.create_index('uq_addresses_user_moniker_live', 'addresses', ['user_id', 'moniker'],
                    unique=True, sqlite_where=sa.text('archived_at IS NULL'),
                    postgresql_where=sa.text('archived_at IS NULL'))
    op.drop_index('uq_users_lower_email', table_name='users')


def _refuse_case_twins_of_emails():
    rows = op.get_bind().execute(sa.text("""
        SELECT id, email, lower(email) FROM users
        WHERE lower(email) IN (SELECT lower(email) FROM users GROUP BY lower(email)
                               HAVING count(*) > 1)
        ORDER BY lower(email), id
    """)).all()
    if not rows:
        return
    groups: dict[str, list[str]] = {}
    for user_id, email, folded in rows:
        groups.setdefault(folded, []).append(f'{email} (user {user_id})')
    listed = ['; '.join(twins) for twins in list(groups.values())[:LISTED]]
    more = f'\n  ... and {len(groups) - LISTED} more' if len(groups) > LISTED else ''
    raise RuntimeError(
        f'{len(groups)} e-mail address(es) belong to more than one account when case is '
        'ignored, so they cannot be made unique:\n  ' + '\n  '.join(listed) + more +
        '\nChange or merge these accounts (keep the one with the orders and downline), '
        'then run the upgrade again.')


def _rename_case_twins_of_live_monikers():
    bind = op.get_bind()
    rows = bind.execute(sa.text("""
        SELECT a.id, a.user_id, a.moniker, lower(a.moniker) FROM addresses a
        WHERE a.archived_at IS NULL AND EXISTS (
            SELECT 1 FROM addresses b
            WHERE b.user_id = a.user_id AND b.archived_at IS NULL AND b.id <> a.id
              AND lower(b.moniker) = lower(a.moniker))
        ORDER BY a.user_id, a.id
    """)).all()
    if not rows:
        return
    # The database's lower() decides who are twins (on SQLite it folds ASCII only); a new name
    # must differ from every live moniker of the person even by casefold(), as the service checks.
    people = {row.user_id for row in rows}
    taken: dict[int, set[str]] = {user_id: set() for user_id in people}
    for user_id, moniker in bind.execute(sa.text(
            'SELECT user_id, moniker FROM addresses WHERE archived_at IS NULL')).all():
        if user_id in taken:
            taken[user_id].add(moniker.casefold())
    kept: set[tuple[int, str]] = set()
    for address_id, user_id, moniker, folded in rows:
        key = (user_id, folded)
        if key not in kept:  # the oldest of its twins keeps its name
            kept.add(key)
            continue
        number = 2
        while True:
            suffix = f' ({number})'
            renamed = moniker[:MONIKER_LENGTH - len(suffix)].rstrip() + suffix
            if renamed.casefold() not in taken[user_id]:
                break
            number += 1
        taken[user_id].add(renamed.casefold())
        bind.execute(sa.text('UPDATE addresses SET moniker = :moniker WHERE id = :id'),
                     {'moniker': renamed, 'id': address_id})
        log.warning('address %s of user %s renamed from %r to %r: another live address of '
                    'theirs has the same moniker in another case', address_id, user_id,
                    moniker, renamed)
