"""Receipts and expected arrivals, called directly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.errors import NotFound
from portal.fulfilment import coordination
from portal.fulfilment.models import InventoryReceipt, PurchaseOrderLine
from portal.fulfilment.planning import load_snapshot
from portal.fulfilment.receiving import (InventoryError, add_expected_arrival, receive_purchase_order_line,
                                         record_receipt)
from portal.queues import get_queue
from tests.factories import make_admin
from tests.races import run_behind
from tests.fulfilment.builders import count, expected, planning_requested, product, stock_of

TODAY = date(2026, 3, 2)


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
    with pytest.raises(InventoryError, match="PO-1 is expected on Mar 5, 2026") as caught:
        add_expected_arrival(session, actor=None, reference="PO-1", supplier="", sku=soap.sku,
                             eaches=1, expected_on=TODAY + timedelta(days=4), today=TODAY)
    assert caught.value.field == "expected_on"
    with pytest.raises(InventoryError, match="in the past"):
        add_expected_arrival(session, actor=None, reference="PO-2", supplier="", sku=soap.sku,
                             eaches=1, expected_on=TODAY - timedelta(days=1), today=TODAY)
