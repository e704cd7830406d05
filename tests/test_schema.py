"""The schema comes from the migrations, and the migrations match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from portal.extensions import db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


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
    """CI sets EXPECT_BACKEND so that a pass meant for PostgreSQL cannot silently run on SQLite."""
    import os

    import pytest
    expected = os.environ.get("EXPECT_BACKEND")
    if not expected:
        pytest.skip("EXPECT_BACKEND not set (local run)")
    database, _, redis_kind = expected.partition("+")
    assert db.engine.dialect.name == database
    port = redis.connection_pool.connection_kwargs.get("port")
    assert (port == 6379) == (redis_kind == "redis-server")


def test_a_nul_byte_in_a_url_is_a_400_and_in_a_form_a_message_beside_the_field(client):
    assert client.get("/shop/?q=tea%00").status_code == 400
    assert client.get("/autoship/calendar/ab%00cd.ics").status_code == 400
    from tests.conftest import csrf_token
    response = client.post("/login", data={"email": "a\x00@b.c", "password": "x",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 422 and "control characters" in response.get_data(as_text=True)
