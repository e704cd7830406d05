"""Receipts, expected arrivals, CSV imports, releasing and shipping, called directly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.errors import NotFound
from portal.fulfilment import coordination
from portal.fulfilment.inventory_csv import CsvRejected
from portal.fulfilment.models import InventoryReceipt, PurchaseOrder, PurchaseOrderLine, Shipment
from portal.fulfilment.planning import load_snapshot, run_planning
from portal.fulfilment.services import (InventoryError, ShipmentError, add_expected_arrival,
                                        import_arrivals, import_receipts, receive_purchase_order_line,
                                        record_receipt, release_shipment, ship_shipment)
from portal.orders.models import Order
from portal.orders.services import change_status
from portal.queues import get_queue
from tests.factories import make_admin
from tests.races import run_behind
from tests.fulfilment.builders import destination, expected, paid_order, product, stock_of

TODAY = date(2026, 3, 2)
LIMITS = dict(today=TODAY, max_bytes=100_000, max_rows=1_000)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def planning_requested(redis) -> dict[str, int]:
    """What the pending planning job was asked for (and take it, as the job would)."""
    pending = redis.get(coordination.PENDING_KEY)
    assert pending is not None, "no planning job pending"
    return coordination.take_requests(redis, pending.decode())


# --- receipts ---------------------------------------------------------------------------------

def test_two_receipts_at_once_cannot_both_fit_under_the_stock_ceiling(app, session, redis):
    # Each fits alone; the second, waiting for the first, finds the stock the first left.
    kit = product(session, 9_000_000, sku="KIT-400")
    session.commit()
    record_receipt(session, actor=None, sku="KIT-400", eaches=600_000)
    other = run_behind(app, session, lambda other_session: record_receipt(
        other_session, actor=None, sku="KIT-400", eaches=600_000))
    assert isinstance(other, InventoryError)
    assert other.message == ("KIT-400 has 9,600,000 eaches on hand; 600,000 more would pass the "
                             "10,000,000 one product may hold.")
    assert stock_of(session, kit) == (9_600_000, 0)
    assert count(session, InventoryReceipt) == 1


def test_a_receipt_adds_to_on_hand_and_asks_for_planning_after_the_commit(session, redis):
    admin = make_admin(session)
    soap = product(session, 5)
    receipt = record_receipt(session, actor=admin, sku=f" {soap.sku.lower()} ", eaches=7, note="pallet 4")
    assert get_queue("default").count == 0  # not before the commit
    session.commit()
    assert stock_of(session, soap) == (12, 0)
    assert (receipt.product_id, receipt.eaches, receipt.note, receipt.received_by_id) == (soap.id, 7, "pallet 4", admin.id)
    assert planning_requested(redis) == {"receipt": 1}


@pytest.mark.parametrize("eaches", [0, -3, 1_000_001, True, 2.5])
def test_a_receipt_needs_a_sensible_number_of_eaches(session, eaches):
    soap = product(session, 5)
    with pytest.raises(InventoryError, match="whole number"):
        record_receipt(session, actor=None, sku=soap.sku, eaches=eaches)


def test_a_receipt_for_an_unknown_sku_changes_nothing(session, redis):
    with pytest.raises(InventoryError, match="No product has SKU 'NOPE'") as caught:
        record_receipt(session, actor=None, sku="NOPE", eaches=3)
    assert caught.value.field == "sku"
    session.rollback()
    assert count(session, InventoryReceipt) == 0 and redis.get(coordination.PENDING_KEY) is None


def test_receiving_a_purchase_order_line_closes_its_expected_arrival(session):
    soap = product(session, 0)
    purchase_order = expected(session, soap, 10, TODAY + timedelta(days=5))
    line_id = purchase_order.lines[0].id
    receive_purchase_order_line(session, actor=None, line_id=line_id, eaches=6)
    session.commit()
    assert load_snapshot(session).eta[soap.sku].date() == TODAY + timedelta(days=5)  # 4 still due
    receive_purchase_order_line(session, actor=None, line_id=line_id, eaches=4)
    session.commit()
    assert session.get(PurchaseOrderLine, line_id).eaches_received == 10
    assert soap.sku not in load_snapshot(session).eta
    assert stock_of(session, soap) == (10, 0)
    with pytest.raises(NotFound):
        receive_purchase_order_line(session, actor=None, line_id=9999, eaches=1)


# --- expected arrivals -------------------------------------------------------------------------

def test_an_expected_arrival_makes_or_extends_a_purchase_order(session, redis):
    soap, tea = product(session, 0), product(session, 0)
    on = TODAY + timedelta(days=10)
    first = add_expected_arrival(session, actor=None, reference="PO-77", supplier="Acme",
                                 expected_on=on, sku=soap.sku, eaches=12, today=TODAY)
    add_expected_arrival(session, actor=None, reference="PO-77", supplier="", expected_on=on,
                         sku=soap.sku, eaches=3, today=TODAY)
    add_expected_arrival(session, actor=None, reference="PO-77", supplier="", expected_on=on,
                         sku=tea.sku, eaches=1, today=TODAY)
    session.commit()
    assert [(l.product_id, l.eaches_expected) for l in first.lines] == [(soap.id, 15), (tea.id, 1)]
    assert first.supplier == "Acme"
    assert planning_requested(redis) == {"expected arrival": 3}


def test_one_purchase_order_has_one_expected_date(session):
    soap = product(session, 0)
    add_expected_arrival(session, actor=None, reference="PO-1", supplier="", sku=soap.sku, eaches=1,
                         expected_on=TODAY + timedelta(days=3), today=TODAY)
    with pytest.raises(InventoryError, match="PO-1 is expected on Mar 05, 2026") as caught:
        add_expected_arrival(session, actor=None, reference="PO-1", supplier="", sku=soap.sku,
                             eaches=1, expected_on=TODAY + timedelta(days=4), today=TODAY)
    assert caught.value.field == "expected_on"
    with pytest.raises(InventoryError, match="in the past"):
        add_expected_arrival(session, actor=None, reference="PO-2", supplier="", sku=soap.sku,
                             eaches=1, expected_on=TODAY - timedelta(days=1), today=TODAY)


# --- CSV imports -------------------------------------------------------------------------------

def test_a_receipts_file_is_imported_in_one_go(session, redis):
    soap, tea = product(session, 1), product(session, 0)
    purchase_order = expected(session, tea, 20, TODAY + timedelta(days=2), reference="PO-9")
    session.commit()
    data = f"sku,eaches,reference\n{soap.sku},4\n{tea.sku},5,PO-9\n{soap.sku},2\n".encode()
    assert import_receipts(session, actor=None, data=data, **LIMITS) == 3
    session.commit()
    assert stock_of(session, soap) == (7, 0) and stock_of(session, tea) == (5, 0)
    assert session.get(PurchaseOrderLine, purchase_order.lines[0].id).eaches_received == 5
    assert count(session, InventoryReceipt) == 3
    assert planning_requested(redis) == {"receipt": 1}  # one request for the whole file


def test_a_receipts_file_with_one_bad_row_changes_nothing(session, redis):
    soap = product(session, 1)
    expected(session, soap, 5, TODAY + timedelta(days=2), reference="PO-1")
    session.commit()
    data = f"{soap.sku},4\nUNKNOWN-1,2\n{soap.sku},3,,PO-404\n{soap.sku},1,,PO-1\n".encode()
    with pytest.raises(CsvRejected) as caught:
        import_receipts(session, actor=None, data=data, **LIMITS)
    session.rollback()
    assert caught.value.problems == ["Line 2: no product has SKU UNKNOWN-1.",
                                     "Line 3: there is no purchase order PO-404."]
    assert stock_of(session, soap) == (1, 0) and count(session, InventoryReceipt) == 0
    assert redis.get(coordination.PENDING_KEY) is None


def test_problems_of_every_kind_are_reported_together_in_line_order(session):
    soap = product(session, 1)
    data = f"sku,eaches\nNOPE-2,1\n{soap.sku},many\nNOPE-4,2\n".encode()
    with pytest.raises(CsvRejected) as caught:
        import_receipts(session, actor=None, data=data, **LIMITS)
    assert caught.value.problems == [
        "Line 2: no product has SKU NOPE-2.",
        "Line 3: eaches must be a whole number from 1 to 1,000,000 (found 'many').",
        "Line 4: no product has SKU NOPE-4."]


def test_a_receipt_against_a_purchase_order_without_that_sku_is_refused(session):
    soap, tea = product(session, 1), product(session, 1)
    expected(session, soap, 5, TODAY + timedelta(days=2), reference="PO-1")
    with pytest.raises(CsvRejected) as caught:
        import_receipts(session, actor=None, data=f"{tea.sku},1,,PO-1\n".encode(), **LIMITS)
    assert caught.value.problems == [f"Line 1: purchase order PO-1 has no line for {tea.sku}."]


def test_an_arrivals_file_groups_rows_into_purchase_orders(session, redis):
    soap, tea = product(session, 0), product(session, 0)
    expected(session, soap, 5, TODAY + timedelta(days=9), reference="PO-OLD")
    session.commit()
    data = (f"sku,eaches,expected_date,reference\n"
            f"{soap.sku},10,2026-03-20,PO-NEW\n{tea.sku},4,2026-03-20,PO-NEW\n{soap.sku},2,2026-03-20,PO-NEW\n"
            f"{tea.sku},6,2026-03-11,PO-OLD\n{soap.sku},1,2026-03-11,PO-OLD\n{tea.sku},8,2026-04-01\n").encode()
    assert import_arrivals(session, actor=None, data=data, **LIMITS) == 6
    session.commit()
    lines = session.execute(select(PurchaseOrder.reference, PurchaseOrder.expected_on,
                                   PurchaseOrderLine.product_id, PurchaseOrderLine.eaches_expected)
                            .join(PurchaseOrderLine).order_by(PurchaseOrder.reference, PurchaseOrderLine.product_id)).all()
    assert [tuple(line) for line in lines] == [
        ("ETA-2026-04-01", date(2026, 4, 1), tea.id, 8),
        ("PO-NEW", date(2026, 3, 20), soap.id, 12), ("PO-NEW", date(2026, 3, 20), tea.id, 4),
        ("PO-OLD", date(2026, 3, 11), soap.id, 6), ("PO-OLD", date(2026, 3, 11), tea.id, 6)]
    assert planning_requested(redis) == {"expected arrival": 1}


def test_an_arrivals_file_may_not_give_one_purchase_order_two_dates(session):
    soap = product(session, 0)
    expected(session, soap, 5, TODAY + timedelta(days=9), reference="PO-OLD")
    data = (f"{soap.sku},1,2026-03-20,PO-A\n{soap.sku},1,2026-03-21,PO-A\n"
            f"{soap.sku},1,2026-03-12,PO-OLD\n").encode()
    with pytest.raises(CsvRejected) as caught:
        import_arrivals(session, actor=None, data=data, **LIMITS)
    assert caught.value.problems == [
        "Line 2: PO-A is expected on 2026-03-20 (line 1 of this file), not 2026-03-21.",
        "Line 3: PO-OLD is expected on 2026-03-11 (the purchase order already saved), not 2026-03-12."]


# --- releasing and shipping --------------------------------------------------------------------

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
        ship_shipment(session, actor=None, shipment_id=shipment.id)
    session.rollback()
    release_shipment(session, actor=None, shipment_id=shipment.id)
    session.commit()
    assert stock_of(session, soap) == (9, 2) and stock_of(session, tea) == (4, 4)
    ship_shipment(session, actor=None, shipment_id=shipment.id)
    session.commit()
    assert stock_of(session, soap) == (7, 0) and stock_of(session, tea) == (0, 0)
    assert session.get(Order, order.id).status == "shipped"
    assert session.get(Shipment, shipment.id).shipped_at is not None
