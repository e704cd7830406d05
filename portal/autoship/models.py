"""Standing-order (autoship) profiles: what recurs, when, where to and paid how."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.catalog.models import Product
from portal.db import Base, Money, UTCDateTime, Volume
from portal.clock import utcnow


class ProfileStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    PAYMENT_FAILED = "payment_failed"  # the last run could not be charged: not silently continued
    # The engine could not work out a date of its schedule (set_aside_reason says why); it waits
    # for a new schedule instead of stopping everyone else's run.
    UNPLANNABLE = "unplannable"
    CANCELLED = "cancelled"


class Regularity(StrEnum):
    CALENDAR = "calendar"  # fixed pattern from the anchor date
    ROLLING = "rolling"    # one interval after the last order actually placed


class PricePolicy(StrEnum):
    RUN_TIME = "run_time"  # the catalog price on the run date
    LOCKED = "locked"      # the price when the item was added


class OutOfStockPolicy(StrEnum):
    BACKORDER = "backorder"  # ship the rest now, the missing item when it arrives
    SKIP_ITEM = "skip_item"  # leave the missing item out of this cycle


STATUS_LABELS = {ProfileStatus.ACTIVE: "Active", ProfileStatus.PAUSED: "Paused",
                 ProfileStatus.PAYMENT_FAILED: "Payment failed",
                 ProfileStatus.UNPLANNABLE: "Needs a new schedule",
                 ProfileStatus.CANCELLED: "Cancelled"}

SHIPPING_METHODS = {"standard": "Standard (3-5 days)", "express": "Express (1-2 days)"}
# How the history words a price policy and an out-of-stock policy.
PRICE_POLICY_WORDS = {PricePolicy.RUN_TIME: "the price on each shipment date",
                      PricePolicy.LOCKED: "the price when each item was added"}
OUT_OF_STOCK_WORDS = {OutOfStockPolicy.BACKORDER: "shipped when they arrive",
                      OutOfStockPolicy.SKIP_ITEM: "left out of that shipment"}
# The delivery fields, as the history names them: (the name older rows used, the words).
DELIVERY_FIELDS = (("address", "Ship-to"), ("card", "Card"), ("shipping", "Shipping"),
                   ("price", "Price"), ("out of stock", "Out-of-stock items"))


class AutoshipProfile(Base):
    __tablename__ = "autoship_profiles"
    __table_args__ = (
        # A person's profiles by status: the team views read status, soonest active run,
        # cycle PV and schedule of everybody in a downline from this index alone.
        Index("ix_autoship_profiles_user_id_status", "user_id", "status", "next_run_date",
              "cycle_pv", "rrule", "anchor_date", "regularity"),
        # The engine's scan: active profiles due on or before a date, in id order.
        Index("ix_autoship_profiles_due", "next_run_date", "id",
              postgresql_where=text("status = 'active'")),
        CheckConstraint("status IN ('active', 'paused', 'payment_failed', 'unplannable', 'cancelled')",
                        name="status_known"),
        CheckConstraint("regularity IN ('calendar', 'rolling')", name="regularity_known"),
        CheckConstraint("price_policy IN ('run_time', 'locked')", name="price_policy_known"),
        CheckConstraint("out_of_stock_policy IN ('backorder', 'skip_item')",
                        name="out_of_stock_policy_known"),
        CheckConstraint("status <> 'active' OR next_run_date IS NOT NULL", name="active_has_next_run"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=ProfileStatus.ACTIVE)
    rrule: Mapped[str] = mapped_column(String(200))
    anchor_date: Mapped[date] = mapped_column(Date)
    regularity: Mapped[str] = mapped_column(String(10), default=Regularity.CALENDAR)
    next_run_date: Mapped[date | None] = mapped_column(Date)
    paused_until: Mapped[date | None] = mapped_column(Date)  # automatic resume date
    last_order_date: Mapped[date | None] = mapped_column(Date)
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id"))
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    shipping_method: Mapped[str] = mapped_column(String(16), default="standard")
    price_policy: Mapped[str] = mapped_column(String(10), default=PricePolicy.RUN_TIME)
    out_of_stock_policy: Mapped[str] = mapped_column(String(10), default=OutOfStockPolicy.BACKORDER)
    # The PV one run brings as the items and the catalog stand (portal.autoship.volume keeps
    # it current); None when no item can be sold any more.
    cycle_pv: Mapped[Decimal | None] = mapped_column(Volume)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the engine set the profile aside (status 'unplannable'); None otherwise.
    set_aside_reason: Mapped[str | None] = mapped_column(String(300))

    items: Mapped[list["AutoshipItem"]] = relationship(
        back_populates="profile", order_by="AutoshipItem.id", cascade="all, delete-orphan")
    skips: Mapped[list["AutoshipSkip"]] = relationship(
        order_by="AutoshipSkip.skip_date", cascade="all, delete-orphan")
    # What goes with the next shipment only ("this time only"), not yet shipped or removed.
    one_time_lines: Mapped[list["AutoshipOneTimeLine"]] = relationship(
        primaryjoin="and_(AutoshipOneTimeLine.profile_id == AutoshipProfile.id, "
                    "AutoshipOneTimeLine.status == 'pending')",
        order_by="AutoshipOneTimeLine.id", viewonly=True)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[ProfileStatus(self.status)]


class AutoshipItem(Base):
    __tablename__ = "autoship_items"
    __table_args__ = (
        UniqueConstraint("profile_id", "product_id", "unit_code"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_code IN ('each', 'case', 'lot')", name="unit_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("autoship_profiles.id", ondelete="CASCADE"),
                                            index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int]
    # Filled when the profile locks prices: the unit's price and volume when it was added.
    locked_price: Mapped[Decimal | None] = mapped_column(Money)
    locked_pv: Mapped[Decimal | None] = mapped_column(Volume)
    locked_bv: Mapped[Decimal | None] = mapped_column(Volume)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    profile: Mapped[AutoshipProfile] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(lazy="joined")


class OneTimeStatus(StrEnum):
    PENDING = "pending"    # goes with the profile's next order
    SHIPPED = "shipped"    # went into that order (order_id)
    LEFT_OUT = "left_out"  # that order was made without it (no longer sold, or out of stock)
    REMOVED = "removed"    # the member took it out before the cutoff


class AutoshipOneTimeLine(Base):
    """An item added to a standing order's next shipment only: the engine (or Ship now) puts
    it into the profile's next order together with the recurring items, once, and settles it.

    Exactly one line per press: the button's idempotency key is unique, so a double press, a
    retried request or two tabs sending the same key find this row instead of adding another."""

    __tablename__ = "autoship_one_time_lines"
    __table_args__ = (
        # The engine's probe: the pending lines of a chunk's due profiles.
        Index("ix_autoship_one_time_lines_pending", "profile_id", "id",
              postgresql_where=text("status = 'pending'")),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_code IN ('each', 'case', 'lot')", name="unit_known"),
        CheckConstraint("status IN ('pending', 'shipped', 'left_out', 'removed')", name="status_known"),
        CheckConstraint("status <> 'shipped' OR order_id IS NOT NULL", name="shipped_has_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("autoship_profiles.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    unit_code: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int]
    # Filled when the profile locks prices, as for its items.
    locked_price: Mapped[Decimal | None] = mapped_column(Money)
    locked_pv: Mapped[Decimal | None] = mapped_column(Volume)
    locked_bv: Mapped[Decimal | None] = mapped_column(Volume)
    run_date: Mapped[date] = mapped_column(Date)  # the shipment it was added for
    status: Mapped[str] = mapped_column(String(10), default=OneTimeStatus.PENDING)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    added_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # shipped, left out or removed

    product: Mapped[Product] = relationship(lazy="joined")


class AutoshipSkip(Base):
    """A skipped occurrence, keyed by its date, so it survives unrelated edits."""

    __tablename__ = "autoship_skips"

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("autoship_profiles.id", ondelete="CASCADE"), primary_key=True)
    skip_date: Mapped[date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutoshipEvent(Base):
    """The audit history of a profile: who changed what, when."""

    __tablename__ = "autoship_events"
    __table_args__ = (Index("ix_autoship_events_profile_id_at", "profile_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("autoship_profiles.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text, default="")  # in words, written with the change

    # Who made the change: the owner, staff acting for them ("by ... for ..."), or None.
    actor: Mapped["User | None"] = relationship(foreign_keys=[actor_id])

    @property
    def description(self) -> str:
        """``details`` as the history shows them. Delivery changes recorded before the history
        was kept in words read "card: 4 → 14" (database ids): those name the field that
        changed, and the old and new values where they were words already."""
        if self.action != "delivery changed" or not self.details.startswith(
                tuple(f"{old}: " for old, _ in DELIVERY_FIELDS)):
            return self.details
        words = dict(DELIVERY_FIELDS)
        values = {"shipping": SHIPPING_METHODS, "price": PRICE_POLICY_WORDS,
                  "out of stock": OUT_OF_STOCK_WORDS}
        sentences = []
        for change in self.details.split("; "):
            field, _, change = change.partition(": ")
            old, _, new = change.partition(" → ")
            if field in values and old in values[field] and new in values[field]:
                sentences.append(f"{words.get(field, field)} changed from {values[field][old]} "
                                 f"to {values[field][new]}.")
            else:
                sentences.append(f"{words.get(field, field)} changed.")
        return " ".join(sentences)


class AutoshipOccurrence(Base):
    """What became of a due date that produced no order: skipped, missed during downtime, or
    an item left out. Orders themselves carry (profile, due date) and are unique on it."""

    __tablename__ = "autoship_occurrences"
    __table_args__ = (
        CheckConstraint("outcome IN ('skipped', 'missed', 'paused', 'failed')", name="outcome_known"),
    )

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("autoship_profiles.id", ondelete="CASCADE"), primary_key=True)
    due_date: Mapped[date] = mapped_column(Date, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(300), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutoshipPreference(Base):
    """A person's defaults for new profiles ("Make this my autoship")."""

    __tablename__ = "autoship_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    rrule: Mapped[str] = mapped_column(String(200))
    regularity: Mapped[str] = mapped_column(String(10), default=Regularity.CALENDAR)


