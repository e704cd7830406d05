"""Placing orders, moving them through their states, charging them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.db import utcnow
from portal.errors import NotFound
from portal.orders.models import Order, OrderLine, OrderStatusChange
from portal.orders.pricing import ZERO, PricedLine, ShippingRule, totals
from portal.orders.states import InvalidTransition, OrderStatus, check_transition
from portal.payments.gateway import PaymentGateway
from portal.payments.models import PaymentMethod


def build_order(*, user: User, source: str, lines: list[PricedLine], address: Address,
                card: PaymentMethod, shipping: ShippingRule,
                idempotency_key: str | None = None) -> Order:
    """A new pending order with its lines, priced from ``lines``; not added to a session."""
    if not lines:
        raise ValueError("an order needs at least one line")
    summary = totals(lines, shipping)
    order = Order(
        user_id=user.id, source=source, status=OrderStatus.PENDING_PAYMENT,
        idempotency_key=idempotency_key, placed_at=utcnow(),
        address_id=address.id, ship_moniker=address.moniker, ship_name=address.full_name,
        ship_line1=address.line1, ship_line2=address.line2, ship_city=address.city,
        ship_region=address.region, ship_postal_code=address.postal_code,
        ship_country=address.country, destination_key=address.destination_key,
        payment_method_id=card.id, payment_label=card.label,
        subtotal=summary.subtotal, shipping_fee=summary.shipping, total=summary.total,
        pv_total=summary.pv, bv_total=summary.bv)
    order.lines = [OrderLine(product_id=l.product_id, sku=l.sku, name=l.name,
                             unit_code=l.unit_code, eaches_per_unit=l.eaches_per_unit,
                             quantity=l.quantity, eaches=l.eaches, unit_price=l.unit_price,
                             line_total=l.line_total, pv=l.pv, bv=l.bv) for l in lines]
    order.history = [OrderStatusChange(from_status=None, to_status=OrderStatus.PENDING_PAYMENT,
                                       note=f"placed by {source}")]
    return order


def change_status(session: Session, order: Order, target: str, note: str = "") -> None:
    """The one way an order changes state; raises InvalidTransition for a forbidden move."""
    check_transition(order.status, target)
    order.history.append(OrderStatusChange(from_status=order.status, to_status=target,
                                           note=note[:200]))
    order.status = target
    session.flush()


def charge_order(session: Session, order: Order, gateway: PaymentGateway, token: str,
                 idempotency_key: str) -> None:
    """Charge the order's total once per ``idempotency_key``; a decline raises and leaves
    the order as it was (the caller decides whether to keep it)."""
    charge = gateway.charge(token, Decimal(order.total), "USD", idempotency_key=idempotency_key)
    order.charge_id, order.paid_at = charge.id, utcnow()
    change_status(session, order, OrderStatus.PAID, f"charged {order.payment_label}")


def order_for(session: Session, user: User, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None or order.user_id != user.id:
        raise NotFound("We could not find that order in your account.")
    return order


def order_history_query(user: User):
    return select(Order).where(Order.user_id == user.id).order_by(Order.placed_at.desc(),
                                                                  Order.id.desc())


# Orders open for combining (single-action orders): created open, lines added or removed and
# the totals recomputed while the window lasts, then charged like any other order.

def open_order(*, user: User, source: str, lines: list[PricedLine], address: Address,
               card: PaymentMethod, shipping: ShippingRule, combine_until: datetime,
               expected_ship_date: date) -> Order:
    """A new order open for combining until ``combine_until``; not added to a session."""
    order = build_order(user=user, source=source, lines=lines, address=address, card=card,
                        shipping=shipping)
    order.status = OrderStatus.OPEN
    order.combine_until = combine_until
    order.expected_ship_date = expected_ship_date
    order.history = [OrderStatusChange(from_status=None, to_status=OrderStatus.OPEN,
                                       note=f"placed by {source}, open for additions")]
    return order


def order_line_from(line: PricedLine) -> OrderLine:
    return OrderLine(product_id=line.product_id, sku=line.sku, name=line.name,
                     unit_code=line.unit_code, eaches_per_unit=line.eaches_per_unit,
                     quantity=line.quantity, eaches=line.eaches, unit_price=line.unit_price,
                     line_total=line.line_total, pv=line.pv, bv=line.bv)


def retotal_order(order: Order, shipping: ShippingRule) -> None:
    """Subtotal, shipping, total and volume from the order's current lines."""
    order.subtotal = sum((line.line_total for line in order.lines), ZERO)
    order.shipping_fee = shipping.fee(order.subtotal)
    order.total = order.subtotal + order.shipping_fee
    order.pv_total = sum((line.pv for line in order.lines), ZERO)
    order.bv_total = sum((line.bv for line in order.lines), ZERO)


def add_order_line(session: Session, order: Order, line: PricedLine,
                   shipping: ShippingRule) -> OrderLine:
    """Add a line to an open order and re-total it. Not flushed: the caller flushes it with
    whatever else records the addition, in one round of statements."""
    if order.status != OrderStatus.OPEN:
        raise InvalidTransition(order.status, OrderStatus.OPEN)
    added = order_line_from(line)
    if "lines" in inspect(order).unloaded:  # add to the totals without loading every line
        added.order_id = order.id
        session.add(added)
        order.subtotal += added.line_total
        order.pv_total += added.pv
        order.bv_total += added.bv
        order.shipping_fee = shipping.fee(order.subtotal)
        order.total = order.subtotal + order.shipping_fee
    else:
        order.lines.append(added)
        retotal_order(order, shipping)
    return added


def remove_order_line(session: Session, order: Order, line_id: int,
                      shipping: ShippingRule) -> OrderLine:
    """Take a line out of an open order; removing the last line cancels the order."""
    if order.status != OrderStatus.OPEN:
        raise InvalidTransition(order.status, OrderStatus.CANCELLED)
    line = next((line for line in order.lines if line.id == line_id), None)
    if line is None:
        raise NotFound("That item is not in this order any more.")
    note = f"removed {line.quantity} x {line.name} ({line.unit_code})"
    if len(order.lines) == 1:  # an order keeps its last line, so its history shows what it was
        change_status(session, order, OrderStatus.CANCELLED, note)
        return line
    order.lines.remove(line)
    retotal_order(order, shipping)
    order.history.append(OrderStatusChange(from_status=order.status, to_status=order.status,
                                           note=note[:200]))
    session.flush()
    return line
