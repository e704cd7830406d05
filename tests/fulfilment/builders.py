"""Paid orders, products and expected arrivals for fulfilment tests; flushed, never committed."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import func, select

from portal.catalog.models import StockLevel
from portal.fulfilment import coordination
from portal.fulfilment.models import PurchaseOrder, PurchaseOrderLine, Shipment, ShipmentPick
from portal.orders.models import Order
from portal.orders.pricing import PricedLine, ShippingRule
from portal.orders.services import build_order, change_status
from portal.orders.states import OrderStatus
from tests.factories import make_address, make_product, make_user

SHIPPING = ShippingRule(flat_fee=Decimal("5.95"), free_from=Decimal("100.00"))
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
CARD = SimpleNamespace(id=None, label="Visa ending 4242")
_streets = itertools.count(1)


def product(session, on_hand: int, **overrides):
    return make_product(session, on_hand=on_hand, **overrides)


def destination(session, user=None, **overrides):
    """A member and an address of their own (a destination nobody else uses)."""
    user = user or make_user(session)
    values = dict(line1=f"{next(_streets)} Test Street")
    values.update(overrides)
    return make_address(session, user, **values)


def paid_order(session, address, *items, minutes: float = 0, status: str = OrderStatus.PAID) -> Order:
    """A paid order to ``address`` for ``items`` of (product, eaches), placed ``minutes`` after
    START; lines keep the items' order."""
    from portal.accounts.models import User
    user = session.get(User, address.user_id)
    lines = [PricedLine(product_id=p.id, sku=p.sku, name=p.name, unit_code="each", eaches_per_unit=1,
                        quantity=eaches, unit_price=Decimal("10.00"), unit_pv=Decimal("8.00"),
                        unit_bv=Decimal("6.00"))
             for p, eaches in items]
    order = build_order(user=user, source="checkout", lines=lines, address=address, card=CARD,
                        shipping=SHIPPING)
    order.placed_at = START + timedelta(minutes=minutes)
    session.add(order)
    session.flush()
    path = {OrderStatus.PENDING_PAYMENT: [], OrderStatus.PAYMENT_FAILED: [status]}.get(
        status, [OrderStatus.PAID] + ([status] if status != OrderStatus.PAID else []))
    for step in path:
        change_status(session, order, step, "test")
    return order


def expected(session, product, eaches: int, on: date, reference: str | None = None):
    purchase_order = PurchaseOrder(reference=reference or f"PO-{next(_streets)}", supplier="Test",
                                   expected_on=on)
    purchase_order.lines.append(PurchaseOrderLine(product_id=product.id, eaches_expected=eaches))
    session.add(purchase_order)
    session.flush()
    return purchase_order


def stock_of(session, product) -> tuple[int, int]:
    """(on hand, allocated), read fresh."""
    row = session.execute(select(StockLevel.on_hand, StockLevel.allocated)
                          .where(StockLevel.product_id == product.id)
                          .execution_options(populate_existing=True)).one()
    return row.on_hand, row.allocated


def shipments(session, status: str | None = None) -> list[tuple[str, str, list[tuple[int, str, int]]]]:
    """Saved shipments in plan order: (kind, status, [(order id, sku, eaches), ...])."""
    query = select(Shipment).order_by(Shipment.status, Shipment.position, Shipment.id)
    if status:
        query = query.where(Shipment.status == status)
    result = []
    for shipment in session.scalars(query.execution_options(populate_existing=True)):
        picks = session.execute(
            select(ShipmentPick.order_id, ShipmentPick.eaches, ShipmentPick.order_line_id)
            .where(ShipmentPick.shipment_id == shipment.id).order_by(ShipmentPick.id)).all()
        from portal.orders.models import OrderLine
        skus = dict(session.execute(select(OrderLine.id, OrderLine.sku)
                                    .where(OrderLine.id.in_([p.order_line_id for p in picks]))).all())
        result.append((shipment.kind, shipment.status,
                       [(p.order_id, skus[p.order_line_id], p.eaches) for p in picks]))
    return result


def picks_per_product(session) -> dict[int, int]:
    """Eaches held by planned and released shipments, per product."""
    return dict(session.execute(
        select(ShipmentPick.product_id, func.sum(ShipmentPick.eaches))
        .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
        .where(Shipment.status.in_(("planned", "released")))
        .group_by(ShipmentPick.product_id)).all())


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def planning_requested(redis) -> dict[str, int]:
    """What the pending planning job was asked for (and take it, as the job would)."""
    pending = redis.get(coordination.PENDING_KEY)
    assert pending is not None, "no planning job pending"
    return coordination.take_requests(redis, pending.decode())


TRACKING_URLS = {"UPS": "https://www.ups.com/track?tracknum={number}",
                 "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"}
_parcels = itertools.count(1)


def ship(session, shipment_id: int, *numbers: str, carrier: str = "UPS", shipped_on: date | None = None,
         actor=None):
    """Mark a released shipment shipped, each call with new tracking numbers unless given."""
    from portal.clock import company_today
    from portal.fulfilment.shipments import ship_shipment
    from portal.fulfilment.tracking import Dispatch

    numbers = numbers or (f"1Z999AA1{next(_parcels):010d}",)
    return ship_shipment(session, actor=actor, shipment_id=shipment_id,
                         dispatch=Dispatch(carrier=carrier, numbers=tuple(numbers),
                                           shipped_on=shipped_on or company_today()),
                         urls=TRACKING_URLS, base_url="http://portal.test")
