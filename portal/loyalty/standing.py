"""Standing orders paid with points: "use my points on this order", applied at charge time.

When a standing order's order is about to be charged for the first time (``charges_preparing``),
and its person chose points for that standing order, its items are paid with points in the
order of its lines, each whole line the balance still covers; those lines then cost nothing and
carry no PV or BV, the order is totalled again (the shipping rule sees the lower subtotal) and
the card is charged the rest (nothing, when points paid for everything). Done once per order:
a retried charge finds the redemption (a unique index) and leaves the order as it is."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.autoship.models import AutoshipProfile
from portal.loyalty.ledger import lock_account, redeem_points
from portal.loyalty.models import EntryKind, PointsEntry, PointsOnStandingOrder
from portal.loyalty.rules import Program
from portal.orders.models import Order, OrderSource
from portal.orders.pricing import ShippingRule
from portal.orders.services import retotal_order
from portal.orders.states import OrderStatus

ZERO = Decimal("0.00")


def choose_points(session: Session, profile: AutoshipProfile, use: bool) -> bool:
    """Turn "use my points on this order" on or off for a standing order; returns the choice."""
    chosen = session.get(PointsOnStandingOrder, profile.id)
    if use and chosen is None:
        session.add(PointsOnStandingOrder(profile_id=profile.id))
    elif not use and chosen is not None:
        session.delete(chosen)
    session.flush()
    return use


def uses_points(session: Session, profile_id: int) -> bool:
    return session.get(PointsOnStandingOrder, profile_id) is not None


def pay_standing_orders_with_points(session: Session, order_ids: list[int], *, program: Program,
                                    shipping: ShippingRule) -> list[int]:
    """Apply points to the orders among ``order_ids`` whose standing order chose them (see the
    module). Returns the orders that points paid for in part or in full."""
    if not order_ids:
        return []
    already = select(PointsEntry.id).where(PointsEntry.order_id == Order.id,
                                           PointsEntry.kind == EntryKind.REDEEMED).exists()
    candidates = session.scalars(
        select(Order).join(PointsOnStandingOrder, PointsOnStandingOrder.profile_id == Order.autoship_profile_id)
        .where(Order.id.in_(order_ids), Order.source == OrderSource.AUTOSHIP,
               Order.status == OrderStatus.PENDING_PAYMENT, Order.payment_attempts == 0, ~already)
        .order_by(Order.id)).all()
    paid = []
    for order in candidates:
        left = lock_account(session, order.user_id)
        spent, covered = 0, []
        for line in order.lines:
            price = program.points_price(line.line_total) if line.line_total > 0 else 0
            if 0 < price <= left - spent:
                spent += price
                covered.append(f"{line.quantity} x {line.name} ({line.unit_code})")
                line.unit_price = line.line_total = line.pv = line.bv = ZERO
        if not spent:
            continue
        retotal_order(order, shipping)
        session.flush()
        redeem_points(session, user_id=order.user_id, points=spent, order_id=order.id,
                      note=f"standing order {order.number}: " + ", ".join(covered))
        paid.append(order.id)
    return paid
