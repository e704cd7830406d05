"""Staff notes about a member."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.accounts.audit import record_for_member
from portal.accounts.models import User
from portal.errors import DomainError
from portal.support.models import MAX_NOTE_LENGTH, StaffNote


class NoteError(DomainError):
    pass


def add_note(session: Session, *, actor: User, member: User, body: str) -> StaffNote:
    """A note by ``actor`` (staff) about ``member``; its whitespace tidied at the ends."""
    body = (body or "").strip()
    if not body:
        raise NoteError("Write the note first.", "body")
    if len(body) > MAX_NOTE_LENGTH:
        raise NoteError(f"A note holds at most {MAX_NOTE_LENGTH:,} characters.", "body")
    note = StaffNote(member_id=member.id, author_id=actor.id, body=body)
    session.add(note)
    session.flush()
    record_for_member(session, actor=actor, member_id=member.id, area="notes", subject="staff notes",
                      action="note added", after=body[:200])
    return note
