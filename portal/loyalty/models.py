"""Loyalty points: the program's rules, the append-only ledger and each person's balance."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text,
                        text)
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime


class EntryKind(StrEnum):
    EARNED = "earned"        # on a paid standing-order order; expires
    REDEEMED = "redeemed"    # paid for items
    EXPIRED = "expired"      # left unspent past its expiry
    REVERSED = "reversed"    # an order cancelled or refunded: earned points taken back (negative),
                             # points spent on it given back (positive)


KIND_LABELS = {EntryKind.EARNED: "Earned", EntryKind.REDEEMED: "Spent",
               EntryKind.EXPIRED: "Expired", EntryKind.REVERSED: "Reversed"}


class LoyaltyProgram(Base):
    """One version of the company's points program, a validated document
    (``portal.loyalty.rules.Program``); the newest row is the one in force."""

    __tablename__ = "loyalty_programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[str] = mapped_column(Text)   # JSON, as Program.to_document writes it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(200), default="")


class PointsAccount(Base):
    """A person's balance: the sum of their ledger, kept beside it so that spending can be a
    conditional update and the database refuses a negative balance whatever the code does."""

    __tablename__ = "points_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)


class PointsEntry(Base):
    """One line of the ledger. Never updated or deleted. Entries with ``expires_on`` are the
    points earned (and their reversals): a lot that expires; the others spend or give back."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        CheckConstraint("kind IN ('earned', 'redeemed', 'expired', 'reversed')", name="kind_known"),
        CheckConstraint("(kind = 'earned' AND points > 0 AND expires_on IS NOT NULL "
                        "AND order_id IS NOT NULL) OR (kind IN ('redeemed', 'expired') AND points < 0 "
                        "AND expires_on IS NULL) OR (kind = 'reversed' AND points <> 0 "
                        "AND order_id IS NOT NULL)", name="points_match_kind"),
        Index("ix_points_ledger_user_id_at", "user_id", "at"),
        # Exactly once per order: one award and one redemption (a retried charge, two processes).
        Index("uq_points_ledger_earned_order", "order_id", unique=True,
              postgresql_where=text("kind = 'earned'")),
        Index("uq_points_ledger_redeemed_order", "order_id", unique=True,
              postgresql_where=text("kind = 'redeemed'")),
        Index("ix_points_ledger_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))
    points: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_on: Mapped[date | None] = mapped_column(Date)
    rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))   # the percentage earned at
    streak_months: Mapped[int | None] = mapped_column(Integer)    # the month count it was earned in
    note: Mapped[str] = mapped_column(String(200), default="")

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[EntryKind(self.kind)]


class PointsOnStandingOrder(Base):
    """A standing order whose person chose "use my points on this order": when its order is
    charged, the items the balance covers are paid with points."""

    __tablename__ = "points_standing_orders"

    profile_id: Mapped[int] = mapped_column(ForeignKey("autoship_profiles.id", ondelete="CASCADE"),
                                            primary_key=True)
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
