from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.clock import utcnow
from portal.db import Base, UTCDateTime

MAX_NOTE_LENGTH = 2000


class StaffNote(Base):
    """A note the staff keep about a member ("prefers calls after 5 pm"). Members never see
    them; notes are added, never edited, so the page reads as a log."""

    __tablename__ = "staff_notes"
    __table_args__ = (
        Index("ix_staff_notes_member_id_at", "member_id", "at"),
        CheckConstraint(f"length(body) BETWEEN 1 AND {MAX_NOTE_LENGTH}", name="body_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