class CalendarFeed(Base):
    """A secret, revocable iCalendar URL per person; only the token's hash is kept."""

    __tablename__ = "autoship_calendar_feeds"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AutoshipRun(Base):
    """One materialisation of every profile due on or before ``as_of``. Re-running a date
    reuses its row: the orders are unique per (profile, due date), so a re-run creates none.

    The row is history: each start is an attempt (``history``) whose chunks carry its number,
    and the counters here are the totals of all attempts, which only ever grow."""

    __tablename__ = "autoship_runs"
    __table_args__ = (
        UniqueConstraint("as_of"),
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=RunStatus.RUNNING)
    trigger: Mapped[str] = mapped_column(String(20), default="cron")
    attempts: Mapped[int] = mapped_column(default=1)
    chunks_total: Mapped[int] = mapped_column(default=0)
    chunks_done: Mapped[int] = mapped_column(default=0)
    due: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    missed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    set_aside: Mapped[int] = mapped_column(default=0)  # due profiles whose schedule could not be planned
    resumed: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    chunks: Mapped[list["AutoshipRunChunk"]] = relationship(order_by="AutoshipRunChunk.number",
                                                             cascade="all, delete-orphan")
    history: Mapped[list["AutoshipRunAttempt"]] = relationship(
        order_by="AutoshipRunAttempt.number", cascade="all, delete-orphan")

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)


