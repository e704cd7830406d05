"""Pooled PostgreSQL connections are checked before use only after sitting idle: a ping on
every checkout would cost every request a round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from portal.db import ping_idle_connections

pytestmark = pytest.mark.server  # connections the server drops

@pytest.fixture
def pings(monkeypatch):
    """Every ping the pool sends (the real one still runs)."""
    sent = []

    def spy(engine):
        ping = engine.dialect.do_ping
        monkeypatch.setattr(engine.dialect, "do_ping", lambda c: (sent.append(c), ping(c))[1])

    return sent, spy


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(url: str, pid: int) -> None:
    other = create_engine(url)
    with other.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


def test_a_connection_used_moments_ago_is_not_pinged(database_url, pings):
    sent, spy = pings
    engine = create_engine(database_url, pool_size=1)
    ping_idle_connections(engine, idle_seconds=60)
    spy(engine)
    first = backend_pid(engine)
    for _ in range(5):
        assert backend_pid(engine) == first
    assert sent == []
    engine.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_unnoticed(database_url, pings):
    sent, spy = pings
    engine = create_engine(database_url, pool_size=1)
    ping_idle_connections(engine, idle_seconds=0)  # every connection counts as idle
    spy(engine)
    dropped = backend_pid(engine)
    terminate(database_url, dropped)
    replacement = backend_pid(engine)  # no error: the ping found it gone, the pool reconnected
    assert replacement != dropped
    assert len(sent) >= 2
    engine.dispose()


def test_a_busy_connection_the_server_dropped_fails_once_then_the_pool_is_renewed(database_url):
    from sqlalchemy.exc import OperationalError

    engine = create_engine(database_url, pool_size=2)
    ping_idle_connections(engine, idle_seconds=60)
    with engine.connect() as first, engine.connect() as second:  # two pooled connections
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (first, second)]
    for pid in pids:  # the server restarts: every connection is gone
        terminate(database_url, pid)
    with pytest.raises(OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) not in pids  # the next request gets a fresh connection
    assert backend_pid(engine) not in pids
    engine.dispose()


def test_the_portal_pings_idle_connections_only(app, database_url):
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping") is not True
    assert float(app.config["DB_PING_IDLE_SECONDS"]) > 0
    from portal.extensions import db

    assert db.engine.pool.dispatch.checkout, "the idle ping is registered on the portal's engine"
