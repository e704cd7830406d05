"""Releasing and shipping planned shipments, called directly."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.errors import NotFound
from portal.fulfilment.models import Shipment
from portal.fulfilment.planning import run_planning
from portal.fulfilment.shipments import ShipmentError, release_shipment
from portal.orders.models import Order
from portal.orders.services import change_status
from tests.factories import make_admin
from tests.fulfilment.builders import destination, paid_order, product, stock_of, ship


def planned_shipment(session) -> Shipment:
    run_planning(session)
    session.commit()
    return session.scalars(select(Shipment).where(Shipment.status == "planned")).one()


def test_releasing_hands_the_shipment_over_and_releases_its_complete_orders(session):
    admin = make_admin(session)
    soap = product(session, 9)
    home = destination(session)
    orders = [paid_order(session, home, (soap, 2), minutes=m) for m in (0, 1)]
    shipment = planned_shipment(session)
    release_shipment(session, actor=admin, shipment_id=shipment.id)
    session.commit()
    assert (shipment.status, shipment.released_by_id) == ("released", admin.id)
    assert [session.get(Order, o.id).status for o in orders] == ["released", "released"]
    assert session.get(Order, orders[0].id).history[-1].note == f"in shipment {shipment.number}"
    with pytest.raises(ShipmentError, match="already released"):
        release_shipment(session, actor=admin, shipment_id=shipment.id)


def test_a_shipment_of_a_replaced_plan_cannot_be_released(session):
    soap = product(session, 9)
    home = destination(session)
    paid_order(session, home, (soap, 2))
    stale_id = planned_shipment(session).id
    paid_order(session, home, (soap, 1), minutes=5)  # the plan for this address changes
    assert planned_shipment(session).id != stale_id
    with pytest.raises(NotFound, match="no longer in the plan"):
        release_shipment(session, actor=None, shipment_id=stale_id)


def test_a_plan_with_a_cancelled_order_is_not_released(session):
    soap = product(session, 9)
    order = paid_order(session, destination(session), (soap, 2))
    shipment = planned_shipment(session)
    change_status(session, session.get(Order, order.id), "cancelled")
    session.commit()
    with pytest.raises(ShipmentError, match="cancelled now, so this plan is out of date"):
        release_shipment(session, actor=None, shipment_id=shipment.id)


def test_shipping_takes_the_eaches_off_on_hand_and_allocated(session):
    soap, tea = product(session, 9), product(session, 4)
    order = paid_order(session, destination(session), (soap, 2), (tea, 4))
    shipment = planned_shipment(session)
    with pytest.raises(ShipmentError, match="only a released shipment"):
        ship(session, shipment.id)
    session.rollback()
    release_shipment(session, actor=None, shipment_id=shipment.id)
    session.commit()
    assert stock_of(session, soap) == (9, 2) and stock_of(session, tea) == (4, 4)
    ship(session, shipment.id)
    session.commit()
    assert stock_of(session, soap) == (7, 0) and stock_of(session, tea) == (0, 0)
    assert session.get(Order, order.id).status == "shipped"
    assert session.get(Shipment, shipment.id).shipped_at is not None
