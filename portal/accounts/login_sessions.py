"""Signed-in sessions on the server: a row per login (``LoginSession``), checked on every
request and deleted when the session ends, so that logging out ends a session everywhere a
copy of its cookie went, "keep me logged in" cookie included.

The browser carries ``<id>:<token>`` (in Flask's signed session cookie and, when remembered, in
Flask-Login's remember cookie). Checking it is one primary-key lookup that brings the person
along; "last seen" is written at most every ``touch`` so that browsing does not turn every
page view into a write.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import LoginSession, User
from portal.errors import NotFound
from portal.ids import parse_id

TOKEN_BYTES = 32  # 256 bits


@dataclass(frozen=True)
class Lifetimes:
    session: timedelta     # an idle session ends this long after it was last seen
    remembered: timedelta  # "keep me logged in" lasts this long after the login
    touch: timedelta       # "last seen" is written at most this often

    @classmethod
    def from_config(cls, config) -> Lifetimes:
        return cls(session=timedelta(seconds=int(config["PERMANENT_SESSION_LIFETIME"])),
                   remembered=timedelta(seconds=int(config["REMEMBER_COOKIE_DURATION"])),
                   touch=timedelta(seconds=int(config["LOGIN_SESSION_TOUCH_SECONDS"])))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_login_session(session: Session, *, user: User, label: str, remember: bool,
                        now: datetime, lifetimes: Lifetimes) -> tuple[LoginSession, str]:
    """A new signed-in session of ``user``; returns it and the identifier its browser keeps
    (shown once: only its hash is stored). This person's expired sessions are cleared away."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id,
                                               LoginSession.expires_at <= now),
                    execution_options={"synchronize_session": "fetch"})
    token = secrets.token_urlsafe(TOKEN_BYTES)
    login = LoginSession(user=user, token_hash=_digest(token), label=label[:80], remember=remember,
                         created_at=now, last_seen_at=now,
                         expires_at=now + (lifetimes.remembered if remember else lifetimes.session))
    session.add(login)
    session.flush()
    return login, f"{login.id}:{token}"


def live_login_session(session: Session, identifier: str, *, now: datetime) -> LoginSession | None:
    """The session a browser's identifier names, with its person, if it has not ended or
    expired; otherwise None (also for anything malformed)."""
    number, _, token = str(identifier).partition(":")
    login_id = parse_id(number)
    if login_id is None or not token:
        return None
    login = session.get(LoginSession, login_id)
    if login is None or login.expires_at <= now \
            or not hmac.compare_digest(login.token_hash, _digest(token)):
        return None
    return login


def note_activity(session: Session, login: LoginSession, *, now: datetime,
                  lifetimes: Lifetimes) -> bool:
    """Record that ``login`` was used now, unless that was recorded less than ``touch`` ago;
    whether anything was written. An active session lives on (Flask renews its cookie on every
    request); the margin of one ``touch`` covers the requests not written down."""
    if now - login.last_seen_at < lifetimes.touch:
        return False
    # A plain UPDATE: a session ended by another request meanwhile is simply not found.
    session.execute(update(LoginSession).where(LoginSession.id == login.id)
                    .values(last_seen_at=now,
                            expires_at=max(login.expires_at, now + lifetimes.session + lifetimes.touch))
                    .execution_options(synchronize_session=False))
    return True


def login_sessions_of(session: Session, user: User, *, now: datetime) -> list[LoginSession]:
    """The person's live sessions, the most recently seen first."""
    return list(session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at > now)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())))


def end_login_session(session: Session, *, user: User, login_session_id: int) -> str:
    """End one of ``user``'s sessions; returns its label. Another person's session, or one
    that has already ended, is NotFound (twice at once: the second finds nothing)."""
    label = session.scalar(select(LoginSession.label).where(
        LoginSession.id == login_session_id, LoginSession.user_id == user.id))
    ended = session.execute(delete(LoginSession).where(
        LoginSession.id == login_session_id, LoginSession.user_id == user.id),
        execution_options={"synchronize_session": "fetch"}).rowcount
    if label is None or not ended:
        raise NotFound("We could not find that session; it may have ended already.")
    session.flush()
    return label


def end_every_login_session(session: Session, *, user: User) -> None:
    """End every session of ``user`` on every device. The session generation moves on too,
    which is what a password reset link is checked against."""
    user.session_generation += 1
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id),
                    execution_options={"synchronize_session": "fetch"})
    session.flush()
