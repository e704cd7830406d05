"""Read-side numbers and lists for the operations pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.clock import utcnow
from portal.accounts.models import User
from portal.catalog.models import Product, StockLevel
from portal.mail.models import OutboxMessage
from portal.mail.services import RETRIED_STATUSES
from portal.orders.models import Order
from portal.orders.states import OrderStatus


def operations_summary(session: Session) -> dict:
    since = utcnow() - timedelta(days=1)
    # A cancelled order brings no revenue (it was never charged).
    revenue = func.sum(Order.total).filter(Order.status != OrderStatus.CANCELLED)
    orders_today = session.execute(select(func.count(), func.coalesce(revenue, 0))
                                   .where(Order.placed_at >= since)).one()
    by_status = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    by_role = dict(session.execute(select(User.role, func.count()).group_by(User.role)).all())
    low_stock = list(session.execute(
        select(Product.id, Product.sku, Product.name, StockLevel.on_hand, StockLevel.allocated)
        .join(StockLevel).where(Product.active.is_(True),
                                StockLevel.on_hand - StockLevel.allocated < 24)
        .order_by(StockLevel.on_hand - StockLevel.allocated, Product.sku).limit(10)))
    outbox_waiting = session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.status.in_(RETRIED_STATUSES)))
    return {"orders_24h": orders_today[0], "revenue_24h": orders_today[1],
            "by_status": by_status, "by_role": by_role, "low_stock": low_stock,
            "outbox_waiting": outbox_waiting}


def orders_query(status: str = ""):
    # Refunds come with the page in one more query: the list shows "Refunded" beside the status.
    query = (select(Order).options(selectinload(Order.refunds))
             .order_by(Order.placed_at.desc(), Order.id.desc()))
    if status:
        query = query.where(Order.status == status)
    return query


def outbox_query():
    return select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
