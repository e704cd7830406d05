from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.addresses.models import (CityName, CountryCode, DestinationKey, Moniker, PostalCode,
                                     RecipientName, RegionName, StreetLine)
from portal.db import Base, Money, UTCDateTime, Volume
from portal.clock import utcnow
from portal.orders.rules import ZERO, order_number
from portal.orders.states import STATUS_LABELS, OrderStatus


class OrderSource(StrEnum):
    CHECKOUT = "checkout"
    AUTOSHIP = "autoship"
    ONECLICK = "oneclick"


# How people read where an order came from.
SOURCE_LABELS = {OrderSource.CHECKOUT: "Checkout", OrderSource.AUTOSHIP: "Autoship",
                 OrderSource.ONECLICK: "1-Click"}


class Order(Base):
    """A real order. Ship-to and payment are copied at placement so history never changes."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_user_id_placed_at", "user_id", "placed_at"),
        Index("ix_orders_status", "status"),
        Index("ix_orders_paid_at", "paid_at"),  # volume reads a period's orders by payment
        Index("ix_orders_destination_key", "destination_key"),
        CheckConstraint(
            "status IN ('open', 'pending_payment', 'paid', 'payment_failed', 'released', 'shipped', "
            "'delivered', 'cancelled')", name="status_known"),
        CheckConstraint("source IN ('checkout', 'autoship', 'oneclick')", name="source_known"),
        CheckConstraint("subtotal >= 0 AND shipping_fee >= 0 AND total = subtotal + shipping_fee",
                        name="totals_add_up"),
        # Exactly one order per standing-order profile per due date: a database fact.
        UniqueConstraint("autoship_profile_id", "autoship_due_date"),
        CheckConstraint("(autoship_profile_id IS NULL) = (autoship_due_date IS NULL)",
                        name="autoship_link_complete"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING_PAYMENT)
    source: Mapped[str] = mapped_column(String(10))
    # One order per idempotency key: a double submit or a retried request finds the first order.
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"))
    # The ship-to, copied from the address: its columns are the address's types.
    ship_moniker: Mapped[str] = mapped_column(Moniker)
    ship_name: Mapped[str] = mapped_column(RecipientName)
    ship_line1: Mapped[str] = mapped_column(StreetLine)
    ship_line2: Mapped[str] = mapped_column(StreetLine, default="")
    ship_city: Mapped[str] = mapped_column(CityName)
    ship_region: Mapped[str] = mapped_column(RegionName)
    ship_postal_code: Mapped[str] = mapped_column(PostalCode)
    ship_country: Mapped[str] = mapped_column(CountryCode)
    destination_key: Mapped[str] = mapped_column(DestinationKey)

    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    payment_label: Mapped[str] = mapped_column(String(60))
    charge_id: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    autoship_profile_id: Mapped[int | None] = mapped_column(ForeignKey("autoship_profiles.id"))
    autoship_due_date: Mapped[date | None] = mapped_column(Date)
    # Single-action orders stay "open" for combining until this moment, then are finalised.
    combine_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expected_ship_date: Mapped[date | None] = mapped_column(Date)
    # Charging: how many attempts so far, and when the next one is due after a decline.
    payment_attempts: Mapped[int] = mapped_column(default=0)
    next_payment_retry_on: Mapped[date | None] = mapped_column(Date)

    subtotal: Mapped[Decimal] = mapped_column(Money)
    shipping_fee: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    pv_total: Mapped[Decimal] = mapped_column(Volume)
    bv_total: Mapped[Decimal] = mapped_column(Volume)

    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan")
    history: Mapped[list["OrderStatusChange"]] = relationship(
        order_by="OrderStatusChange.id", cascade="all, delete-orphan")
    refunds: Mapped[list["Refund"]] = relationship(
        back_populates="order", order_by="Refund.id", cascade="all, delete-orphan")

    @property
    def number(self) -> str:
        return order_number(self.id)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[OrderStatus(self.status)]

    @property
    def cancelled(self) -> bool:
        return self.status == OrderStatus.CANCELLED

    @property
    def nothing_charged(self) -> bool:
        """A cancelled order that was never paid: it shows no total to pay and no PV."""
        return self.cancelled and self.paid_at is None

    @property
    def counted_pv(self) -> Decimal:
        """The PV this order counts for: none once it is cancelled."""
        return ZERO if self.cancelled else self.pv_total

    @property
    def refunded_amount(self) -> Decimal:
        """Money the gateway confirmed it gave back on this order."""
        return sum((r.amount for r in self.refunds if r.status == RefundStatus.SUCCEEDED), ZERO)

    @property
    def refund_label(self) -> str:
        """"Refunded" once everything charged went back, "Partly refunded" before; "" if nothing."""
        refunded = self.refunded_amount
        if not refunded:
            return ""
        return "Refunded" if refunded >= self.total else "Partly refunded"

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[OrderSource(self.source)]

    @property
    def eaches_total(self) -> int:
        return sum(line.eaches for line in self.lines)

    @property
    def ship_to_one_line(self) -> str:
        parts = [self.ship_line1, self.ship_line2,
                 f"{self.ship_city}, {self.ship_region} {self.ship_postal_code}", self.ship_country]
        return ", ".join(p for p in parts if p)


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("eaches = quantity * eaches_per_unit", name="eaches_match_unit"),
        CheckConstraint("line_total = unit_price * quantity", name="line_total_matches"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    unit_code: Mapped[str] = mapped_column(String(8))
    eaches_per_unit: Mapped[int]
    quantity: Mapped[int]
    eaches: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money)
    line_total: Mapped[Decimal] = mapped_column(Money)
    pv: Mapped[Decimal] = mapped_column(Volume)
    bv: Mapped[Decimal] = mapped_column(Volume)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderStatusChange(Base):
    __tablename__ = "order_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(200), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChargeAttempt(Base):
    """One attempt to charge an order. Written (and committed) before the gateway is called,
    with the idempotency key the gateway gets: a worker that dies after the call and before
    recording the outcome leaves a pending attempt, and re-running it replays the same key,
    so the card is never charged twice."""

    __tablename__ = "charge_attempts"
    __table_args__ = (
        UniqueConstraint("order_id", "number"),
        CheckConstraint("outcome IN ('pending', 'succeeded', 'declined', 'error')",
                        name="outcome_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    outcome: Mapped[str] = mapped_column(String(10), default="pending")
    decline_code: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RefundStatus(StrEnum):
    PENDING = "pending"      # written before the gateway is called; its answer not recorded yet
    SUCCEEDED = "succeeded"  # the gateway gave the money back
    FAILED = "failed"        # the gateway refused: nothing went back, the quantities are free again


class Refund(Base):
    """Money given back on an order, in full or by line, once per idempotency key. Written
    (and committed) before the gateway is called: a refund whose answer was lost stays pending,
    holds its quantities, and is sent again with the same key."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("shipping_amount >= 0 AND shipping_amount <= amount",
                        name="shipping_within_amount"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
        CheckConstraint("(status = 'succeeded') = (gateway_refund_id IS NOT NULL)",
                        name="succeeded_has_gateway_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    shipping_amount: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    pv: Mapped[Decimal] = mapped_column(Volume)
    bv: Mapped[Decimal] = mapped_column(Volume)
    reason: Mapped[str] = mapped_column(String(200))
    restock: Mapped[bool] = mapped_column(default=False)
    # One refund per key: a double click or a retried request finds the first one.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gateway_refund_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default=RefundStatus.PENDING)
    message: Mapped[str] = mapped_column(String(300), default="")

    order: Mapped[Order] = relationship(back_populates="refunds")
    actor: Mapped[User | None] = relationship()
    lines: Mapped[list["RefundLine"]] = relationship(
        back_populates="refund", order_by="RefundLine.id", cascade="all, delete-orphan")

    @property
    def number(self) -> str:
        return f"RF{self.id:08d}"

    @property
    def status_label(self) -> str:
        return {RefundStatus.PENDING: "Waiting for the gateway", RefundStatus.SUCCEEDED: "Refunded",
                RefundStatus.FAILED: "Refused by the gateway"}[RefundStatus(self.status)]


class RefundLine(Base):
    """How much of one order line a refund gives back. ``restocked_eaches`` of its eaches went
    back on the shelf."""

    __tablename__ = "refund_lines"
    __table_args__ = (
        UniqueConstraint("refund_id", "order_line_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("restocked_eaches >= 0 AND restocked_eaches <= eaches",
                        name="restocked_within_eaches"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"),
                                               index=True)
    quantity: Mapped[int]
    eaches: Mapped[int]
    restocked_eaches: Mapped[int] = mapped_column(default=0)
    amount: Mapped[Decimal] = mapped_column(Money)
    pv: Mapped[Decimal] = mapped_column(Volume)
    bv: Mapped[Decimal] = mapped_column(Volume)

    refund: Mapped[Refund] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship(lazy="joined")
