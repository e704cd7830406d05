"""The combining window: while a single-action order is open, its owner may take back one
press, one line or the whole order; once the window has closed, nothing changes here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.errors import NotFound
from portal.oneclick.errors import WindowClosed
from portal.oneclick.models import OneClickRequest
from portal.oneclick.rules import OneClickRules
from portal.orders.models import Order, OrderSource
from portal.orders.services import change_status, remove_order_line
from portal.orders.states import STATUS_LABELS, OrderStatus


def cancel_oneclick_line(session: Session, *, owner_id: int, order_id: int, line_id: int,
                         rules: OneClickRules, now: datetime) -> Order:
    """Take one line out of an open single-action order (cancelling the order with its last
    line); only while the combining window is open."""
    order = _order_in_window(session, owner_id, order_id, now)
    session.execute(update(OneClickRequest)
                    .where(OneClickRequest.order_id == order.id,
                           OneClickRequest.order_line_id == line_id)
                    .values(cancelled_at=now).execution_options(synchronize_session="fetch"))
    remove_order_line(session, order, line_id, rules.shipping)
    return order


def cancel_oneclick_press(session: Session, *, press: OneClickRequest, rules: OneClickRules,
                          now: datetime) -> Order:
    """Take back one press of a 1-Click button (the confirmation's "Cancel this item")."""
    if press.cancelled_at is not None or press.order_line_id is None:
        raise WindowClosed("That item is already cancelled.")
    return cancel_oneclick_line(session, owner_id=press.user_id, order_id=press.order_id,
                                line_id=press.order_line_id, rules=rules, now=now)


def cancel_oneclick_order(session: Session, *, owner_id: int, order_id: int,
                          now: datetime) -> Order:
    """Cancel a whole open single-action order; only while the combining window is open."""
    order = _order_in_window(session, owner_id, order_id, now)
    change_status(session, order, OrderStatus.CANCELLED, "cancelled by the person")
    session.execute(update(OneClickRequest)
                    .where(OneClickRequest.order_id == order.id,
                           OneClickRequest.cancelled_at.is_(None))
                    .values(cancelled_at=now).execution_options(synchronize_session="fetch"))
    session.flush()
    return order


def _order_in_window(session: Session, owner_id: int, order_id: int, now: datetime) -> Order:
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update()
                           .execution_options(populate_existing=True))
    if order is None or order.user_id != owner_id or order.source != OrderSource.ONECLICK:
        raise NotFound("We could not find that 1-Click order.")
    if order.status != OrderStatus.OPEN:
        label = STATUS_LABELS[OrderStatus(order.status)].lower()
        raise WindowClosed(f"Order {order.number} is {label}: it can no longer be changed here.")
    if order.combine_until is None or order.combine_until <= now:
        raise WindowClosed(f"The time to change order {order.number} is over: it is being "
                           "charged and packed.")
    return order
