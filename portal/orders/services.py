"""Placing orders, moving them through their states, charging them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.clock import utcnow
from portal.errors import NotFound
from portal.orders.models import Order, OrderLine, OrderStatusChange
from portal.orders.pricing import ZERO, PricedLine, ShippingRule, Totals, totals
from portal.orders.rules import order_total
from portal.orders.signals import order_status_changed
from portal.orders.states import InvalidTransition, OrderStatus, check_transition
from portal.payments.gateway import PaymentGateway
from portal.payments.models import PaymentMethod


def build_order(*, user: User, source: str, lines: list[PricedLine], address: Address,
                card: PaymentMethod, shipping: ShippingRule,
                idempotency_key: str | None = None) -> Order:
    """A new pending order with its lines, priced from ``lines``; not added to a session."""
    if not lines:
        raise ValueError("an order needs at least one line")
    order = Order(**order_columns(user_id=user.id, source=source, address=address, card=card,
                                  summary=totals(lines, shipping)),
                  status=OrderStatus.PENDING_PAYMENT, idempotency_key=idempotency_key,
                  placed_at=utcnow())
    order.lines = [OrderLine(**line_columns(line)) for line in lines]
    order.history = [OrderStatusChange(from_status=None, to_status=OrderStatus.PENDING_PAYMENT,
                                       note=f"placed by {source}")]
    return order


def order_columns(*, user_id: int, source: str, address: Address, card: PaymentMethod,
                  summary: Totals) -> dict:
    """A new order's own columns: who, the ship-to and card copied as they are now, the totals."""
    return dict(
        user_id=user_id, source=source,
        address_id=address.id, ship_moniker=address.moniker, ship_name=address.full_name,
        ship_line1=address.line1, ship_line2=address.line2, ship_city=address.city,
        ship_region=address.region, ship_postal_code=address.postal_code,
        ship_country=address.country, destination_key=address.destination_key,
        payment_method_id=card.id, payment_label=card.label,
        subtotal=summary.subtotal, shipping_fee=summary.shipping, total=summary.total,
        pv_total=summary.pv, bv_total=summary.bv)


def line_columns(line: PricedLine) -> dict:
    return dict(product_id=line.product_id, sku=line.sku, name=line.name,
                unit_code=line.unit_code, eaches_per_unit=line.eaches_per_unit,
                quantity=line.quantity, eaches=line.eaches, unit_price=line.unit_price,
                line_total=line.line_total, pv=line.pv, bv=line.bv)


def change_status(session: Session, order: Order, target: str, note: str = "") -> None:
    """The one way an order changes state; raises InvalidTransition for a forbidden move."""
    check_transition(order.status, target)
    before = order.status
    order.history.append(OrderStatusChange(from_status=order.status, to_status=target,
                                           note=note[:200]))
    order.status = target
    session.flush()
    order_status_changed.send(order, session=session, from_status=before, to_status=target)


def charge_order(session: Session, order: Order, gateway: PaymentGateway, token: str,
                 idempotency_key: str) -> None:
    """Charge the order's total once per ``idempotency_key``; a decline raises and leaves
    the order as it was (the caller decides whether to keep it)."""
    if Decimal(order.total) == 0:  # points (or nothing) paid for all of it: no card to charge
        order.paid_at = utcnow()
        change_status(session, order, OrderStatus.PAID, "nothing to charge")
        return
    charge = gateway.charge(token, Decimal(order.total), "USD", idempotency_key=idempotency_key)
    order.charge_id, order.paid_at = charge.id, utcnow()
    change_status(session, order, OrderStatus.PAID, f"charged {order.payment_label}")


