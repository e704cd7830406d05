"""Inventory CSV uploads (receipts and expected arrivals), imported directly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.fulfilment import coordination
from portal.fulfilment.csv_imports import import_arrivals, import_receipts
from portal.fulfilment.inventory_csv import CsvRejected
from portal.fulfilment.models import InventoryReceipt, PurchaseOrder, PurchaseOrderLine
from tests.fulfilment.builders import count, expected, planning_requested, product, stock_of

TODAY = date(2026, 3, 2)
LIMITS = dict(today=TODAY, max_bytes=100_000, max_rows=1_000)


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
