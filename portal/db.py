"""Declarative base, constraint naming and the column types every concept shares.

Money and volume are stored as integer hundredths: integers keep set-based sums exact and
cheap, and every amount reads back as a Decimal with two places.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import NoReturn

from sqlalchemy import JSON, BigInteger, DateTime, MetaData, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CENT = Decimal("0.01")


def to_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class Hundredths(TypeDecorator):
    """A Decimal with two places, stored as an integer count of hundredths."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int(to_money(value) * 100)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(CENT)


class Money(Hundredths):
    cache_ok = True


class Volume(Hundredths):
    """PV/BV points."""

    cache_ok = True


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes: a naive datetime is refused, every value reads back in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Materialised genealogy paths are compared as byte strings ('/' sorts just below '0'),
# which needs the "C" collation.
TreePath = String(512, collation="C")


_LITERAL_OR_SPACE = re.compile(r"('(?:[^']|'')*')|(?:\s|--[^\n]*)+")
_LITERAL_OR_SPACED_PUNCTUATION = re.compile(r"('(?:[^']|'')*')| ?([(),]) ?")


def compact_sql(sql: str) -> str:
    """``sql`` without its comments, each run of white space made one space and none around
    parentheses and commas; string literals untouched. psycopg caches its parse of a
    statement only up to 4,096 characters: past that it parses it again on every execution
    (for the 1-Click statement, a sixth of a press's instructions in the server)."""
    spaced = _LITERAL_OR_SPACE.sub(lambda match: match.group(1) or " ", sql)
    return _LITERAL_OR_SPACED_PUNCTUATION.sub(lambda match: match.group(1) or match.group(2),
                                              spaced).strip()


class json_array(FunctionElement):
    """Columns read as one JSON array: a row of a dozen columns costs the driver and
    SQLAlchemy a few microseconds per column, a JSON array of them one parse."""

    type = JSON()
    inherit_cache = True


@compiles(json_array)
def _json_array(element, compiler, **kw):  # SQLite
    return f"json_array({compiler.process(element.clauses, **kw)})"


@compiles(json_array, "postgresql")
def _json_build_array(element, compiler, **kw):
    return f"json_build_array({compiler.process(element.clauses, **kw)})"


class DriverStatement:
    """A Core statement that returns rows, compiled once per dialect and run on the driver's
    own cursor, in the transaction of the Connection given (begun if none is).

    ``Connection.execute`` builds a cache key, an execution context and the result's metadata
    from the driver's column descriptions on every call: for the two statements of a 1-Click
    press on PostgreSQL that was a sixth of the press's CPU in the server (0.22 of 1.47 ms
    measured in process). Here the parameters still go through their types' bind processors
    and the columns through their result processors, so values are those ``execute`` gives;
    the engine's cursor-execute listeners still see the statement (with no execution context,
    and they cannot rewrite it: Flask-SQLAlchemy's query recording, which needs one, is off);
    and a driver error comes out as SQLAlchemy's exception, a lost connection invalidating the
    pool as ``execute`` would. For the hottest statements only: everything else uses
    ``execute``."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self.names = tuple(column.key for column in statement.selected_columns)
        self._compiled: dict[tuple[str, str], _CompiledForDriver] = {}

    def first(self, connection, parameters: dict) -> tuple | None:
        """The first row, or None."""
        dialect = connection.dialect
        compiled = self._compiled.get((dialect.name, dialect.driver))
        if compiled is None:
            compiled = self._compiled[dialect.name, dialect.driver] = _CompiledForDriver(
                self.statement, dialect)
        values = compiled.driver_parameters(parameters)
        if not connection.in_transaction():
            connection.begin()
        cursor = connection.connection.cursor()
        dispatch = connection.dispatch
        try:
            if before := dispatch.before_cursor_execute:
                before(connection, cursor, compiled.sql, values, None, False)
            cursor.execute(compiled.sql, values)
            row = cursor.fetchone()
            if after := dispatch.after_cursor_execute:
                after(connection, cursor, compiled.sql, values, None, False)
        except dialect.loaded_dbapi.Error as error:
            _raise_as_sqlalchemy(connection, cursor, error, compiled.sql, values)
        finally:
            cursor.close()
        return None if row is None else compiled.processed(row)


class _CompiledForDriver:
    def __init__(self, statement, dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if (compiled.escaped_bind_names or compiled.post_compile_params
                or compiled.literal_execute_params):
            raise ValueError("DriverStatement takes plain bound parameters only")
        self.sql = str(compiled)
        self.positions = compiled.positiontup  # None for a driver that takes names
        self.fixed = {name: bind.effective_value for name, bind in compiled.binds.items()
                      if not bind.required}  # literals the statement bound itself
        self.bind_processors = [
            (name, process) for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        self.result_processors = [
            (index, process) for index, column in enumerate(statement.selected_columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None]

    def driver_parameters(self, parameters: dict) -> dict | tuple:
        values = {**self.fixed, **parameters}
        for name, process in self.bind_processors:
            values[name] = process(values[name])
        return values if self.positions is None else tuple(values[name] for name in self.positions)

    def processed(self, row) -> tuple:
        if not self.result_processors:
            return tuple(row)
        values = list(row)
        for index, process in self.result_processors:
            values[index] = process(values[index])
        return tuple(values)


def _raise_as_sqlalchemy(connection, cursor, error: Exception, sql: str, parameters) -> NoReturn:
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if lost:  # as execute does: this connection is dropped, and the pool renewed
        connection.invalidate(error)
        connection.engine.dispose(close=False)
    raise DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect,
                              connection_invalidated=lost) from error


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Before a pooled connection is handed out, make sure the server still has it, if it sat
    unused for ``idle_seconds`` or more (a server restart or an idle timeout may have closed
    it); the pool then replaces a dead one without the request noticing.

    SQLAlchemy's ``pool_pre_ping`` does this on every checkout: a round trip per request, a
    tenth of a 1-Click press's cost on PostgreSQL. A connection used moments ago is alive, and
    if the server went away since, the error invalidates the whole pool at once."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _note_last_use(dbapi_connection, record):
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy):
        if time.monotonic() - record.info["last_used"] < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure means: use another connection
            raise DisconnectionError(f"pooled connection is gone: {error}") from error
