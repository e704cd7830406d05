from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func, literal_column
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TreePath, UTCDateTime
from portal.clock import utcnow


class Role(StrEnum):
    MEMBER = "member"
    IBO = "ibo"
    ADMIN = "admin"


class User(UserMixin, Base):
    """A member, an IBO or an admin. Members and IBOs sit in the sponsor tree (the genealogy).

    ``tree_path`` is the materialised path of ids from the root, e.g. ``/1/45/203/``: everyone
    in someone's downline has a path that starts with theirs, so a downline is one index range.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('member', 'ibo', 'admin')", name="role_known"),
        CheckConstraint("depth >= 0", name="depth_not_negative"),
        Index("ix_users_sponsor_id", "sponsor_id"),
        # Every path stores the address lower-cased (normalise_email), so the plain unique
        # constraint on email holds for them; this one holds for rows written any other way
        # (an import, SQL by hand) too.
        Index("uq_users_lower_email", func.lower(literal_column("email")), unique=True),
        # Downline counts per level read only this index, never the table (BENCHMARKS.md, genealogy);
        # with the id, so do the joins of a downline to its standing orders.
        Index("ix_users_downline", "tree_path", "depth", "role", postgresql_include=["id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_number: Mapped[str] = mapped_column(String(12), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(10), default=Role.MEMBER)
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    tree_path: Mapped[str | None] = mapped_column(TreePath, unique=True)
    depth: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on password change: sessions issued before it stop working (log out everywhere).
    session_generation: Mapped[int] = mapped_column(default=0)

    sponsor: Mapped["User | None"] = relationship(remote_side=[id])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def short_name(self) -> str:
        return f"{self.first_name} {self.last_name[:1]}." if self.last_name else self.first_name

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_ibo(self) -> bool:
        return self.role == Role.IBO

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive accounts cannot log in
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation}"

    def __repr__(self) -> str:
        return f"<User {self.member_number} {self.role}>"


class LoginSession(Base):
    """One signed-in browser: a row per login, so that logging out ends it on the server.

    The browser's session (and its "keep me logged in" cookie) carries ``<id>:<token>``; only
    the token's SHA-256 is stored, so a copy of the database opens no session. Ending a
    session deletes its row: a copy of the cookie taken before then names nothing.
    ``expires_at`` is when the server stops honouring it even if nobody logs out: the session
    lifetime after it was last seen, or the "keep me logged in" duration after the login.
    """

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(80))  # "Firefox on Windows"
    remember: Mapped[bool] = mapped_column(default=False)  # "keep me logged in"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Loaded with its session in one statement: checking a request costs one primary-key lookup.
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
