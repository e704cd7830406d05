"""Migration 0007 on data that predates it: e-mail addresses and live monikers that differ only
in case. Each test steps the schema back to 0006's indexes, writes the old data, upgrades, and
rolls all of it back (DDL is transactional in PostgreSQL)."""

from __future__ import annotations

import importlib.util
import itertools
from contextlib import contextmanager

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import PROJECT_ROOT
from portal.accounts.models import User
from portal.addresses.models import Address
from portal.extensions import db

_spec = importlib.util.spec_from_file_location(
    "migration_0007", PROJECT_ROOT / "migrations" / "versions" / "0007_case_insensitive_uniques.py")
MIGRATION = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(MIGRATION)

USERS, ADDRESSES = User.__table__, Address.__table__
_member_numbers = itertools.count(30_000_000)
MONIKER_INDEX = "uq_addresses_user_lower_moniker_live"


@contextmanager
def schema_before_0007(app):
    """A connection on which 0007 has been undone, inside a transaction rolled back at the end."""
    with db.engine.connect() as connection:
        transaction = connection.begin()
        try:
            with Operations.context(MigrationContext.configure(connection)):
                MIGRATION.downgrade()
                yield connection
        finally:
            transaction.rollback()


def add_people(connection, *emails: str) -> list[int]:
    return [connection.execute(USERS.insert().values(
        email=email, member_number=f"{next(_member_numbers)}", password_hash="x",
        first_name="Pat", last_name="Example", role="member")).inserted_primary_key[0]
        for email in emails]


def add_addresses(connection, user_id: int, *monikers: str, archived: bool = False) -> list[int]:
    return [connection.execute(ADDRESSES.insert().values(
        user_id=user_id, moniker=moniker, full_name="Pat Example", line1="1 Main Street",
        city="Springfield", region="IL", postal_code="62704",
        archived_at=func.current_timestamp() if archived else None))
        .inserted_primary_key[0] for moniker in monikers]


def monikers(connection, user_id: int) -> dict[int, str]:
    return dict(connection.execute(select(ADDRESSES.c.id, ADDRESSES.c.moniker)
                                   .where(ADDRESSES.c.user_id == user_id)).all())


def test_live_monikers_differing_only_in_case_are_numbered_and_the_oldest_keeps_its_name(app):
    with schema_before_0007(app) as connection:
        ann, bob, cy = add_people(connection, "ann@example.test", "bob@example.test",
                                  "cy@example.test")
        home, upper, lower, taken_suffix = add_addresses(connection, ann, "Home", "HOME", "home",
                                                         "home (2)")
        archived, = add_addresses(connection, ann, "Home", archived=True)
        bob_home, bob_office = add_addresses(connection, bob, "Home", "Office")
        long_first, long_second = add_addresses(connection, cy, "A" * 40, "a" * 40)

        MIGRATION.upgrade()

        assert monikers(connection, ann) == {home: "Home", upper: "HOME (3)", lower: "home (4)",
                                             taken_suffix: "home (2)", archived: "Home"}
        assert monikers(connection, bob) == {bob_home: "Home", bob_office: "Office"}
        assert monikers(connection, cy) == {long_first: "A" * 40, long_second: "a" * 36 + " (2)"}
        with pytest.raises(IntegrityError, match=MONIKER_INDEX), connection.begin_nested():
            add_addresses(connection, bob, "OFFICE")


def test_accounts_whose_emails_differ_only_in_case_stop_the_upgrade_with_a_list_of_them(app):
    with schema_before_0007(app) as connection:
        first, second, third, _ = add_people(connection, "Ann@Example.test", "ann@example.test",
                                             "ANN@EXAMPLE.TEST", "bob@example.test")

        with pytest.raises(RuntimeError) as refused:
            MIGRATION.upgrade()

        message = str(refused.value)
        assert message.startswith("1 e-mail address(es) belong to more than one account")
        assert (f"Ann@Example.test (user {first}); ann@example.test (user {second}); "
                f"ANN@EXAMPLE.TEST (user {third})") in message
        assert "bob@example.test" not in message
        assert "run the upgrade again" in message


def test_with_no_twins_the_upgrade_changes_no_data_and_the_indexes_refuse_case_twins(app):
    with schema_before_0007(app) as connection:
        ann, = add_people(connection, "ann@example.test")
        home, = add_addresses(connection, ann, "Home")
        add_addresses(connection, ann, "HOME", archived=True)

        MIGRATION.upgrade()

        assert monikers(connection, ann)[home] == "Home"
        with pytest.raises(IntegrityError, match="uq_users_lower_email"), \
                connection.begin_nested():
            add_people(connection, "Ann@Example.TEST")
        add_people(connection, "nan@example.test")  # someone else, for contrast
        with pytest.raises(IntegrityError, match=MONIKER_INDEX), connection.begin_nested():
            add_addresses(connection, ann, "hOmE")
