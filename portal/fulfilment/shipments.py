"""Planned shipments leaving the plan: released to the warehouse, then shipped with a carrier,
tracking numbers and a ship date, and each person whose order is in the box told so by mail.
Both take the planning lock, so that no planning run replaces a shipment while it is being
handed over."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.catalog.models import StockLevel
from portal.clock import utcnow
from portal.errors import DomainError, NotFound
from portal.formatting import day
from portal.fulfilment.models import (Shipment, ShipmentPick, ShipmentStatus, TrackingNumber,
                                      expire_loaded)
from portal.fulfilment.planning import hold_planning_lock
from portal.fulfilment.tracking import Dispatch, TrackingRefused, parcels
from portal.mail.services import queue_mail
from portal.orders.models import Order, OrderLine
from portal.orders.refund_amounts import refunded_eaches
from portal.orders.services import change_status
from portal.orders.states import STATUS_LABELS, OrderStatus


class ShipmentError(DomainError):
    pass


def shipment_by_id(session: Session, shipment_id: int) -> Shipment:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound("That shipment is no longer in the plan: a newer planning run replaced "
                       "it. Look at the latest plan.")
    return shipment


def _eaches_sent(session: Session, order_ids: list[int]) -> dict[int, int]:
    """Eaches per order line in released or shipped shipments, for the lines of ``order_ids``."""
    return dict(session.execute(
        select(ShipmentPick.order_line_id, func.sum(ShipmentPick.eaches))
        .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
        .where(ShipmentPick.order_id.in_(order_ids),
               Shipment.status.in_((ShipmentStatus.RELEASED, ShipmentStatus.SHIPPED)))
        .group_by(ShipmentPick.order_line_id)).all())


def release_shipment(session: Session, *, actor: User | None, shipment_id: int) -> Shipment:
    """Hand a planned shipment to the warehouse. Its stock stays allocated and no planning run
    replaces it. Orders it completes become released; partly shipped orders stay paid, and
    their remainder is planned again."""
    hold_planning_lock(session)
    shipment = shipment_by_id(session, shipment_id)
    if shipment.status != ShipmentStatus.PLANNED:
        raise ShipmentError(f"Shipment {shipment.number} is already {shipment.status_label.lower()}.")
    order_ids = sorted({pick.order_id for pick in shipment.picks})
    orders = list(session.scalars(select(Order).where(Order.id.in_(order_ids)).order_by(Order.id)))
    for order in orders:
        if order.status != OrderStatus.PAID:
            raise ShipmentError(f"Order {order.number} is {STATUS_LABELS[OrderStatus(order.status)].lower()} "
                                "now, so this plan is out of date. Plan again, then release.")
    shipment.status = ShipmentStatus.RELEASED
    shipment.released_at = utcnow()
    shipment.released_by_id = actor.id if actor else None
    session.flush()
    sent = _eaches_sent(session, order_ids)
    refunded = refunded_eaches()  # refunded before they left: they never ship
    wanted = session.execute(select(OrderLine.order_id, OrderLine.id,
                                    OrderLine.eaches - func.coalesce(refunded.c.eaches, 0))
                             .outerjoin(refunded, refunded.c.order_line_id == OrderLine.id)
                             .where(OrderLine.order_id.in_(order_ids))).all()
    incomplete = {order_id for order_id, line_id, eaches in wanted if sent.get(line_id, 0) < eaches}
    for order in orders:
        if order.id not in incomplete:
            change_status(session, order, OrderStatus.RELEASED, f"in shipment {shipment.number}")
    return shipment


def ship_shipment(session: Session, *, actor: User | None, shipment_id: int, dispatch: Dispatch,
                  urls: dict[str, str], base_url: str) -> Shipment:
    """A released shipment left the warehouse with ``dispatch`` (carrier, tracking numbers, day):
    its eaches leave on hand and allocated, the orders it was the last open shipment of become
    shipped, and each person with an order in it gets a "shipped" mail with the tracking links.
    A tracking number already recorded on any shipment is refused (TrackingRefused)."""
    hold_planning_lock(session)
    shipment = shipment_by_id(session, shipment_id)
    if shipment.status != ShipmentStatus.RELEASED:
        raise ShipmentError(f"Shipment {shipment.number} is {shipment.status_label.lower()}; only "
                            "a released shipment can be marked as shipped.")
    taken = session.execute(select(TrackingNumber.number, TrackingNumber.shipment_id)
                            .where(TrackingNumber.number.in_(dispatch.numbers))).first()
    if taken is not None:
        raise TrackingRefused(f"Tracking number {taken.number} is already recorded for shipment "
                              f"SH{taken.shipment_id:08d}.", "numbers")
    gone = (select(ShipmentPick.product_id, func.sum(ShipmentPick.eaches).label("eaches"))
            .where(ShipmentPick.shipment_id == shipment.id)
            .group_by(ShipmentPick.product_id).subquery())
    session.execute(update(StockLevel)
                    .values(on_hand=StockLevel.on_hand - gone.c.eaches,
                            allocated=StockLevel.allocated - gone.c.eaches)
                    .where(StockLevel.product_id == gone.c.product_id)
                    .execution_options(synchronize_session=False))
    expire_loaded(session, StockLevel)
    shipment.status = ShipmentStatus.SHIPPED
    shipment.shipped_at = utcnow()
    shipment.carrier, shipment.shipped_on = dispatch.carrier, dispatch.shipped_on
    shipment.shipped_by_id = actor.id if actor else None
    shipment.tracking_numbers = [TrackingNumber(number=number) for number in dispatch.numbers]
    session.flush()
    order_ids = sorted({pick.order_id for pick in shipment.picks})
    still_open = set(session.scalars(
        select(ShipmentPick.order_id).join(Shipment, Shipment.id == ShipmentPick.shipment_id)
        .where(ShipmentPick.order_id.in_(order_ids), Shipment.status == ShipmentStatus.RELEASED)))
    orders = list(session.scalars(select(Order).where(Order.id.in_(order_ids)).order_by(Order.id)))
    for order in orders:
        if order.status == OrderStatus.RELEASED and order.id not in still_open:
            change_status(session, order, OrderStatus.SHIPPED, f"shipment {shipment.number}")
    _tell_shipped(session, shipment, orders, urls=urls, base_url=base_url)
    return shipment


def _tell_shipped(session: Session, shipment: Shipment, orders: list[Order], *,
                  urls: dict[str, str], base_url: str) -> None:
    """One mail per person with an order in the box (siblings to one address may be several
    people's), naming their orders, whether all of each has now left, and the tracking links."""
    base = base_url.rstrip("/")
    tracking = "\n".join(
        f"Tracking number {parcel.number}: {parcel.link}" if parcel.link else
        f"Tracking number {parcel.number} (ask {shipment.carrier} about it)"
        for parcel in parcels(shipment.carrier, [t.number for t in shipment.tracking_numbers], urls))
    by_owner: dict[int, list[Order]] = {}
    for order in orders:
        by_owner.setdefault(order.user_id, []).append(order)
    for user_id, owned in by_owner.items():
        user = session.get(User, user_id)
        numbers = ", ".join(order.number for order in owned)
        whole = all(order.status == OrderStatus.SHIPPED for order in owned)
        what = f"order {numbers}" if len(owned) == 1 else f"orders {numbers}"
        subject = f"{what[0].upper()}{what[1:]} {'has' if len(owned) == 1 else 'have'} shipped" \
            if whole else f"Part of {what} has shipped"
        rest = "" if whole else "\nThe rest follows in another parcel; we will write again when it ships.\n"
        links = "\n".join(f"Order {order.number}: {base}/orders/{order.id}" for order in owned)
        body = (f"Hello {user.first_name},\n\n{subject}: it left our "
                f"warehouse on {day(shipment.shipped_on, 'long_short')} with {shipment.carrier} "
                f"(shipment {shipment.number}).\n\n{tracking}\n{rest}\n{links}\n")
        queue_mail(session, user=user, subject=subject, body=body)
