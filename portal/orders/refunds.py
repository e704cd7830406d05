"""Refunds: money given back on an order, in full or by line and quantity, exactly once.

Three steps, as charging does (``portal.orders.billing``):

1. ``start_refund`` locks the order's row (``FOR UPDATE``), so that two people refunding the
   same order take turns: the second sees what the first took and is told. It finds a refund
   already made with the form's idempotency key (a double click, a retried request) and
   answers with it; otherwise it checks what is left to refund and writes a *pending* refund
   with its lines. The pending refund is committed before the gateway is called.
2. The gateway is called with the refund's own key (``refund:<key>``): nothing is written.
3. ``record_refund`` locks the order again and settles the refund: succeeded (eaches back on
   the shelf with "restock", a note in the order's history, a mail to the member through the
   outbox, and ``order_refunded`` sent, in this unit of work, once) or failed (the gateway
   refused: nothing went back, and its quantities are free again).

A gateway that does not answer (``GatewayTimeout``) leaves the refund pending: it keeps its
quantities, the order page offers "Try again", and sending the same form again does the same;
both send the same key, so the gateway refunds once whatever happened the first time.

A refund never changes the order's state: the state says where the goods are, the refund label
("Refunded", "Partly refunded") where the money is. Volume leaves through ``order_refunded``
alone: no ``order_status_changed`` comes with a refund, so nothing counts the volume twice. A
paid order refunded in full stays paid with nothing left to ship: planning leaves refunded
eaches out (``refunded_eaches``), and it is shown as "Paid · Refunded".
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.catalog.models import StockLevel
from portal.clock import utcnow
from portal.errors import DomainError, Forbidden, NotFound
from portal.formatting import money, volume
from portal.mail.services import queue_mail
from portal.orders.models import Order, OrderLine, OrderStatusChange, Refund, RefundLine, RefundStatus
from portal.orders.receipt_text import lines_text
from portal.orders.refund_amounts import RefundPlan, RefundRefusedHere, RefundRequest, plan_refund
from portal.orders.signals import order_refunded
from portal.orders.states import OrderStatus
from portal.payments.gateway import (GatewayUnavailable, IdempotencyConflict, PaymentGateway,
                                     RefundRefused)
from portal.unit_of_work import commit_before

# Orders whose money can go back: charged, and not cancelled.
REFUNDABLE = (OrderStatus.PAID, OrderStatus.RELEASED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,80}")
REASON_MAX = 200


class RefundError(DomainError):
    status = 409


class RefundPending(DomainError):
    """The gateway did not answer: the refund is kept as pending, to be sent again."""

    status = 504

    def __init__(self, refund: Refund):
        super().__init__(
            f"The payment gateway did not answer, so we do not know yet whether refund "
            f"{refund.number} of {money(refund.amount)} went through. It is kept as waiting; "
            "press Try again on the order page: it cannot refund twice.")
        self.refund = refund


def locked_order(session: Session, order_id: int) -> Order:
    """The order, its row locked until the transaction ends, with its lines and refunds as
    committed now."""
    order = session.scalar(
        select(Order).where(Order.id == order_id).with_for_update(of=Order)
        .options(selectinload(Order.lines),
                 selectinload(Order.refunds).selectinload(Refund.lines))
        .execution_options(populate_existing=True))
    if order is None:
        raise NotFound("No such order.")
    return order


def check_refundable(order: Order) -> None:
    if order.status not in REFUNDABLE or order.paid_at is None or not order.charge_id:
        raise RefundError(f"Order {order.number} is {order.status_label.lower()}: nothing was "
                          "charged that could go back.")


def preview_refund(session: Session, *, order: Order, request: RefundRequest,
                   restock: bool) -> RefundPlan:
    """What ``request`` would give back, for the confirmation: writes nothing."""
    check_refundable(order)
    try:
        return plan_refund(session, order, request, restock=restock)
    except RefundRefusedHere as refused:
        raise RefundError(refused.message, refused.field) from None


def start_refund(session: Session, *, actor: User | None, order_id: int, idempotency_key: str,
                 request: RefundRequest, restock: bool, reason: str,
                 limit: Decimal | None = None) -> Refund:
    """The refund this form asks for: the one already made with ``idempotency_key``, or a new
    pending refund of what ``request`` names. ``limit``: the most this actor may refund at once
    (None: no limit). Raises RefundError for more than is left, Forbidden beyond the limit."""
    if not KEY_PATTERN.fullmatch(idempotency_key or ""):
        raise RefundError("This refund form is not valid. Reload the page and try again.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise RefundError("Say why this is refunded: the member reads it.", "reason")
    if len(reason) > REASON_MAX:
        raise RefundError(f"Keep the reason under {REASON_MAX} characters.", "reason")
    order = locked_order(session, order_id)
    earlier = session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key))
    if earlier is not None:
        if earlier.order_id != order.id:
            raise RefundError("This refund form is not valid. Reload the page and try again.")
        try:
            same = plan_refund(session, order, request, restock=restock, besides=earlier.id).matches(earlier)
        except RefundRefusedHere:
            same = False
        if not same:
            raise RefundError(f"This form already made refund {earlier.number}; reload the "
                              "order page to refund anything else.")
        return earlier
    check_refundable(order)
    try:
        plan = plan_refund(session, order, request, restock=restock)
    except RefundRefusedHere as refused:
        raise RefundError(refused.message, refused.field) from None
    if limit is not None and plan.amount > limit:
        raise Forbidden(f"You may refund up to {money(limit)} at once; this refund is "
                        f"{money(plan.amount)}. Ask an admin.")
    refund = Refund(order_id=order.id, amount=plan.amount, shipping_amount=plan.shipping,
                    pv=plan.pv, bv=plan.bv, reason=reason, restock=restock,
                    idempotency_key=idempotency_key, actor_id=actor.id if actor else None,
                    at=utcnow(), status=RefundStatus.PENDING)
    refund.lines = [RefundLine(order_line_id=p.line.id, quantity=p.quantity, eaches=p.eaches,
                               amount=p.amount, pv=p.pv, bv=p.bv) for p in plan.lines]
    order.refunds.append(refund)
    session.flush()
    return refund


def send_refund(gateway: PaymentGateway, *, charge_id: str, amount: Decimal, key: str):
    """The gateway's answer to a pending refund: its refund, or the refusal's message (str).
    Raises GatewayUnavailable (and GatewayTimeout) when it did not answer."""
    try:
        return gateway.refund(charge_id, amount, "USD", idempotency_key=f"refund:{key}")
    except (RefundRefused, IdempotencyConflict) as refused:
        return refused.message


def record_refund(session: Session, *, refund_id: int, answer, site_url: str = "") -> Refund:
    """Settle a pending refund with the gateway's ``answer`` (a gateway refund, or the message
    of its refusal). A refund already settled (by a twin request) is left as it is."""
    refund = session.get(Refund, refund_id)
    order = locked_order(session, refund.order_id)
    session.refresh(refund)
    if refund.status != RefundStatus.PENDING:
        return refund
    refund.finished_at = utcnow()
    if isinstance(answer, str):
        refund.status, refund.message = RefundStatus.FAILED, answer[:300]
        session.flush()
        return refund
    refund.status, refund.gateway_refund_id = RefundStatus.SUCCEEDED, answer.id
    if refund.restock:
        plan = plan_refund(session, order, RefundRequest(
            {line.order_line_id: line.quantity for line in refund.lines}), restock=True,
            besides=refund.id)
        restocked = {p.line.id: p.restocked_eaches for p in plan.lines}
        for line in refund.lines:
            line.restocked_eaches = restocked.get(line.order_line_id, 0)
        restock_eaches(session, refund)
    order.history.append(OrderStatusChange(
        from_status=order.status, to_status=order.status,
        note=f"refunded {money(refund.amount)} ({refund.number}): {refund.reason}"[:200]))
    session.flush()
    queue_mail(session, user=session.get(User, order.user_id),
               subject=f"Refund of {money(refund.amount)} for order {order.number}",
               body=refund_text(order, refund, site_url))
    order_refunded.send(order, session=session, refund_id=refund.id, amount=refund.amount,
                        pv=refund.pv, bv=refund.bv, at=refund.finished_at)
    return refund


def restock_eaches(session: Session, refund: Refund) -> None:
    """Put the refund's restocked eaches back on hand, one UPDATE per product."""
    by_product: dict[int, int] = {}
    for line in refund.lines:
        if line.restocked_eaches:
            product_id = line.order_line.product_id
            by_product[product_id] = by_product.get(product_id, 0) + line.restocked_eaches
    for product_id, eaches in sorted(by_product.items()):
        stock = session.get(StockLevel, product_id, with_for_update=True)
        if stock is None:
            session.add(StockLevel(product_id=product_id, on_hand=eaches))
        else:
            stock.on_hand += eaches
    session.flush()


