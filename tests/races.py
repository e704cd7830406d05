"""Writes that land while a service is between its friendly check and its own write."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Table, text
from sqlalchemy.orm import Session

from portal.extensions import db

T = TypeVar("T")


def write_twin(session: Session, table: Table, **values) -> None:
    """Insert a row as a concurrent request would, unseen by the check the service already
    made: another transaction commits it."""
    with db.engine.begin() as other:
        other.execute(table.insert().values(**values))


def run_behind(app, session: Session, request: Callable[[Session], T]) -> T | Exception:
    """Run ``request`` as a concurrent request would, while ``session`` holds its own writes
    uncommitted: in another thread, with its own session and connection. ``session`` commits
    once the other request waits for it; the other then goes on and commits (or rolls back).
    Answers what ``request`` returned, or the exception it raised.

    This session commits once the other's connection is seen waiting for a lock
    (pg_stat_activity); an other request that finishes without waiting fails the test, as it
    raced nothing.
    """
    def on_a_session(started: Callable[[int], None]) -> T:
        other = db.session
        try:
            started(other.scalar(text("SELECT pg_backend_pid()")))
            answer = request(other)
            other.commit()
            return answer
        except Exception:
            other.rollback()
            raise
        finally:
            db.session.remove()

    return _behind(app, session, on_a_session)


def run_behind_on_connection(app, session: Session,
                             request: Callable[[Connection], T]) -> T | Exception:
    """``run_behind`` for a request on a Core connection of its own, which it may commit or
    roll back itself; what it left open is committed after it returns, rolled back if it
    raised."""
    def on_a_connection(started: Callable[[int], None]) -> T:
        with db.engine.connect() as connection:
            started(connection.scalar(text("SELECT pg_backend_pid()")))
            answer = request(connection)
            connection.commit()
            return answer

    return _behind(app, session, on_a_connection)


def _behind(app, session: Session, work: Callable[[Callable[[int], None]], T]) -> T | Exception:
    answer: list = []
    started = threading.Event()

    def begun(pid: int) -> None:
        answer.append(pid)
        started.set()

    def other_request() -> None:
        with app.app_context():
            try:
                answer.append(work(begun))
            except Exception as error:  # the caller asserts on it
                answer.append(error)
            finally:
                started.set()

    thread = threading.Thread(target=other_request)
    thread.start()
    started.wait(30)
    if answer and not isinstance(answer[0], Exception):
        _wait_until_blocked(answer[0], thread)
    session.commit()
    thread.join(60)
    assert not thread.is_alive(), "the other request did not finish"
    return answer[-1]


def _wait_until_blocked(pid: int, thread: threading.Thread, timeout: float = 30) -> None:
    # A connection of its own, each look in a transaction of its own: pg_stat_activity is read
    # once per transaction.
    deadline = time.monotonic() + timeout
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        while thread.is_alive() and time.monotonic() < deadline:
            if watcher.scalar(text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
                                   "WHERE pid = :pid"), {"pid": pid}):
                return
            time.sleep(0.01)
    raise AssertionError("the other request did not wait for this one: it "
                         + ("is still running" if thread.is_alive() else "finished first"))


def all_at_once(count: int, work: Callable[[int], T]) -> tuple[list[T], list[str]]:
    """Run ``work(n)`` for each ``n`` below ``count``, each in a thread of its own, all let go
    at the same moment; what they answered, and the errors they raised (as repr), for the
    caller to assert on."""
    barrier, answers, errors = threading.Barrier(count), [], []

    def run(n: int) -> None:
        try:
            barrier.wait()
            answers.append(work(n))
        except Exception as error:  # collected and asserted by the caller
            errors.append(repr(error))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, errors


def run_together(app, count: int, work: Callable[[int], T]) -> tuple[list[T], list[str]]:
    """``all_at_once`` for concurrent requests: each ``work(n)`` in an app context with a
    database session of its own, committed after it (rolled back if it raised)."""
    def request(n: int) -> T:
        with app.app_context():
            try:
                answer = work(n)
                db.session.commit()
                return answer
            except Exception:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    return all_at_once(count, request)
