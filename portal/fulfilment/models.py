"""Inventory and shipment planning: receipts, expected arrivals, planning runs and the plan.

Stock itself is ``catalog.StockLevel`` (on hand, allocated). Allocated is always the sum of
the picks of planned and released shipments; shipping a shipment takes its picks off both
on hand and allocated. The check constraint ``allocated <= on_hand`` keeps available stock
from going negative whatever runs at the same time.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.catalog.models import Product
from portal.db import Base, UTCDateTime
from portal.clock import utcnow


class PurchaseOrder(Base):
    """An expected arrival from a supplier: a reference, a date, and lines per product."""

    __tablename__ = "purchase_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    supplier: Mapped[str] = mapped_column(String(120), default="")
    expected_on: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    lines: Mapped[list["PurchaseOrderLine"]] = relationship(
        back_populates="purchase_order", order_by="PurchaseOrderLine.id",
        cascade="all, delete-orphan")


class PurchaseOrderLine(Base):
    """Eaches of one product expected on a purchase order; open while fewer were received."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "product_id"),
        CheckConstraint("eaches_expected > 0", name="expected_positive"),
        CheckConstraint("eaches_received >= 0", name="received_not_negative"),
        Index("ix_purchase_order_lines_product_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    eaches_expected: Mapped[int]
    eaches_received: Mapped[int] = mapped_column(default=0)

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship(lazy="joined")

    @property
    def eaches_outstanding(self) -> int:
        return max(self.eaches_expected - self.eaches_received, 0)


class InventoryReceipt(Base):
    """Eaches of a product that arrived, optionally against a purchase-order line."""

    __tablename__ = "inventory_receipts"
    __table_args__ = (
        CheckConstraint("eaches > 0", name="eaches_positive"),
        Index("ix_inventory_receipts_received_at", "received_at"),
        Index("ix_inventory_receipts_product_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    eaches: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(200), default="")
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    purchase_order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchase_order_lines.id", ondelete="SET NULL"))

    product: Mapped[Product] = relationship(lazy="joined")
    purchase_order_line: Mapped[PurchaseOrderLine | None] = relationship()


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PlanningRun(Base):
    """One run of the planner: what it saw, what it planned, how long each phase took."""

    __tablename__ = "planning_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status_known"),
        Index("ix_planning_runs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=RunStatus.RUNNING)
    trigger: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")

    orders: Mapped[int] = mapped_column(default=0)           # open orders planned
    lines: Mapped[int] = mapped_column(default=0)            # their lines with eaches to ship
    eaches_demanded: Mapped[int] = mapped_column(default=0)
    eaches_allocated: Mapped[int] = mapped_column(default=0)
    lines_filled: Mapped[int] = mapped_column(default=0)     # lines picked in full
    shipments_complete: Mapped[int] = mapped_column(default=0)
    shipments_partial: Mapped[int] = mapped_column(default=0)
    orders_shipping: Mapped[int] = mapped_column(default=0)  # orders with a pick
    orders_split: Mapped[int] = mapped_column(default=0)     # of those, shipping only in part
    orders_waiting: Mapped[int] = mapped_column(default=0)   # orders with no pick at all
    load_ms: Mapped[int] = mapped_column(default=0)
    plan_ms: Mapped[int] = mapped_column(default=0)
    save_ms: Mapped[int] = mapped_column(default=0)

    @property
    def shipments(self) -> int:
        return self.shipments_complete + self.shipments_partial

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds() * 1000)

    @property
    def shipments_per_order(self) -> float | None:
        """Shipments planned per order they carry: below 1 when siblings share a box."""
        return self.shipments / self.orders_shipping if self.orders_shipping else None

    @property
    def split_rate(self) -> float | None:
        """Share of the orders in shipments that ship only in part now."""
        return self.orders_split / self.orders_shipping if self.orders_shipping else None

    @property
    def line_fill_rate(self) -> float | None:
        """Share of the open order lines planned in full."""
        return self.lines_filled / self.lines if self.lines else None


class ShipmentKind(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"


class ShipmentStatus(StrEnum):
    PLANNED = "planned"    # replaced by the next planning run
    RELEASED = "released"  # handed to the warehouse: kept, its stock stays allocated
    SHIPPED = "shipped"    # gone: its eaches left on hand and allocated


SHIPMENT_STATUS_LABELS = {ShipmentStatus.PLANNED: "Planned", ShipmentStatus.RELEASED: "Released",
                          ShipmentStatus.SHIPPED: "Shipped"}


class Shipment(Base):
    """One box to one destination, as a planning run decided it."""

    __tablename__ = "shipments"
    __table_args__ = (
        CheckConstraint("kind IN ('complete', 'partial')", name="kind_known"),
        CheckConstraint("status IN ('planned', 'released', 'shipped')", name="status_known"),
        Index("ix_shipments_status_position", "status", "position"),
        Index("ix_shipments_run_id", "run_id"),
        Index("ix_shipments_destination_key", "destination_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("planning_runs.id"))  # the run that first planned it
    position: Mapped[int]  # place in the latest plan: pass 1 first, then pass 2
    destination_key: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=ShipmentStatus.PLANNED)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the warehouse reported when it shipped: the carrier, the day it left and who said so.
    carrier: Mapped[str | None] = mapped_column(String(40))
    shipped_on: Mapped[date | None] = mapped_column(Date)
    shipped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    picks: Mapped[list["ShipmentPick"]] = relationship(
        back_populates="shipment", order_by="ShipmentPick.id", cascade="all, delete-orphan",
        passive_deletes=True)
    tracking_numbers: Mapped[list["TrackingNumber"]] = relationship(
        order_by="TrackingNumber.id", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def number(self) -> str:
        return f"SH{self.id:08d}"

    @property
    def status_label(self) -> str:
        return SHIPMENT_STATUS_LABELS[ShipmentStatus(self.status)]


class ShipmentPick(Base):
    """Eaches of one order line in a shipment: the allocation of stock to that line."""

    __tablename__ = "shipment_picks"
    __table_args__ = (
        UniqueConstraint("shipment_id", "order_line_id"),
        CheckConstraint("eaches > 0", name="eaches_positive"),
        Index("ix_shipment_picks_order_id", "order_id"),
        Index("ix_shipment_picks_order_line_id", "order_line_id"),
        Index("ix_shipment_picks_product_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    eaches: Mapped[int]

    shipment: Mapped[Shipment] = relationship(back_populates="picks")


class TrackingNumber(Base):
    """One parcel of a shipped shipment, as its carrier numbers it. A number belongs to one
    shipment: the same number twice is a typing or upload mistake, refused by the database too."""

    __tablename__ = "tracking_numbers"
    __table_args__ = (
        UniqueConstraint("number"),
        Index("ix_tracking_numbers_shipment_id", "shipment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(40))


def expire_loaded(session: Session, *classes: type) -> None:
    """Rows of ``classes`` were changed in SQL behind the ORM's back: the ones this session
    holds are reloaded when next read."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, classes):
            session.expire(instance)
