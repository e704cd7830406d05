"""The schema comes from the migrations, and the migrations match the models."""

import importlib.util
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, inspect

from portal import PROJECT_ROOT
from portal.extensions import db


def test_migrated_schema_matches_the_models(app):
    """Autogenerate finds nothing to do: every table, column, type, constraint and index the
    models declare (expression indexes such as lower(email) included) is what the migrations
    built, and nothing more."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
    assert {index.name for table in db.metadata.sorted_tables for index in table.indexes
            if any(not isinstance(part, Column) for part in index.expressions)} \
        >= {"uq_users_lower_email", "uq_addresses_user_lower_moniker_live"}


def test_every_model_table_exists_after_upgrade(app):
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


@pytest.mark.server
def test_the_suite_runs_on_the_backend_ci_asked_for(app, redis):
    """CI sets EXPECT_BACKEND (``embedded-postgresql+embedded-redis`` for ``make test`` as a new
    user gets it, ``postgresql+redis-server`` for this machine's servers) so that neither pass
    silently runs on the other's backends."""
    expected = os.environ.get("EXPECT_BACKEND")
    if not expected:
        pytest.skip("EXPECT_BACKEND not set (local run)")
    database, _, redis_kind = expected.partition("+")
    with db.engine.connect() as connection:
        data_directory = connection.exec_driver_sql("SHOW data_directory").scalar()
    assert ("portal-test-postgres-" in data_directory) == database.startswith("embedded-")
    port = redis.connection_pool.connection_kwargs.get("port")
    assert (port == 6379) == (redis_kind == "redis-server")


def test_a_nul_byte_in_a_url_is_a_400_and_in_a_form_a_message_beside_the_field(client):
    assert client.get("/shop/?q=tea%00").status_code == 400
    assert client.get("/autoship/calendar/ab%00cd.ics").status_code == 400
    from tests.conftest import csrf_token
    response = client.post("/login", data={"email": "a\x00@b.c", "password": "x",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 422 and "control characters" in response.get_data(as_text=True)


def test_migration_0011_drops_the_autoship_working_table_of_a_database_built_by_0007(app):
    """A production database built by 0001-0007 has the ``autoship_due`` table that only the
    engine's former SQLite path used: 0011 drops it, and its downgrade brings it back empty.
    (DDL is transactional: the whole step is rolled back at the end.)"""
    spec = importlib.util.spec_from_file_location(
        "migration_0011", PROJECT_ROOT / "migrations" / "versions" / "0011_drop_autoship_working_table.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with db.engine.connect() as connection:
        transaction = connection.begin()
        try:
            with Operations.context(MigrationContext.configure(connection)):
                assert "autoship_due" not in inspect(connection).get_table_names()
                migration.downgrade()  # the schema as 0007 left it
                assert "autoship_due" in inspect(connection).get_table_names()
                migration.upgrade()
                assert "autoship_due" not in inspect(connection).get_table_names()
        finally:
            transaction.rollback()
