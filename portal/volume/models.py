"""Volume per person and period, the rank plan's versions, adjustments and highest ranks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime, Volume


class RankPlanVersion(Base):
    """One saved version of the rank plan. The plan in force for a period is the highest
    version whose ``effective_from`` is that period or before it."""

    __tablename__ = "rank_plan_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    effective_from: Mapped[date] = mapped_column(Date)
    document: Mapped[dict] = mapped_column(JSONB)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class VolumePeriod(Base):
    """A period that has been computed at least once; closed ones never change again."""

    __tablename__ = "volume_periods"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status_known"),
        CheckConstraint("extract(day from period) = 1", name="first_of_month"),
    )

    period: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    plan_version_id: Mapped[int | None] = mapped_column(ForeignKey("rank_plan_versions.id"))
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PersonVolume(Base):
    """A person's volume and paid-as rank in a period.

    A row exists for a member with PV of their own in the period (gv = pv, no rank) and for an
    IBO whose PV is not zero or who has a leg with a row. ``leg_of_id`` is the nearest IBO above
    (whose leg this IBO's group is; members point at the IBO credited with their volume), so
    someone's legs are one index range. ``role`` is the person's role when it was computed."""

    __tablename__ = "person_volumes"
    __table_args__ = (
        Index("ix_person_volumes_leg_of", "period", "leg_of_id"),
        Index("ix_person_volumes_user_id", "user_id", "period"),
    )

    period: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(10))
    own_pv: Mapped[Decimal] = mapped_column(Volume)   # of the person's own orders
    pv: Mapped[Decimal] = mapped_column(Volume)       # an IBO's: own + directly sponsored members'
    gv: Mapped[Decimal] = mapped_column(Volume)
    rank: Mapped[str | None] = mapped_column(String(20))
    frontline_legs: Mapped[int] = mapped_column(default=0)   # legs with a row this period
    leg_of_id: Mapped[int | None] = mapped_column()  # no foreign key: written by COPY in bulk


class VolumeAdjustment(Base):
    """Volume that left an order after its period was closed, landing in the open period.

    ``user_id`` is the buyer: the adjustment is credited as the order was (to the buyer if an
    IBO, else to the buyer and their sponsoring IBO). ``refund_id`` keeps a refund's adjustment
    from being written twice."""

    __tablename__ = "volume_adjustments"
    __table_args__ = (
        Index("ix_volume_adjustments_period", "period", "user_id"),
        Index("uq_volume_adjustments_order_refund", "order_id", "refund_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    refund_id: Mapped[str] = mapped_column(String(64))   # "cancelled" for a cancellation
    pv: Mapped[Decimal] = mapped_column(Volume)
    bv: Mapped[Decimal] = mapped_column(Volume)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderRefundVolume(Base):
    """What each confirmed refund took off an order's volume (as ``order_refunded`` carries it):
    the order counts in its own period for its PV less these."""

    __tablename__ = "order_refund_volumes"
    __table_args__ = (Index("ix_order_refund_volumes_order_id", "order_id"),)

    refund_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    pv: Mapped[Decimal] = mapped_column(Volume)
    bv: Mapped[Decimal] = mapped_column(Volume)
    refunded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HighestRank(Base):
    """The highest rank a person has been paid as, and the first period they were."""

    __tablename__ = "highest_ranks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[str] = mapped_column(String(20))
    period: Mapped[date] = mapped_column(Date)
