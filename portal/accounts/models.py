from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, literal_column
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TreePath, UTCDateTime
from portal.clock import utcnow


class Role(StrEnum):
    MEMBER = "member"
    IBO = "ibo"
    ADMIN = "admin"
    SUPPORT = "support"  # company staff with fewer rights: looks, acts for members, small refunds


SHOPPER_ROLES = frozenset({Role.MEMBER, Role.IBO})
STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPPORT})


def search_key(column: str):
    """A name or email as the staff's member search reads it: lower case, compared byte by byte
    (COLLATE "C"), so that a prefix is one ordered range of its index whatever the database's
    collation."""
    return func.lower(literal_column(column)).collate("C")


def _search_index(name: str, *columns: str) -> Index:
    """An index of the member search. Migration ``support`` builds it over ``search_key``
    (COLLATE "C" included); it is declared here without the COLLATE because reflection drops
    it, and the schema test compares the two. tests/support/test_search.py reads the real
    definition and the plan."""
    return Index(name, *(func.lower(literal_column(column)) for column in columns))


class User(UserMixin, Base):
    """A member, an IBO or an admin. Members and IBOs sit in the sponsor tree (the genealogy).

    ``tree_path`` is the materialised path of ids from the root, e.g. ``/1/45/203/``: everyone
    in someone's downline has a path that starts with theirs, so a downline is one index range.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('member', 'ibo', 'admin', 'support')", name="role_known"),
        CheckConstraint("depth >= 0", name="depth_not_negative"),
        Index("ix_users_sponsor_id", "sponsor_id"),
        # Every path stores the address lower-cased (normalise_email), so the plain unique
        # constraint on email holds for them; this one holds for rows written any other way
        # (an import, SQL by hand) too.
        Index("uq_users_lower_email", func.lower(literal_column("email")), unique=True),
        # Downline counts per level read only this index, never the table (BENCHMARKS.md, genealogy);
        # with the id, so do the joins of a downline to its standing orders.
        Index("ix_users_downline", "tree_path", "depth", "role", postgresql_include=["id"]),
        # The staff's member search (portal/support/search.py): a prefix of a last name, first
        # name or email is one ordered range of one of these, at any number of members.
        _search_index("ix_users_search_last_name", "last_name", "first_name"),
        _search_index("ix_users_search_first_name", "first_name", "last_name"),
        _search_index("ix_users_search_email", "email"),
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
    def is_staff(self) -> bool:
        """Company staff: an admin or support. Staff do not shop for themselves."""
        return self.role in STAFF_ROLES

    @property
    def is_shopper(self) -> bool:
        return self.role in SHOPPER_ROLES

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
    # Staff acting for a member in this browser (portal/acting.py): kept with the signed-in
    # session on the server, so stopping (or logging out) ends it for every copy of the cookie.
    acting_for_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # Loaded with its session in one statement: checking a request costs one primary-key lookup.
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True, foreign_keys=[user_id])


class AuditEntry(Base):
    """One thing a staff member did for a member: who, for whom, what, when, and how it stood
    before and after. Written by the same services the member uses, whenever the actor is not
    the owner (``portal.accounts.audit``); never changed afterwards."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_member_id_at", "member_id", "at"),
                      Index("ix_audit_entries_actor_id", "actor_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    area: Mapped[str] = mapped_column(String(20))       # autoship, addresses, cart, acting, notes
    subject: Mapped[str] = mapped_column(String(200))   # "standing order “Monthly essentials”"
    action: Mapped[str] = mapped_column(String(80))     # "item changed"
    details: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User] = relationship(foreign_keys=[actor_id])
    member: Mapped[User] = relationship(foreign_keys=[member_id])
