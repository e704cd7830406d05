"""A DriverStatement runs on the driver's cursor but behaves as ``Connection.execute``: the
same values, the same transaction, the same exceptions, the same listeners."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import (Integer, String, bindparam, column, create_engine, event, literal,
                        select, text)
from sqlalchemy.exc import IntegrityError, OperationalError

from portal.db import DriverStatement, Money, UTCDateTime, Volume, json_array

WHEN = datetime(2026, 3, 1, 17, 30, 15, 123456, tzinfo=timezone.utc)


@pytest.fixture
def engine(session):
    return session.get_bind()


@pytest.fixture
def connection(engine):
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TEMPORARY TABLE driver_notes "
                                   "(id INTEGER PRIMARY KEY, body VARCHAR(20) NOT NULL)")
        connection.commit()
        yield connection
        connection.rollback()
        connection.exec_driver_sql("DROP TABLE driver_notes")
        connection.commit()


INSERT_NOTE = DriverStatement(
    text("INSERT INTO driver_notes (id, body) VALUES (:id, :body) RETURNING id, body")
    .columns(column("id", Integer()), column("body", String())))
NOTES = DriverStatement(select(text("count(*)")).select_from(text("driver_notes")))


def test_values_pass_through_their_types_as_with_execute(connection):
    statement = select(
        bindparam("price", type_=Money()).label("price"),
        bindparam("points", type_=Volume()).label("points"),
        bindparam("when", type_=UTCDateTime()).label("when"),
        literal(7).label("seven"),  # a literal the statement binds itself
        json_array(bindparam("a", type_=Integer()), bindparam("b", type_=String())).label("both"))
    parameters = {"price": Decimal("12.34"), "points": Decimal("0.50"), "when": WHEN,
                  "a": 3, "b": "x"}
    driven = DriverStatement(statement)

    row = driven.first(connection, parameters)

    assert row == tuple(connection.execute(statement, parameters).one())
    assert row == (Decimal("12.34"), Decimal("0.50"), WHEN, 7, [3, "x"])
    assert driven.names == ("price", "points", "when", "seven", "both")


def test_no_row_is_none(connection):
    nothing = DriverStatement(select(literal(1)).where(bindparam("never", type_=Integer()) == 0))
    assert nothing.first(connection, {"never": 1}) is None


def test_it_runs_in_the_connections_transaction_and_begins_one_if_none(connection):
    assert not connection.in_transaction()
    assert INSERT_NOTE.first(connection, {"id": 1, "body": "kept back"}) == (1, "kept back")
    assert connection.in_transaction()
    connection.rollback()
    assert NOTES.first(connection, {}) == (0,)

    INSERT_NOTE.first(connection, {"id": 2, "body": "kept"})
    connection.commit()
    connection.rollback()
    assert NOTES.first(connection, {}) == (1,)


def test_a_driver_error_is_sqlalchemys_and_the_transaction_can_roll_back(connection):
    INSERT_NOTE.first(connection, {"id": 1, "body": "first"})
    connection.commit()
    with pytest.raises(IntegrityError) as refused:
        INSERT_NOTE.first(connection, {"id": 1, "body": "twin"})
    assert "driver_notes" in str(refused.value) and refused.value.orig is not None
    connection.rollback()
    assert INSERT_NOTE.first(connection, {"id": 2, "body": "after"}) == (2, "after")


def test_cursor_listeners_see_the_statement(engine, connection):
    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(("before", statement, parameters))

    def after(conn, cursor, statement, parameters, context, executemany):
        seen.append(("after", statement))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        INSERT_NOTE.first(connection, {"id": 5, "body": "seen"})
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    ours = [(kind, *rest) for kind, *rest in seen if "driver_notes" in rest[0]]  # not BEGIN
    assert [kind for kind, *_ in ours] == ["before", "after"]
    assert "seen" in str(ours[0][2])


def test_a_lost_connection_fails_once_then_the_pool_is_renewed(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite opens a file: there is no server connection to lose")
    engine = create_engine(database_url, pool_size=2)
    backend = DriverStatement(select(text("pg_backend_pid()")))
    with engine.connect() as first, engine.connect() as second:  # two pooled connections
        pids = [backend.first(c, {})[0] for c in (first, second)]
        for c in (first, second):
            c.rollback()
    with create_engine(database_url).connect() as admin:  # the server restarts
        for pid in pids:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with engine.connect() as connection, pytest.raises(OperationalError) as lost:
        backend.first(connection, {})
    assert lost.value.connection_invalidated
    for _ in range(2):
        with engine.connect() as connection:
            assert backend.first(connection, {})[0] not in pids
    engine.dispose()
