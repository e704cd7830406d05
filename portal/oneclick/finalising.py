"""Finalising a single-action order once its combining window has closed, in two steps each
committed on its own (``jobs.oneclick.finalise_order``): closing it, then charging it once and
releasing it to fulfilment; with the mail that tells the person either way."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.fulfilment.coordination import request_planning
from portal.formatting import day, money
from portal.mail.services import queue_mail
from portal.orders.models import Order, OrderSource
from portal.orders.receipt_text import lines_text, totals_text
from portal.orders.services import change_status, charge_order
from portal.orders.states import OrderStatus
from portal.payments.gateway import PaymentDeclined, PaymentGateway
from portal.payments.models import PaymentMethod


def close_window(session: Session, *, order_id: int, now: datetime, today: date) -> str:
    """First step of finalising: an open order whose window has closed is committed to be
    charged (``pending_payment``), or fails at once if its card cannot be used any more.
    Safe to run any number of times."""
    order = _locked_oneclick_order(session, order_id)
    if order is None or order.status != OrderStatus.OPEN:
        return "nothing to do"
    if order.combine_until is not None and order.combine_until > now:
        return "window still open"
    card = session.get(PaymentMethod, order.payment_method_id)
    if card is None or card.archived_at is not None or card.expired_on(today):
        reason = "the card was removed from the wallet" if card is None or card.archived_at \
            else f"the card expired {card.expiry}"
        change_status(session, order, OrderStatus.PAYMENT_FAILED, reason)
        _tell_payment_failed(session, order, reason)
        return "payment_failed"
    change_status(session, order, OrderStatus.PENDING_PAYMENT, "combining window closed")
    return "closed"


def charge_closed_order(session: Session, *, order_id: int, gateway: PaymentGateway) -> str:
    """Second step: charge a closed order once and release it to fulfilment (``paid``).

    The gateway's idempotency key is the order's, so a re-run after a crash between the charge
    and the commit gets the first charge back instead of charging again. A decline fails the
    order and tells the person; a processor outage raises and a later sweep tries again."""
    order = _locked_oneclick_order(session, order_id)
    if order is None or order.status != OrderStatus.PENDING_PAYMENT:
        return "nothing to do"
    card = session.get(PaymentMethod, order.payment_method_id)
    try:
        charge_order(session, order, gateway, card.token,
                     idempotency_key=f"oneclick-order:{order.id}")
    except PaymentDeclined as declined:
        change_status(session, order, OrderStatus.PAYMENT_FAILED, declined.code)
        _tell_payment_failed(session, order, declined.message)
        return "payment_failed"
    request_planning(session, "oneclick")  # a paid order is released to fulfilment
    user = session.get(User, order.user_id)
    queue_mail(session, user=user, subject=f"1-Click order {order.number} confirmed",
               body=_confirmation_mail(order))
    return "paid"


def _locked_oneclick_order(session: Session, order_id: int) -> Order | None:
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update()
                           .execution_options(populate_existing=True))
    return order if order is not None and order.source == OrderSource.ONECLICK else None


def _confirmation_mail(order: Order) -> str:
    """The body of the mail sent once a single-action order is charged."""
    ships = f"Expected to ship {day(order.expected_ship_date)}.\n" if order.expected_ship_date else ""
    totals = totals_text(subtotal=order.subtotal, shipping=order.shipping_fee, total=order.total,
                         pv=order.pv_total)
    return (f"Your 1-Click order {order.number} is confirmed.\n\n{lines_text(order.lines)}\n\n"
            f"{totals}\n\nCharged to {order.payment_label}.\n"
            f"Ships to {order.ship_moniker}: {order.ship_to_one_line}\n{ships}")


def _payment_failed_mail(order: Order, reason: str) -> str:
    """The body of the mail sent when a single-action order cannot be charged."""
    return (f"We could not charge {order.payment_label} {money(order.total)} for your 1-Click "
            f"order {order.number}: {reason}\n\nNothing will ship. Update your wallet "
            "and 1-Click settings, then order again.\n")


def _tell_payment_failed(session: Session, order: Order, reason: str) -> None:
    user = session.get(User, order.user_id)
    queue_mail(session, user=user, subject=f"1-Click order {order.number}: payment failed",
               body=_payment_failed_mail(order, reason))
