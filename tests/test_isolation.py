"""Each test starts from nothing: the per-test wipe of tests/conftest.py leaves no row, no
used id and no Redis key behind, whichever tables the test wrote."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.extensions import db
from tests.conftest import redis_url_of_worker, wipe
from tests.factories import make_address, make_user


def row_counts(session) -> dict[str, int]:
    return {table.name: session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def test_the_wipe_empties_every_table_restarts_the_ids_and_empties_redis(app, session, redis):
    person = make_user(session)
    first_ids = (person.id, make_address(session, person).id)
    session.commit()
    make_user(session)
    session.rollback()  # an id used by a write that never committed: its table stays empty
    make_address(session, session.get(User, person.id))
    session.flush()
    session.rollback()
    redis.set("left-over", "1")
    assert row_counts(session)["users"] >= 1 and row_counts(session)["addresses"] == 1
    session.close()

    wipe(app)

    assert set(row_counts(session).values()) == {0}
    assert redis.keys("*") == []
    again = make_user(session)
    address = make_address(session, again)
    session.flush()
    assert (again.id, address.id) == first_ids  # the ids start again where they started
    assert session.scalar(select(func.count()).select_from(Address)) == 1


def test_each_xdist_worker_gets_the_next_redis_database():
    assert redis_url_of_worker("redis://127.0.0.1:6379/1", None) == "redis://127.0.0.1:6379/1"
    assert redis_url_of_worker("redis://127.0.0.1:6379/1", 0) == "redis://127.0.0.1:6379/1"
    assert redis_url_of_worker("redis://127.0.0.1:6379/1", 1) == "redis://127.0.0.1:6379/2"
    assert redis_url_of_worker("redis://127.0.0.1:6379", 1) == "redis://127.0.0.1:6379/1"
    assert redis_url_of_worker("redis://:pw@host:6380/3?socket_timeout=5", 2) \
        == "redis://:pw@host:6380/5?socket_timeout=5"
