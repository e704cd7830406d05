"""The schema comes from the migrations, and the migrations match the models."""

import re
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, inspect
from sqlalchemy.schema import CreateIndex

from portal.extensions import db

# SQLite's reflection, and so autogenerate, cannot see indexes on expressions such as
# lower(email); test_expression_indexes_match_the_models_on_sqlite compares those instead.
SQLITE_BLIND_SPOT = (r"Skipped unsupported reflection of expression-based index|"
                     r"autogenerate skipping metadata-specified expression-based index")


def expression_indexes():
    return [index for table in db.metadata.sorted_tables for index in table.indexes
            if any(not isinstance(part, Column) for part in index.expressions)]


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection, warnings.catch_warnings():
        if connection.dialect.name == "sqlite":
            warnings.filterwarnings("ignore", SQLITE_BLIND_SPOT)
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_expression_indexes_match_the_models_on_sqlite(app):
    """SQLite keeps each index's CREATE statement as it was given: the migration's must be the
    one the model's declaration compiles to."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL reflects expression indexes: the autogenerate comparison covers them")

    def canonical(sql: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"\s*([(),])\s*", r"\1", sql)).strip().lower()

    declared = {index.name: canonical(str(CreateIndex(index).compile(dialect=db.engine.dialect)))
                for index in expression_indexes()}
    with db.engine.connect() as connection:
        created = dict(connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all())
    assert {"uq_users_lower_email", "uq_addresses_user_lower_moniker_live"} <= declared.keys()
    assert declared == {name: canonical(created.get(name) or "missing") for name in declared}


def test_every_model_table_exists_after_upgrade(app):
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -65536  # 64 MiB


def test_the_suite_runs_on_the_backend_ci_asked_for(app, redis):
    """CI sets EXPECT_BACKEND (``embedded-postgresql+embedded-redis`` for ``make test`` as a new
    user gets it, ``postgresql+redis-server`` for this machine's servers) so that neither pass
    silently runs on the other's backends."""
    import os

    import pytest
    expected = os.environ.get("EXPECT_BACKEND")
    if not expected:
        pytest.skip("EXPECT_BACKEND not set (local run)")
    database, _, redis_kind = expected.partition("+")
    assert db.engine.dialect.name == database.removeprefix("embedded-")
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
