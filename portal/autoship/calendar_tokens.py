"""The secret links of members' calendar feeds: issuing one, revoking it, and finding whose a
link is. Only a hash of each token is stored: a copy of the database (a backup, a replica)
opens nobody's calendar, and there is no key to keep. So the link itself can be shown only
when it is issued; afterwards the page says since when a link is active, and offers to replace
it or turn it off."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.autoship.models import CalendarFeed


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_calendar_token(session: Session, *, user: User) -> str:
    """A new secret feed URL token; any earlier one stops working."""
    token = secrets.token_urlsafe(24)
    session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    session.add(CalendarFeed(user_id=user.id, token_hash=_token_hash(token)))
    session.flush()
    return token


def current_calendar_link(session: Session, *, user: User) -> CalendarFeed | None:
    """The person's active link (its hash and when it was issued), or None."""
    return session.get(CalendarFeed, user.id)


def revoke_calendar_token(session: Session, *, user: User) -> None:
    session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    session.flush()


def feed_owner(session: Session, token: str) -> User | None:
    """The member whose current feed link ``token`` is; None for an unknown or revoked one."""
    if not token or len(token) > 100:
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _token_hash(token)))
    return session.get(User, feed.user_id) if feed else None
