"""Tracking numbers from a CSV file: every shipment whose rows are good ships, every bad row is
reported with its line and changes nothing (nor do the other rows of its shipment)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.clock import company_today
from portal.fulfilment.inventory_csv import CsvRejected
from portal.fulfilment.models import Shipment, TrackingNumber
from portal.fulfilment.planning import run_planning
from portal.fulfilment.shipments import release_shipment
from portal.fulfilment.tracking_csv import import_tracking
from portal.mail.models import OutboxMessage
from portal.orders.models import Order
from tests.fulfilment.builders import TRACKING_URLS, destination, paid_order, product, ship


def released_boxes(session, count: int) -> list[tuple[Shipment, Order]]:
    """``count`` released shipments, one order each, to different members."""
    soap = product(session, 100)
    orders = [paid_order(session, destination(session), (soap, 1)) for _ in range(count)]
    run_planning(session)
    boxes = []
    for order in orders:
        shipment_id = session.scalar(select(Shipment.id).join(Shipment.picks).where(
            Shipment.picks.any(order_id=order.id)))
        boxes.append((release_shipment(session, actor=None, shipment_id=shipment_id), order))
    session.commit()
    return boxes


def upload(session, text: str, **limits):
    settings = dict(today=company_today(), max_bytes=100_000, max_rows=100, urls=TRACKING_URLS,
                    base_url="http://portal.test")
    settings.update(limits)
    result = import_tracking(session, actor=None, data=text.encode(), **settings)
    session.commit()
    return result


def status_of(session, shipment) -> str:
    return session.scalar(select(Shipment.status).where(Shipment.id == shipment.id))


def test_good_rows_ship_and_each_bad_row_is_reported_with_its_line(session):
    (a, a_order), (b, _), (c, _), (d, _) = released_boxes(session, 4)
    today = company_today().isoformat()
    text = (f"shipment,carrier,tracking_number,ship_date\n"
            f"{a.number},UPS,1Z999AA10123456784,{today}\n"
            f"{a.number},ups,1Z999AA10123456799,{today}\n"        # a second parcel of the same box
            f"{b.id},FedEx,=HYPERLINK(\"http://evil.example\"),{today}\n"
            f"{c.number},USPS,9400111899223300,2999-01-01\n"
            f"{c.number},USPS,9400111899223301,{today}\n"           # held back: line 5 is c's too
            f"SH99999999,UPS,1Z999AA10000000001,{today}\n"
            f"{d.id},Acme Freight,AF-1234-56,{today}\n")
    result = upload(session, text)
    assert result.shipped == [a.number, d.number]
    assert result.problems == [
        "Line 4: The tracking number '=HYPERLINK(\"http://evil.example\")' looks like a spreadsheet "
        "formula, which is never stored.",
        "Line 5: The ship date 2999-01-01 is in the future.",
        "Line 6: not applied, because another row of the same shipment (line 5) has a problem.",
        "Line 7: shipment SH99999999 does not exist (a newer plan may have replaced it)."]
    assert [status_of(session, box) for box in (a, b, c, d)] == ["shipped", "released", "released", "shipped"]
    assert sorted(session.scalars(select(TrackingNumber.number))) == \
        ["1Z999AA10123456784", "1Z999AA10123456799", "AF123456"]
    assert session.get(Shipment, d.id).carrier == "Acme Freight"
    [to_a] = session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == a_order.user_id))
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456799" in to_a.body
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2


def test_a_shipment_named_by_its_order_number(session):
    [(box, order)] = released_boxes(session, 1)
    result = upload(session, f"{order.number},DHL,JD0140000123,{company_today().isoformat()}\n")
    assert (result.shipped, result.problems) == ([box.number], [])
    assert session.get(Order, order.id).status == "shipped"


def test_duplicates_in_the_file_and_numbers_already_recorded_are_refused(session):
    (a, _), (b, _), (c, _) = released_boxes(session, 3)
    (old, _), = released_boxes(session, 1)
    ship(session, old.id, "1Z999AA10000000777")
    session.commit()
    today = company_today().isoformat()
    result = upload(session, f"{a.number},UPS,1Z999AA10000000001,{today}\n"
                             f"{b.number},UPS,1z999aa1 0000000001,{today}\n"
                             f"{c.number},UPS,1Z999AA10000000777,{today}\n"
                             f"{old.number},UPS,1Z999AA10000000888,{today}\n"
                             f"{a.number},USPS,9400111899223300,{today}\n")
    assert result.shipped == []
    assert result.problems == [
        "Line 1: not applied, because another row of the same shipment (line 5) has a problem.",
        "Line 2: tracking number 1Z999AA10000000001 is also on line 1.",
        "Line 3: tracking number 1Z999AA10000000777 is already recorded for shipment "
        f"{old.number}.",
        f"Line 4: shipment {old.number} is already shipped.",
        f"Line 5: shipment {a.number} has carrier UPS and ship date {today} on line 1; one "
        "shipment leaves with one carrier on one day."]
    assert [status_of(session, box) for box in (a, b, c)] == ["released"] * 3


def test_uploading_the_same_file_twice_ships_once(session):
    [(box, _)] = released_boxes(session, 1)
    text = f"{box.number},UPS,1Z999AA10123456784,{company_today().isoformat()}\n"
    assert upload(session, text).shipped == [box.number]
    again = upload(session, text)
    assert again.shipped == [] and again.problems == [f"Line 1: shipment {box.number} is already shipped."]
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


@pytest.mark.parametrize("text, problem", [
    ("", "The file is empty."),
    ("\xff\xfe", "The file is not UTF-8 text"),
    ("shipment,carrier,tracking,ship_date\n1,UPS,AB1234,2026-01-01\n", "the header must name the columns"),
    ("shipment,carrier,tracking_number,ship_date\n", "The file has a header but no rows."),
    ("1,UPS,AB1234,2026-01-01\n" * 3, "The file has 3 rows; at most 2 at a time."),
    ('1,"UPS\n', "this is not valid CSV"),
])
def test_a_file_that_cannot_be_read_changes_nothing(session, text, problem):
    [(box, _)] = released_boxes(session, 1)
    with pytest.raises(CsvRejected) as refused:
        import_tracking(session, actor=None, data=text.encode("latin-1"), today=company_today(),
                        max_bytes=100_000, max_rows=2, urls=TRACKING_URLS, base_url="http://portal.test")
    assert problem in " ".join([refused.value.message, *refused.value.problems])
    session.rollback()
    assert status_of(session, box) == "released"


def test_a_file_over_the_limit_is_refused_before_reading(session):
    with pytest.raises(CsvRejected, match="Nothing was imported") as refused:
        import_tracking(session, actor=None, data=b"1,UPS,AB1234,2026-01-01\n" * 100,
                        today=company_today(), max_bytes=1000, max_rows=10_000, urls=TRACKING_URLS,
                        base_url="http://portal.test")
    assert refused.value.problems == ["The file is larger than 1,000 bytes; split it into smaller files."]


def test_an_order_in_no_or_several_released_shipments_must_be_named_by_shipment(session):
    soap = product(session, 2)
    address = destination(session)
    big = paid_order(session, address, (soap, 5))  # two eaches now, three later
    run_planning(session)
    [first] = session.scalars(select(Shipment.id))
    release_shipment(session, actor=None, shipment_id=first)
    session.commit()
    today = company_today().isoformat()
    result = upload(session, f"SO99999999,UPS,1Z999AA10123456784,{today}\n")
    assert result.problems == ["Line 1: order SO99999999 is in no shipment released to the warehouse."]
    assert upload(session, f"{big.number},UPS,1Z999AA10123456784,{(company_today() - timedelta(days=2)).isoformat()}\n").shipped \
        == [f"SH{first:08d}"]
