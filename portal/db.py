"""Declarative base, constraint naming and the column types every concept shares.

Money and volume are stored as integer hundredths: integers keep set-based sums exact and
cheap, and every amount reads back as a Decimal with two places.
"""

from __future__ import annotations

import time
from datetime import timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, DateTime, MetaData, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase
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
