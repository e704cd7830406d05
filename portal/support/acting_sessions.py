"""Starting and stopping acting for a member in one signed-in session (see portal/acting.py).
Both are audited; starting for another member while acting stops the first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.audit import record_for_member
from portal.accounts.models import LoginSession, User
from portal.errors import DomainError, Forbidden, NotFound


class ActingError(DomainError):
    pass


def _own_login_session(session: Session, actor: User, login_session_id: int | None) -> LoginSession:
    login = session.scalar(select(LoginSession).where(
        LoginSession.id == (login_session_id or 0), LoginSession.user_id == actor.id)
        .with_for_update())
    if login is None:
        raise NotFound("This browser's session has ended; log in again.")
    return login


def start_acting(session: Session, *, actor: User, login_session_id: int | None,
                 member: User) -> None:
    """From now on, in this signed-in session, ``actor`` (staff) uses ``member``'s pages."""
    if not actor.is_staff:
        raise Forbidden("Only staff can act for a member.")
    if not member.is_shopper or not member.active:
        raise ActingError("You can act only for an active member or IBO.")
    login = _own_login_session(session, actor, login_session_id)
    if login.acting_for_id == member.id:
        return
    if login.acting_for_id is not None:
        stop_acting(session, actor=actor, login_session_id=login_session_id)
    login.acting_for_id = member.id
    record_for_member(session, actor=actor, member_id=member.id, area="acting",
                      subject="acting for the member", action="started acting for the member")


def stop_acting(session: Session, *, actor: User, login_session_id: int | None) -> User | None:
    """Back to the staff member's own view; the member acted for until now, or None."""
    login = _own_login_session(session, actor, login_session_id)
    if login.acting_for_id is None:
        return None
    member = session.get(User, login.acting_for_id)
    login.acting_for_id = None
    session.flush()
    record_for_member(session, actor=actor, member_id=member.id, area="acting",
                      subject="acting for the member", action="stopped acting for the member")
    return member
