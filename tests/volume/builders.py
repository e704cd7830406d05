"""Orders for volume tests, built directly (no cart, card or gateway) and moved through
``change_status`` and ``order_refunded`` as the real services move them."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from portal.clock import frozen_at
from portal.orders.models import Order
from portal.orders.services import change_status
from portal.orders.signals import order_refunded

_refunds = itertools.count(1)


def make_order(session, user, pv, *, bv=None) -> Order:
    pv = Decimal(pv)
    order = Order(user_id=user.id, status="pending_payment", source="checkout",
                  ship_moniker="Home", ship_name=user.full_name, ship_line1="1 Main Street",
                  ship_city="Springfield", ship_region="IL", ship_postal_code="62704",
                  ship_country="US", destination_key="test", payment_label="Visa 4242",
                  subtotal=Decimal("10.00"), shipping_fee=Decimal("0.00"), total=Decimal("10.00"),
                  pv_total=pv, bv_total=pv if bv is None else Decimal(bv))
    session.add(order)
    session.flush()
    return order


def pay(session, order: Order, at: datetime) -> None:
    with frozen_at(at):
        order.paid_at = at
        change_status(session, order, "paid", "test payment")


def cancel(session, order: Order, at: datetime) -> None:
    with frozen_at(at):
        change_status(session, order, "cancelled", "test cancellation")


def refund(session, order: Order, pv, at: datetime, refund_id: int | None = None) -> int:
    refund_id = refund_id or next(_refunds)
    with frozen_at(at):
        order_refunded.send(order, session=session, refund_id=refund_id, amount=Decimal("1.00"),
                            pv=Decimal(pv), bv=Decimal(pv), at=at)
    return refund_id


def paid_order(session, user, pv, at: datetime) -> Order:
    order = make_order(session, user, pv)
    pay(session, order, at)
    return order
