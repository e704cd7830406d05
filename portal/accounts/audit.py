"""The audit log of what staff do for members: one ``AuditEntry`` per change, written in the
same transaction as the change by the service that made it, whenever the actor is not the
member whose thing it is."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.accounts.models import AuditEntry, User


def acts_for_another(actor: User | None, owner_id: int) -> bool:
    """Whether a change by ``actor`` to something of ``owner_id``'s is made for them by
    somebody else (None: the system, which the history names itself)."""
    return actor is not None and actor.id != owner_id


def record_for_member(session: Session, *, actor: User, member_id: int, area: str, subject: str,
                      action: str, details: str = "", before: str = "", after: str = "") -> AuditEntry:
    """Write down that ``actor`` did ``action`` to the member's ``subject``, with how it
    stood ``before`` and ``after`` (plain words, no card numbers: labels only)."""
    entry = AuditEntry(actor_id=actor.id, member_id=member_id, area=area, subject=subject[:200],
                       action=action[:80], details=details[:4000], before=before[:4000],
                       after=after[:4000])
    session.add(entry)
    session.flush()
    return entry
