"""The ordinary checkout: the cart, an address and a card from the wallet become a paid order."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.addresses.services import owned_address
from portal.cart.services import empty_cart, priced_cart
from portal.catalog.services import OrderingError
from portal.clock import utcnow
from portal.default_choice import lock_owner
from portal.errors import DomainError
from portal.fulfilment.coordination import request_planning
from portal.loyalty.ledger import redeem_points
from portal.loyalty.program import current_program
from portal.loyalty.spending import pay_with_points
from portal.mail.services import queue_mail
from portal.orders.models import Order, OrderSource
from portal.orders.pricing import ShippingRule
from portal.orders.receipt_text import lines_text, totals_text
from portal.orders.services import build_order, charge_order
from portal.payments.gateway import PaymentGateway
from portal.payments.services import usable_card


# How long after a checkout an empty cart is still "just checked out" rather than empty.
JUST_CHECKED_OUT = timedelta(minutes=15)


class CheckoutError(DomainError):
    pass


class CartCheckedOut(CheckoutError):
    """The cart was checked out by another submission (another tab, another device) while
    this one waited its turn; ``order`` is what that submission placed."""

    status = 409

    def __init__(self, order: Order):
        super().__init__(f"This cart was just checked out: order {order.number}. "
                         "It was charged once.")
        self.order = order


def existing_checkout(session: Session, user: User, idempotency_key: str) -> Order | None:
    order = session.scalar(select(Order).where(Order.idempotency_key == idempotency_key))
    if order is not None and order.user_id != user.id:
        raise CheckoutError("This checkout form is not valid. Reload the page and try again.")
    return order


def check_out(session: Session, *, user: User, address_id: int, card_id: int,
              idempotency_key: str, gateway: PaymentGateway, shipping: ShippingRule,
              today: date, points_items: frozenset[str] = frozenset()) -> Order:
    """Place and charge an order for the cart, exactly once per ``idempotency_key``.

    A repeat of the same submission (double click, retried request, second tab) returns the
    order the first one placed. A declined card raises PaymentDeclined and the caller rolls
    back: no order is kept and the cart is unchanged.

    Submissions of the person's cart take turns, whatever their keys (two devices, two
    checkout pages): each holds the person until its transaction ends, gateway call
    included, so the next one finds the cart emptied and raises CartCheckedOut instead of
    charging again.
    """
    if not idempotency_key or len(idempotency_key) > 80:
        raise CheckoutError("This checkout form is not valid. Reload the page and try again.")
    # Before anything is read: what follows must see what an earlier submission committed.
    lock_owner(session, user)
    order = existing_checkout(session, user, idempotency_key)
    if order is not None:
        return order
    address = owned_address(session, user, address_id)
    card = usable_card(session, user, card_id, today)
    lines, problems = priced_cart(session, user)
    if problems:
        raise OrderingError(" ".join(problems))
    if not lines:
        just_placed = latest_checkout(session, user, since=utcnow() - JUST_CHECKED_OUT)
        if just_placed is not None:
            raise CartCheckedOut(just_placed)
        raise CheckoutError("Your cart is empty.")

    payment = pay_with_points(lines, set(points_items), current_program(session)) if points_items else None
    if payment is not None:
        lines = payment.lines
    order = build_order(user=user, source=OrderSource.CHECKOUT, lines=lines, address=address,
                        card=card, shipping=shipping, idempotency_key=idempotency_key)
    try:
        with session.begin_nested():
            session.add(order)
    except IntegrityError:
        # A concurrent submission of the same form committed first: answer with its order.
        session.expunge(order) if order in session else None
        replay = existing_checkout(session, user, idempotency_key)
        if replay is None:
            raise
        return replay
    if payment is not None and payment.points:
        redeem_points(session, user_id=user.id, points=payment.points, order_id=order.id,
                      note=payment.note)
    charge_order(session, order, gateway, card.token, idempotency_key=f"checkout:{idempotency_key}")
    request_planning(session, "checkout")
    empty_cart(session, user)
    queue_mail(session, user=user, subject=f"Order {order.number} confirmed",
               body=confirmation_text(order))
    return order


def latest_checkout(session: Session, user: User, *, since) -> Order | None:
    """The person's last order placed by checkout since ``since``, if any."""
    return session.scalar(select(Order).where(
        Order.user_id == user.id, Order.source == OrderSource.CHECKOUT, Order.placed_at >= since)
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(1))


def confirmation_text(order: Order) -> str:
    totals = totals_text(subtotal=order.subtotal, shipping=order.shipping_fee, total=order.total,
                         pv=order.pv_total)
    return (f"Thank you for your order {order.number}.\n\n{lines_text(order.lines)}\n\n{totals}\n\n"
            f"Ships to {order.ship_moniker}: {order.ship_to_one_line}\n"
            f"Paid with {order.payment_label}\n")
