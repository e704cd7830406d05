"""When an order's volume counts in a period, in Python and as the SQL beside it.

An order counts in the period in which it was paid (``paid_at``, company time) unless it was
cancelled; what confirmed refunds took off it is subtracted there. Both forms are held equal
by a test."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, and_, func, select, type_coerce

from portal.orders.models import Order
from portal.volume.models import OrderRefundVolume

CANCELLED = "cancelled"


def counts_in(order: Order, start: datetime, end: datetime) -> bool:
    return order.paid_at is not None and start <= order.paid_at < end and order.status != CANCELLED


def counts_in_sql(start: datetime, end: datetime):
    return and_(Order.paid_at >= start, Order.paid_at < end, Order.status != CANCELLED)


def counted_pv(order: Order, refunded_pv: Decimal) -> Decimal:
    """An order's PV less what its refunds took back."""
    return order.pv_total - refunded_pv


def refunded_pv_sql():
    """Hundredths of PV each refunded order gave back (order_id, pv), to join on."""
    return (select(OrderRefundVolume.order_id.label("order_id"),
                   func.sum(type_coerce(OrderRefundVolume.pv, BigInteger)).label("pv"))
            .group_by(OrderRefundVolume.order_id).subquery())


def counted_pv_sql(refunded):
    """``counted_pv`` in hundredths (the columns' stored integers), given ``refunded``: the
    refunded hundredths of the order (NULL when none), e.g. a column of ``refunded_pv_sql``."""
    return type_coerce(Order.pv_total, BigInteger) - func.coalesce(refunded, 0)
