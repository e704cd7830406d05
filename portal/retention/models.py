"""What the cancellation flow, swaps and product replacements record."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime


class Outcome(StrEnum):
    SAVED = "saved"          # the member took an offer instead of cancelling
    CANCELLED = "cancelled"


class Offer(StrEnum):
    SKIP = "skip"
    PAUSE = "pause"
    LATER = "later"          # the next shipment moved to a later date
    SCHEDULE = "schedule"    # a less frequent schedule
    SWAP = "swap"


class Cancellation(Base):
    """One answer of the cancellation flow: why the member wanted to cancel and what they did
    (cancelled, or which offer kept the standing order). ``key`` is the reason page's own: a
    second submission of that page is answered with the first one's outcome."""

    __tablename__ = "autoship_cancellations"
    __table_args__ = (
        Index("ix_autoship_cancellations_at", "at"),
        CheckConstraint("outcome IN ('saved', 'cancelled')", name="outcome_known"),
        CheckConstraint("offer IS NULL OR offer IN ('skip', 'pause', 'later', 'schedule', 'swap')",
                        name="offer_known"),
        CheckConstraint("(outcome = 'saved') = (offer IS NOT NULL)", name="saved_names_offer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("autoship_profiles.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(20))
    details: Mapped[str] = mapped_column(String(500), default="")
    outcome: Mapped[str] = mapped_column(String(10))
    offer: Mapped[str | None] = mapped_column(String(10))
    answer: Mapped[str] = mapped_column(String(500), default="")  # what the member was told
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Swap(Base):
    """An item of a standing order replaced by another product or unit: by its member (``key``,
    the swap form's, makes a resubmission a no-op) or by an admin's replacement (one per
    replacement and profile, so a retried job swaps nothing twice)."""

    __tablename__ = "autoship_swaps"
    __table_args__ = (
        UniqueConstraint("replacement_id", "profile_id"),
        CheckConstraint("from_quantity > 0 AND to_quantity > 0", name="quantities_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("autoship_profiles.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str | None] = mapped_column(String(64), unique=True)
    replacement_id: Mapped[int | None] = mapped_column(
        ForeignKey("autoship_replacements.id", ondelete="CASCADE"))
    from_product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    from_unit: Mapped[str] = mapped_column(String(8))
    from_quantity: Mapped[int]
    to_product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    to_unit: Mapped[str] = mapped_column(String(8))
    to_quantity: Mapped[int]
    words: Mapped[str] = mapped_column(String(500))  # the change as the history and the member read it
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReplacementStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Replacement(Base):
    """An admin's replacement of a product by another (in a chosen unit) in every standing order
    that holds it, run as a job in chunks; the counters grow as chunks commit."""

    __tablename__ = "autoship_replacements"
    __table_args__ = (
        CheckConstraint("product_id <> replacement_product_id", name="another_product"),
        CheckConstraint("unit_code IN ('each', 'case', 'lot')", name="unit_known"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # the confirmation form's
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    replacement_product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    unit_code: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10), default=ReplacementStatus.QUEUED)
    profiles_total: Mapped[int] = mapped_column(default=0)  # as counted when confirmed
    members_total: Mapped[int] = mapped_column(default=0)
    replaced: Mapped[int] = mapped_column(default=0)
    set_aside: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def handled(self) -> int:
        return self.replaced + self.set_aside


class ReplacementSetAside(Base):
    """A standing order a replacement left as it was, with the reason (one per replacement)."""

    __tablename__ = "autoship_replacement_set_asides"

    replacement_id: Mapped[int] = mapped_column(
        ForeignKey("autoship_replacements.id", ondelete="CASCADE"), primary_key=True)
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("autoship_profiles.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
