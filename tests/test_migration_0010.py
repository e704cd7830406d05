"""Migration 0010 on runs that predate it: each keeps what its row says as one attempt, the
latest, and its chunks belong to it. The schema is stepped back, the old rows written, the
upgrade run, and all of it rolled back (DDL is transactional on both backends)."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime, timezone

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text

from portal import PROJECT_ROOT
from portal.extensions import db

_spec = importlib.util.spec_from_file_location(
    "migration_0010", PROJECT_ROOT / "migrations" / "versions" / "0010_autoship_run_attempts.py")
MIGRATION = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(MIGRATION)


def test_an_old_run_becomes_its_latest_attempt_with_its_chunks(app):
    started = datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc)
    with db.engine.connect() as connection:
        transaction = connection.begin()
        try:
            with Operations.context(MigrationContext.configure(connection)):
                MIGRATION.downgrade()
                run_id = connection.execute(text(
                    "INSERT INTO autoship_runs (as_of, status, trigger, attempts, chunks_total, "
                    "chunks_done, due, created, skipped, missed, failed, resumed, started_at) "
                    "VALUES (:as_of, 'done', 'cli', 3, 2, 2, 5, 4, 1, 0, 0, 2, :started) RETURNING id"),
                    {"as_of": date(2026, 12, 1), "started": started}).scalar_one()
                for number in (0, 1):
                    connection.execute(text(
                        "INSERT INTO autoship_run_chunks (run_id, number, low_id, high_id, status, "
                        "due, created, skipped, missed, attempts, error) "
                        "VALUES (:run, :number, 1, 2, 'done', 2, 2, 0, 0, 1, '')"),
                        {"run": run_id, "number": number})
                MIGRATION.upgrade()
                attempts = connection.execute(text(
                    "SELECT number, trigger, due, resumed FROM autoship_run_attempts WHERE run_id = :run"),
                    {"run": run_id}).all()
                chunks = connection.execute(text(
                    "SELECT number, attempt FROM autoship_run_chunks WHERE run_id = :run ORDER BY number"),
                    {"run": run_id}).all()
        finally:
            transaction.rollback()
    assert [tuple(row) for row in attempts] == [(3, "cli", 5, 2)]
    assert [tuple(row) for row in chunks] == [(0, 3), (1, 3)]
