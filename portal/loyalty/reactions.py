"""How points follow orders (``portal.orders.signals``):

- a standing-order order becomes paid: it is noted on the session and awarded, with every other
  order paid in the same unit of work, in one set-based statement just before the commit
  (``award_points``): a run's charge job pays thousands of orders one ``change_status`` at a
  time, and their points are one statement, not one per order;
- an order is cancelled: the points it earned are taken back and those spent on it given back;
- an order is refunded: the refunded share of the points it earned is taken back;
- orders are about to be charged: standing orders whose person chose points have their items
  paid with points first (``standing.pay_standing_orders_with_points``).

Receivers run in the sender's unit of work. ``connect_signals`` is called from ``create_app``;
connecting again is harmless."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.loyalty.ledger import award_points, reverse_order
from portal.loyalty.program import current_program
from portal.loyalty.standing import pay_standing_orders_with_points
from portal.orders.models import Order, OrderSource
from portal.orders.rules import shipping_rule
from portal.orders.signals import charges_preparing, order_refunded, order_status_changed
from portal.orders.states import OrderStatus

TO_AWARD = "loyalty.orders_to_award"  # session.info: (order ids, company time zone) to award


def follow_status(order: Order, *, session: Session, to_status: str, **_) -> None:
    if to_status == OrderStatus.PAID and order.source == OrderSource.AUTOSHIP:
        ids, _zone = session.info.setdefault(TO_AWARD, (set(), current_app.config["COMPANY_TIMEZONE"]))
        ids.add(order.id)
    elif to_status == OrderStatus.CANCELLED:
        award_noted(session)  # an order paid and cancelled in one unit of work: earned, then undone
        reverse_order(session, order)


def follow_refund(order: Order, *, session: Session, amount, at=None, **_) -> None:
    award_noted(session)
    reverse_order(session, order, refunded=amount, at=at)


def pay_with_points(app: Flask, *, session: Session, order_ids: list[int], **_) -> None:
    pay_standing_orders_with_points(session, order_ids, program=current_program(session),
                                    shipping=shipping_rule(app.config))


def award_noted(session: Session) -> None:
    """Award the orders noted as paid in this unit of work, set-based."""
    noted = session.info.pop(TO_AWARD, None)
    if noted and noted[0]:
        ids, zone = noted
        award_points(session, sorted(ids), program=current_program(session), timezone=zone)


def forget_noted(session: Session, *_) -> None:
    session.info.pop(TO_AWARD, None)


def connect_signals() -> None:
    order_status_changed.connect(follow_status, weak=False)
    order_refunded.connect(follow_refund, weak=False)
    charges_preparing.connect(pay_with_points, weak=False)
    if not event.contains(Session, "before_commit", award_noted):
        event.listen(Session, "before_commit", award_noted)
        event.listen(Session, "after_rollback", forget_noted)