class AutoshipRunAttempt(Base):
    """One start of a run: the first, or a re-run of its date (CLI, admin). What it found due
    is kept here; what its chunks did is on the chunks that carry its number."""

    __tablename__ = "autoship_run_attempts"

    run_id: Mapped[int] = mapped_column(ForeignKey("autoship_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due: Mapped[int] = mapped_column(default=0)
    resumed: Mapped[int] = mapped_column(default=0)


class AutoshipRunChunk(Base):
    """A keyset range of due profiles, processed by one job in one transaction. Numbers run on
    across attempts, so a re-run's chunks sit beside the earlier ones."""

    __tablename__ = "autoship_run_chunks"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status_known"),
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("autoship_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)
    attempt: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    low_id: Mapped[int]
    high_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    due: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    missed: Mapped[int] = mapped_column(default=0)
    set_aside: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float | None]
    error: Mapped[str] = mapped_column(String(500), default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AutoshipReminder(Base):
    """The reminder sent before a run date: at most one per profile and date."""

    __tablename__ = "autoship_reminders"

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("autoship_profiles.id", ondelete="CASCADE"), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CardExpiryNotice(Base):
    """A member was told that the card on a standing order expires before its next run: once
    per card, standing order and threshold (30 days ahead, 7 days ahead), whatever runs twice."""

    __tablename__ = "card_expiry_notices"
    __table_args__ = (
        UniqueConstraint("payment_method_id", "profile_id", "days_ahead"),
        CheckConstraint("days_ahead > 0", name="days_ahead_positive"),
        Index("ix_card_expiry_notices_profile_id", "profile_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("autoship_profiles.id", ondelete="CASCADE"))
    days_ahead: Mapped[int]   # the threshold this notice is for
    run_date: Mapped[date] = mapped_column(Date)  # the run the card would have failed
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
