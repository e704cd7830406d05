"""How volume follows orders: payments, cancellations and refunds.

An order paid, or a paid order cancelled, asks for a refresh of its period (after the commit).
A refund is recorded (``OrderRefundVolume``, once per refund id) and asks the same. When the
order's period is closed already, its figures stay as they were: the volume that leaves is
written as a ``VolumeAdjustment`` in the open (current) period, which is refreshed instead.

The receivers run in the sender's unit of work; ``connect_signals`` is called from
``create_app`` (connecting again is harmless)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.orders.models import Order
from portal.orders.signals import order_refunded, order_status_changed
from portal.volume.computation import is_closed
from portal.volume.models import OrderRefundVolume, VolumeAdjustment
from portal.volume.periods import current_period, period_name, period_of
from portal.volume.refreshes import request_volume_refresh

CANCELLATION = "cancelled"   # the refund id an order's cancellation is recorded under


def _refunded(session: Session, order: Order) -> tuple[Decimal, Decimal]:
    hundredths = [func.coalesce(func.sum(type_coerce(column, BigInteger)), 0)
                  for column in (OrderRefundVolume.pv, OrderRefundVolume.bv)]
    pv, bv = session.execute(select(*hundredths).where(OrderRefundVolume.order_id == order.id)).one()
    return Decimal(pv) / 100, Decimal(bv) / 100


def _adjust(session: Session, order: Order, refund_id: str, pv: Decimal, bv: Decimal,
            reason: str) -> None:
    """Write what leaves a closed period's order into the open period, once per refund id."""
    open_period = current_period()
    session.execute(insert(VolumeAdjustment).values(
        period=open_period, user_id=order.user_id, order_id=order.id, refund_id=refund_id,
        pv=-pv, bv=-bv, reason=reason[:200]).on_conflict_do_nothing())
    request_volume_refresh(session, period=open_period, user_ids=[order.user_id])


def follow_status(order: Order, *, session: Session, from_status: str, to_status: str, **_) -> None:
    if order.paid_at is None or to_status not in ("paid", "cancelled"):
        return
    period = period_of(order.paid_at)
    if to_status == "cancelled" and is_closed(session, period):
        refunded_pv, refunded_bv = _refunded(session, order)
        _adjust(session, order, CANCELLATION, order.pv_total - refunded_pv,
                order.bv_total - refunded_bv,
                f"Order {order.id} cancelled after {period_name(period)} was closed")
        return
    request_volume_refresh(session, period=period, user_ids=[order.user_id])


def follow_refund(order: Order, *, session: Session, refund_id, pv, bv, at: datetime, **_) -> None:
    recorded = session.execute(insert(OrderRefundVolume).values(
        refund_id=str(refund_id)[:64], order_id=order.id, pv=Decimal(pv), bv=Decimal(bv),
        refunded_at=at).on_conflict_do_nothing().returning(OrderRefundVolume.refund_id)).first()
    if recorded is None or order.paid_at is None or order.status == "cancelled":
        return   # told twice, never paid, or its volume left with the cancellation already
    period = period_of(order.paid_at)
    if is_closed(session, period):
        _adjust(session, order, str(refund_id)[:64], Decimal(pv), Decimal(bv),
                f"Refund {refund_id} of order {order.id} after {period_name(period)} was closed")
        return
    request_volume_refresh(session, period=period, user_ids=[order.user_id])


def connect_signals() -> None:
    order_status_changed.connect(follow_status, weak=False)
    order_refunded.connect(follow_refund, weak=False)