def refund_order(session: Session, gateway: PaymentGateway, *, actor: User | None, order_id: int,
                 idempotency_key: str, request: RefundRequest, restock: bool, reason: str,
                 limit: Decimal | None = None, site_url: str = "") -> Refund:
    """Refund once per ``idempotency_key``: start, commit, call the gateway, record. Commits in
    the middle of the caller's unit of work (the pending refund before the gateway is called, a
    refusal before it is reported). Raises RefundPending when the gateway did not answer, and
    RefundError when it refused (the refusal is kept in the refund's history)."""
    refund = start_refund(session, actor=actor, order_id=order_id, idempotency_key=idempotency_key,
                          request=request, restock=restock, reason=reason, limit=limit)
    return settle(session, gateway, refund, site_url=site_url)


def retry_refund(session: Session, gateway: PaymentGateway, *, order_id: int, refund_id: int,
                 site_url: str = "") -> Refund:
    """Send a pending refund again with its own key (after a gateway timeout)."""
    order = locked_order(session, order_id)
    refund = next((r for r in order.refunds if r.id == refund_id), None)
    if refund is None:
        raise NotFound("No such refund on this order.")
    return settle(session, gateway, refund, site_url=site_url)


def settle(session: Session, gateway: PaymentGateway, refund: Refund, *, site_url: str) -> Refund:
    """Send a pending refund and record the answer; a settled one answers as it did."""
    if refund.status == RefundStatus.FAILED:
        raise RefundError(f"The payment gateway refused refund {refund.number}: {refund.message}")
    if refund.status != RefundStatus.PENDING:
        return refund
    refund_id, key, amount = refund.id, refund.idempotency_key, refund.amount
    charge_id = session.scalar(select(Order.charge_id).where(Order.id == refund.order_id))
    commit_before(session, "the gateway is called")
    try:
        answer = send_refund(gateway, charge_id=charge_id, amount=amount, key=key)
    except GatewayUnavailable:
        raise RefundPending(session.get(Refund, refund_id)) from None
    refund = record_refund(session, refund_id=refund_id, answer=answer, site_url=site_url)
    if refund.status == RefundStatus.FAILED:
        commit_before(session, "the refusal is reported")
        raise RefundError(f"The payment gateway refused refund {refund.number}: {refund.message}")
    return refund


def refund_text(order: Order, refund: Refund, site_url: str) -> str:
    """The member's mail: what went back, to which card, why, and the volume that left."""
    lines = lines_text(_RefundedLine(line) for line in refund.lines)
    shipping = f"\n  Shipping  {money(refund.shipping_amount)}" if refund.shipping_amount else ""
    link = f"\n\nYour order: {site_url}/orders/{order.id}" if site_url else ""
    return (f"We have refunded {money(refund.amount)} for your order {order.number} to your "
            f"{order.payment_label}.\n\n{lines}{shipping}\n\nReason: {refund.reason}\n"
            f"Volume taken off the order: {volume(refund.pv)} PV\n\n"
            "Your bank may take a few days to show it on your statement." + link + "\n")


class _RefundedLine:
    """A refund line as the receipt writer reads an order line."""

    def __init__(self, refunded: RefundLine):
        line: OrderLine = refunded.order_line
        self.name, self.unit_code, self.eaches_per_unit = line.name, line.unit_code, line.eaches_per_unit
        self.quantity, self.eaches, self.line_total = refunded.quantity, refunded.eaches, refunded.amount

