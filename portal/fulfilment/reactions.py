"""How fulfilment reacts to what other concepts announce: orders paid by a charge ask for a
planning run after the commit (``request_planning``), as a paid checkout does; so does a refund
that takes eaches out of what ships or puts them back on hand.

The receiver runs synchronously in the sender's unit of work. ``connect_signals`` is called
from ``create_app``; connecting again is harmless (blinker keeps one connection per receiver)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from portal.fulfilment.coordination import request_planning
from portal.orders.models import Order, Refund
from portal.orders.signals import order_refunded, orders_paid
from portal.orders.states import OrderStatus


def plan_paid_orders(app: Flask, *, session: Session, order_ids: list[int], **_) -> None:
    request_planning(session, "autoship payment")


def plan_after_refund(order: Order, *, session: Session, refund_id: int, **_) -> None:
    """A refund changes the plan when eaches of a paid order will no longer ship, or when
    eaches came back on hand."""
    refund = session.get(Refund, refund_id)
    restocked = refund is not None and any(line.restocked_eaches for line in refund.lines)
    if restocked or order.status == OrderStatus.PAID:
        request_planning(session, "refund")


def connect_signals() -> None:
    orders_paid.connect(plan_paid_orders, weak=False)
    order_refunded.connect(plan_after_refund, weak=False)
