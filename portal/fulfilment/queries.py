"""Read side of fulfilment: the latest plan, what waits, the runs, inventory lists, and how a
member's order will ship."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import Session

from portal.catalog.models import Product, StockLevel
from portal.fulfilment.models import (InventoryReceipt, PlanningRun, PurchaseOrder, PurchaseOrderLine,
                                      RunStatus, Shipment, ShipmentPick, ShipmentStatus,
                                      TrackingNumber)
from portal.fulfilment.planning import expected_arrivals_query
from portal.fulfilment.tracking import parcels
from portal.orders.models import Order, OrderLine
from portal.orders.refund_amounts import holding_refunds
from portal.orders.rules import order_number
from portal.orders.states import OrderStatus

OPEN_SHIPMENT_STATUSES = (ShipmentStatus.PLANNED, ShipmentStatus.RELEASED)


def latest_run(session: Session) -> PlanningRun | None:
    """The newest planning run that succeeded: the plan on show is its plan."""
    return session.scalar(select(PlanningRun).where(PlanningRun.status == RunStatus.SUCCEEDED)
                          .order_by(PlanningRun.id.desc()).limit(1))


def runs_query() -> Select:
    return select(PlanningRun).order_by(PlanningRun.id.desc())


def shipments_query(status: str = ShipmentStatus.PLANNED, kind: str = "") -> Select:
    query = select(Shipment).where(Shipment.status == status)
    if kind in ("complete", "partial"):
        query = query.where(Shipment.kind == kind)
    if status == ShipmentStatus.PLANNED:
        return query.order_by(Shipment.position, Shipment.id)
    return query.order_by(Shipment.id.desc())


def shipment_counts(session: Session) -> dict[tuple[str, str], int]:
    """(status, kind) -> number of shipments."""
    return {(status, kind): count for status, kind, count in session.execute(
        select(Shipment.status, Shipment.kind, func.count()).group_by(Shipment.status, Shipment.kind))}


@dataclass
class ShipmentSummary:
    ship_name: str = ""
    ship_place: str = ""
    orders: list[tuple[int, str]] = field(default_factory=list)  # (id, number)
    eaches: int = 0
    lines: int = 0


def shipment_summaries(session: Session, shipment_ids: list[int]) -> dict[int, ShipmentSummary]:
    """Who a page of shipments goes to and what they carry, in one query."""
    summaries: dict[int, ShipmentSummary] = defaultdict(ShipmentSummary)
    if not shipment_ids:
        return summaries
    for shipment_id, order_id, name, city, region, eaches, lines in session.execute(
            select(ShipmentPick.shipment_id, Order.id, Order.ship_name, Order.ship_city,
                   Order.ship_region, func.sum(ShipmentPick.eaches), func.count())
            .join(Order, Order.id == ShipmentPick.order_id)
            .where(ShipmentPick.shipment_id.in_(shipment_ids))
            .group_by(ShipmentPick.shipment_id, Order.id, Order.ship_name, Order.ship_city,
                      Order.ship_region)
            .order_by(ShipmentPick.shipment_id, Order.id)):
        summary = summaries[shipment_id]
        summary.ship_name = summary.ship_name or name
        summary.ship_place = summary.ship_place or f"{city}, {region}"
        summary.orders.append((order_id, order_number(order_id)))
        summary.eaches += int(eaches)
        summary.lines += lines
    return summaries


def shipment_picks(session: Session, shipment_id: int) -> list:
    """The lines of one shipment: order, product, eaches picked of eaches ordered."""
    return list(session.execute(
        select(ShipmentPick.order_id, OrderLine.sku, OrderLine.name, ShipmentPick.eaches,
               OrderLine.eaches.label("ordered"))
        .join(OrderLine, OrderLine.id == ShipmentPick.order_line_id)
        .where(ShipmentPick.shipment_id == shipment_id)
        .order_by(ShipmentPick.id)))


def _covered_lines(*criteria):
    """Eaches per order line in any shipment (planned, released or shipped) of paid orders."""
    return (select(ShipmentPick.order_line_id, func.sum(ShipmentPick.eaches).label("eaches"))
            .where(ShipmentPick.order_id.in_(select(Order.id).where(Order.status == OrderStatus.PAID)),
                   *criteria)
            .group_by(ShipmentPick.order_line_id).subquery())


def waiting_query(since: datetime | None) -> Select:
    """Paid order lines with eaches in no shipment: what waits, and the date stock is expected
    (None: no purchase order). ``new`` marks orders placed after the run of the plan began."""
    covered = _covered_lines()
    eta = expected_arrivals_query().subquery()
    missing = OrderLine.eaches - func.coalesce(covered.c.eaches, 0)
    new = Order.placed_at > since if since is not None else literal(True)
    return (select(Order.id.label("order_id"), Order.placed_at, Order.ship_name, Order.ship_city,
                   Order.ship_region, OrderLine.sku, OrderLine.name, OrderLine.eaches,
                   missing.label("missing"), eta.c.expected_on, case((new, True), else_=False).label("new"))
            .join(OrderLine, OrderLine.order_id == Order.id)
            .outerjoin(covered, covered.c.order_line_id == OrderLine.id)
            .outerjoin(eta, eta.c.product_id == OrderLine.product_id)
            .where(Order.status == OrderStatus.PAID, missing > 0)
            .order_by(Order.placed_at, Order.id, OrderLine.id))


def waiting_totals(session: Session) -> tuple[int, int]:
    """(orders, eaches) waiting for stock or for planning."""
    covered = _covered_lines()
    missing = OrderLine.eaches - func.coalesce(covered.c.eaches, 0)
    orders, eaches = session.execute(
        select(func.count(func.distinct(Order.id)), func.coalesce(func.sum(missing), 0))
        .join(OrderLine, OrderLine.order_id == Order.id)
        .outerjoin(covered, covered.c.order_line_id == OrderLine.id)
        .where(Order.status == OrderStatus.PAID, missing > 0)).one()
    return orders, int(eaches)


def open_arrivals_query() -> Select:
    """Purchase-order lines still to arrive, soonest first."""
    return (select(PurchaseOrderLine, PurchaseOrder)
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
            .where(PurchaseOrderLine.eaches_received < PurchaseOrderLine.eaches_expected)
            .order_by(PurchaseOrder.expected_on, PurchaseOrder.reference, PurchaseOrderLine.id))


def receipts_query() -> Select:
    return select(InventoryReceipt).order_by(InventoryReceipt.received_at.desc(),
                                             InventoryReceipt.id.desc())


def stock_query() -> Select:
    """Stock per product: on hand, allocated, available, and the next expected arrival."""
    eta = expected_arrivals_query().subquery()
    return (select(Product.id, Product.sku, Product.name,
                   func.coalesce(StockLevel.on_hand, 0).label("on_hand"),
                   func.coalesce(StockLevel.allocated, 0).label("allocated"),
                   eta.c.expected_on)
            .outerjoin(StockLevel, StockLevel.product_id == Product.id)
            .outerjoin(eta, eta.c.product_id == Product.id)
            .order_by(Product.sku))


def product_skus(session: Session) -> list[str]:
    return list(session.scalars(select(Product.sku).where(Product.active.is_(True)).order_by(Product.sku)))


# --------------------------------------------------------------------------------------------
# How a member's order will ship
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LaterLine:
    name: str
    sku: str
    eaches: int
    expected_on: date | None


@dataclass(frozen=True)
class ShippingOutlook:
    """How an open order will ship, from the latest plan.

    ``state``: "together" (complete, in one box with ``siblings`` other orders to the same
    address), "complete" (complete, on its own), "partial" (``eaches_now`` ship now, the rest
    later), "waiting" (nothing can ship yet) or "planning" (placed after the latest run).
    """

    state: str
    released: bool
    siblings: int
    eaches_now: int
    eaches_shipped: int
    later: tuple[LaterLine, ...]

    @property
    def eaches_later(self) -> int:
        return sum(line.eaches for line in self.later)

    @property
    def expected_on(self) -> date | None:
        """When the rest is expected: the latest date among what waits; None if any is unknown."""
        dates = [line.expected_on for line in self.later]
        return max(dates) if dates and None not in dates else None


def shipping_outlook(session: Session, order: Order) -> ShippingOutlook | None:
    """How ``order`` will ship, or None once it is no longer paid or released."""
    if order.status not in (OrderStatus.PAID, OrderStatus.RELEASED):
        return None
    picks = session.execute(
        select(ShipmentPick.order_line_id, ShipmentPick.eaches, Shipment.id, Shipment.status)
        .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
        .where(ShipmentPick.order_id == order.id)).all()
    covered: dict[int, int] = defaultdict(int)
    current: set[int] = set()
    released = False
    eaches_now = eaches_shipped = 0
    for line_id, eaches, shipment_id, status in picks:
        covered[line_id] += eaches
        if status == ShipmentStatus.SHIPPED:
            eaches_shipped += eaches
        else:
            current.add(shipment_id)
            eaches_now += eaches
            released = released or status == ShipmentStatus.RELEASED
    siblings = 0
    if current:
        siblings = session.scalar(
            select(func.count(func.distinct(ShipmentPick.order_id)))
            .where(ShipmentPick.shipment_id.in_(current), ShipmentPick.order_id != order.id)) or 0

    eta = dict(session.execute(expected_arrivals_query().where(
        PurchaseOrderLine.product_id.in_([line.product_id for line in order.lines]))).all())
    for refund in holding_refunds(order):  # refunded before they left: they never ship
        for refunded in refund.lines:
            covered[refunded.order_line_id] += refunded.eaches
    later = tuple(LaterLine(name=line.name, sku=line.sku, eaches=line.eaches - covered[line.id],
                            expected_on=eta.get(line.product_id))
                  for line in order.lines if line.eaches > covered[line.id])
    if not later and not current:
        return None  # nothing left to ship: the rest was refunded
    if not later:
        state = "together" if siblings else "complete"
    elif current:
        state = "partial"
    else:
        run = latest_run(session)
        state = "planning" if run is None or order.placed_at >= run.started_at else "waiting"
    return ShippingOutlook(state=state, released=released, siblings=siblings,
                           eaches_now=eaches_now, eaches_shipped=eaches_shipped, later=later)


def allocation_mismatches(session: Session) -> list[tuple[int, int, int, int]]:
    """(product id, on hand, allocated, eaches held by open shipments) wherever allocated is not
    what planned and released shipments hold, or exceeds on hand. Empty when all is well."""
    held = (select(ShipmentPick.product_id, func.sum(ShipmentPick.eaches).label("eaches"))
            .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
            .where(Shipment.status.in_(OPEN_SHIPMENT_STATUSES))
            .group_by(ShipmentPick.product_id).subquery())
    holding = func.coalesce(held.c.eaches, 0)
    return [tuple(row) for row in session.execute(
        select(StockLevel.product_id, StockLevel.on_hand, StockLevel.allocated, holding)
        .outerjoin(held, held.c.product_id == StockLevel.product_id)
        .where((StockLevel.allocated != holding) | (StockLevel.allocated > StockLevel.on_hand))
        .order_by(StockLevel.product_id))]



@dataclass(frozen=True)
class ShippedParcels:
    """A shipped shipment as the member's order page shows it."""

    number: str
    carrier: str | None
    shipped_on: date | None
    shipped_at: datetime | None
    parcels: list


def order_tracking(session: Session, order_id: int, urls: dict[str, str]) -> list[ShippedParcels]:
    """The shipped shipments holding part of order ``order_id``, oldest first, with their
    tracking numbers and links: two queries."""
    shipments = session.scalars(
        select(Shipment).where(Shipment.status == ShipmentStatus.SHIPPED, Shipment.id.in_(
            select(ShipmentPick.shipment_id).where(ShipmentPick.order_id == order_id)))
        .order_by(Shipment.shipped_at, Shipment.id)).all()
    numbers: dict[int, list[str]] = defaultdict(list)
    for shipment_id, number in session.execute(
            select(TrackingNumber.shipment_id, TrackingNumber.number)
            .where(TrackingNumber.shipment_id.in_([s.id for s in shipments]))
            .order_by(TrackingNumber.id)):
        numbers[shipment_id].append(number)
    return [ShippedParcels(number=s.number, carrier=s.carrier, shipped_on=s.shipped_on,
                           shipped_at=s.shipped_at, parcels=parcels(s.carrier, numbers[s.id], urls))
            for s in shipments]
