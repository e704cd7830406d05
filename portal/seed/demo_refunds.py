"""Two refunds for the demo: one shipped order of Dave's refunded in full (the case arrived
damaged), and one partly (an item of another shipped order came back and was restocked), made
by the demo admin yesterday through the refund service's steps, in the caller's transaction
(``refund_order`` commits half-way; a failed seed must leave an empty database)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.clock import frozen_at
from portal.orders.models import Order
from portal.orders.states import OrderStatus
from portal.orders.refund_amounts import RefundRequest
from portal.orders.refunds import record_refund, send_refund, start_refund
from portal.payments.gateway import PaymentGateway


def seed_refunds(session: Session, *, gateway: PaymentGateway, admin: User, dave: User,
                 today: date, base_url: str) -> list[int]:
    """Refund two shipped orders (Dave's latest in full, another person's in part); the ids of
    the refunded orders."""
    shipped = list(session.scalars(select(Order).where(Order.status == OrderStatus.SHIPPED)
                                   .order_by(Order.id.desc())))
    whole = next((order for order in shipped if order.user_id == dave.id), shipped[0] if shipped else None)
    part = next((order for order in shipped if order is not whole and order.lines
                 and (len(order.lines) > 1 or order.lines[0].quantity > 1)), None)
    refunded = []
    with frozen_at(datetime.combine(today - timedelta(days=1), time(15), tzinfo=timezone.utc)):
        for order, request, restock, reason in (
                (whole, RefundRequest(everything=True), False,
                 "The case arrived crushed; no need to send it back."),
                (part, RefundRequest({part.lines[0].id: 1}) if part else None, True,
                 "One item came back unopened.")):
            if order is None:
                continue
            refund = start_refund(session, actor=admin, order_id=order.id,
                                  idempotency_key=f"demo-refund-order-{order.id}", request=request,
                                  restock=restock, reason=reason)
            answer = send_refund(gateway, charge_id=order.charge_id, amount=refund.amount,
                                 key=refund.idempotency_key)
            record_refund(session, refund_id=refund.id, answer=answer, site_url=base_url)
            refunded.append(order.id)
    return refunded
