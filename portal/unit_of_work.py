"""One unit of work per request, job or CLI command: committed once at the edge, or rolled back.

Services flush and never commit; whoever received the work decides, in one place:

- **A request** (``PortalFlask.dispatch_request``): when the view returns a success (status below
  400, redirects included) the session is committed right there, before the response leaves and
  before Flask saves the cookie session; any other answer, and any exception, rolls back. A
  commit the database refuses because a concurrent request changed the same rows (a unique
  conflict, a serialization failure) becomes a 409 "changed meanwhile" page, and what the view
  put in the cookie session (its "Saved" flash, a login) is taken back with it.
- **A job or a CLI command** (``@transactional``): committed when the function returns, rolled
  back when it raises, so that RQ and click report the failure as they always did.

A refusal (``DomainError``) is rolled back before its message is shown: left to propagate, the
error handler shows it; caught with ``refusal()``, the view shows it its own way.

Work that must find something durable first (a payment gateway call after its attempt row, a
job's per-chunk progress) commits in the middle with ``commit_before(session, reason)``: the
reason names what follows and is logged, so that every commit not at the edge says why.
Jobs to run after the commit go through ``portal.queues.enqueue_after_commit``.

Streaming responses are committed before their body is produced, without expiring what the view
loaded: a streamed body only reads.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from flask import Flask, g
from flask import session as cookie_session
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.extensions import db

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Set while a unit of work runs in this context (a request, a job, a command).
_inside: ContextVar[bool] = ContextVar("portal.unit_of_work", default=False)

# PostgreSQL's answers to two transactions that wrote the same thing at once: a unique or
# exclusion conflict (class 23) or a serialization failure / deadlock (40001, 40P01).
_CONFLICT_STATES = {"40001", "40P01"}


class ChangedMeanwhile(DomainError):
    """The commit lost a race with another request: nothing of this one was saved."""

    status = 409

    def __init__(self):
        super().__init__("Somebody changed this at the same moment, so nothing was saved. "
                         "Please look again and try once more.")


def _is_conflict(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return True
    return getattr(error.orig, "sqlstate", None) in _CONFLICT_STATES


def commit_before(session: Session, reason: str) -> None:
    """Commit now, in the middle of a unit of work, because what follows needs it durable:
    ``reason`` says what follows ("the gateway is called", "the next chunk")."""
    log.debug("commit before %s", reason)
    session.commit()


def release_before(session: Session, reason: str) -> None:
    """End a transaction that wrote nothing, because what follows may take long (a gateway, Redis)
    and must not hold a snapshot or locks meanwhile."""
    log.debug("transaction released before %s", reason)
    session.rollback()


@contextmanager
def _one_unit() -> Iterator[bool]:
    """Yields whether this is the outermost unit: a job that runs another job's function, or a
    view that calls one, makes one unit of both, decided by the outermost."""
    if _inside.get():
        yield False
        return
    token = _inside.set(True)
    try:
        yield True
    finally:
        _inside.reset(token)


def transactional(func: Callable[P, R]) -> Callable[P, R]:
    """A job or a CLI command as one unit of work: commit on return, roll back on any exception
    (and let it raise). Inside another unit, it joins that one."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session = db.session
        with _one_unit() as outermost:
            if not outermost:
                return func(*args, **kwargs)
            try:
                result = func(*args, **kwargs)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result

    return wrapper


class Refusal:
    """What ``refusal()`` caught: falsy when the work went through."""

    def __init__(self):
        self.error: DomainError | None = None

    def __bool__(self) -> bool:
        return self.error is not None

    @property
    def status(self) -> int:
        return self.error.status

    @property
    def message(self) -> str:
        return self.error.message


@contextmanager
def refusal(form=None, field: str | None = None) -> Iterator[Refusal]:
    """For a view that shows a refusal its own way (the form again, the cart with a message):
    a ``DomainError`` raised inside is caught, this request's writes are rolled back at once (so
    that what is rendered next shows the database as it is) and, given a ``form``, the message is
    put beside its field (or beside ``field`` when the error names none). The view then answers
    with a 4xx, and the edge rolls back again."""
    from portal.forms import show_beside_field

    refused = Refusal()
    try:
        yield refused
    except DomainError as error:
        db.session.rollback()
        refused.error = error
        error.field = error.field or field
        if form is not None:
            show_beside_field(form, error)


class PortalFlask(Flask):
    """Flask, with each view run as one unit of work (see the module docstring)."""

    def dispatch_request(self):
        kept = copy.deepcopy(dict(cookie_session)) if cookie_session else {}
        with _one_unit():
            try:
                response = self.make_response(super().dispatch_request())
            except BaseException:
                if db.session.registry.has():
                    db.session.rollback()
                raise
            if not db.session.registry.has():
                return response  # the view never touched the database: nothing to commit
            session = db.session()  # the Session itself: its expire_on_commit is set below
            if response.status_code >= 400:
                session.rollback()
                return response
            # A streamed body is produced after this commit, from what the view loaded: keep it
            # loaded rather than expired (the session may be closed by then).
            expire = session.expire_on_commit
            session.expire_on_commit = expire and not response.is_streamed
            try:
                session.commit()
            except BaseException as error:
                session.rollback()
                _take_back(kept)
                if isinstance(error, DBAPIError) and _is_conflict(error):
                    raise ChangedMeanwhile() from error
                raise
            finally:
                session.expire_on_commit = expire
            return response


def _take_back(kept: dict) -> None:
    """The cookie session as it was before the view: no "Saved" flash, no login, for work the
    database did not keep."""
    cookie_session.clear()
    cookie_session.update(kept)
    g.pop("_login_user", None)  # Flask-Login reloads the person from the session put back