def order_for(session: Session, user: User, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None or order.user_id != user.id:
        raise NotFound("We could not find that order in your account.")
    return order


def order_history_query(user: User):
    return (select(Order).where(Order.user_id == user.id)
            .options(selectinload(Order.refunds))  # the list shows "Refunded" beside the status
            .order_by(Order.placed_at.desc(), Order.id.desc()))


# Orders open for combining (single-action orders): created open, lines added or removed and
# the totals recomputed while the window lasts, then charged like any other order. Adding is
# the hot path of every 1-Click press, so it is written with Core statements built once,
# without the unit of work.

_ORDERS, _LINES, _CHANGES = Order.__table__, OrderLine.__table__, OrderStatusChange.__table__
_INSERT_ORDER = insert(_ORDERS)
_INSERT_LINE = insert(_LINES)
_INSERT_CHANGE = insert(_CHANGES)
_UPDATE_OPEN_TOTALS = (update(_ORDERS)
                       .where(_ORDERS.c.id == bindparam("open_order_id"),
                              _ORDERS.c.status == OrderStatus.OPEN))


@dataclass(frozen=True)
class AddedLine:
    order_id: int
    line_id: int


def opened_note(source: str) -> str:
    """The history note of an order opened for combining."""
    return f"placed by {source}, open for additions"


def insert_open_order(connection: Connection, *, user_id: int, source: str, line: PricedLine,
                      address: Address, card: PaymentMethod, summary: Totals,
                      placed_at: datetime, combine_until: datetime,
                      expected_ship_date: date) -> AddedLine:
    """Insert a new order open for combining until ``combine_until``, with its first line
    (``summary``: the totals of that line alone, see ``totals``)."""
    order_id = connection.execute(_INSERT_ORDER, {
        **order_columns(user_id=user_id, source=source, address=address, card=card,
                        summary=summary),
        "status": OrderStatus.OPEN, "placed_at": placed_at, "updated_at": placed_at,
        "combine_until": combine_until, "expected_ship_date": expected_ship_date,
    }).inserted_primary_key[0]
    connection.execute(_INSERT_CHANGE, {"order_id": order_id, "from_status": None,
                                        "to_status": OrderStatus.OPEN, "changed_at": placed_at,
                                        "note": opened_note(source)})
    line_id = connection.execute(_INSERT_LINE, {"order_id": order_id, **line_columns(line)}
                                 ).inserted_primary_key[0]
    return AddedLine(order_id=order_id, line_id=line_id)


@dataclass(frozen=True)
class OrderTotals:
    """The total columns of an order."""

    subtotal: Decimal
    shipping: Decimal
    total: Decimal
    pv: Decimal
    bv: Decimal


def totals_with_line(*, subtotal: Decimal, pv_total: Decimal, bv_total: Decimal,
                     line: PricedLine, shipping: ShippingRule) -> OrderTotals:
    """An order's totals once ``line`` is added to the ones it has, without loading its lines."""
    subtotal = subtotal + line.line_total
    fee = shipping.fee(subtotal)
    return OrderTotals(subtotal=subtotal, shipping=fee, total=order_total(subtotal, fee),
                       pv=pv_total + line.pv, bv=bv_total + line.bv)


def add_line_to_open_order(connection: Connection, *, order_id: int, totals_after: OrderTotals,
                           line: PricedLine, now: datetime) -> AddedLine:
    """Add a line to an open order, whose row the caller locked when it read the totals that
    ``totals_after`` was computed from."""
    updated = connection.execute(_UPDATE_OPEN_TOTALS, {
        "open_order_id": order_id, "subtotal": totals_after.subtotal,
        "shipping_fee": totals_after.shipping, "total": totals_after.total,
        "pv_total": totals_after.pv, "bv_total": totals_after.bv, "updated_at": now})
    if updated.rowcount != 1:  # the caller's row lock rules this out
        raise RuntimeError(f"order {order_id} is no longer open")
    line_id = connection.execute(_INSERT_LINE, {"order_id": order_id, **line_columns(line)}
                                 ).inserted_primary_key[0]
    return AddedLine(order_id=order_id, line_id=line_id)


def retotal_order(order: Order, shipping: ShippingRule) -> None:
    """Subtotal, shipping, total and volume from the order's current lines."""
    order.subtotal = sum((line.line_total for line in order.lines), ZERO)
    order.shipping_fee = shipping.fee(order.subtotal)
    order.total = order.subtotal + order.shipping_fee
    order.pv_total = sum((line.pv for line in order.lines), ZERO)
    order.bv_total = sum((line.bv for line in order.lines), ZERO)


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
