"""Shipping with a carrier, tracking numbers and a ship date: the checks, the service, the
"shipped" mail with its tracking links, and the configured carrier pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.clock import company_today
from portal.config import TestConfig
from portal.fulfilment.models import Shipment, TrackingNumber
from portal.fulfilment.planning import run_planning
from portal.fulfilment.shipments import ShipmentError, release_shipment
from portal.fulfilment.tracking import (TrackingRefused, check_tracking_urls, read_dispatch,
                                        tracking_link, tracking_numbers)
from portal.mail.models import OutboxMessage
from portal.orders.models import Order
from tests.fulfilment.builders import TRACKING_URLS, destination, paid_order, product, ship, stock_of
from tests.races import run_together


def released(session, *orders_items):
    """Orders (each a list of (product, eaches)) to one member's one address, planned and
    released: returns the orders and the released shipment ids."""
    address = destination(session)
    orders = [paid_order(session, address, *items) for items in orders_items]
    run_planning(session)
    ids = list(session.scalars(select(Shipment.id).where(Shipment.status == "planned").order_by(Shipment.id)))
    for shipment_id in ids:
        release_shipment(session, actor=None, shipment_id=shipment_id)
    session.commit()
    return orders, ids


def mails(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# --- The checks --------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, numbers", [
    ("1Z 999 AA1 01 2345 6784", ("1Z999AA10123456784",)),
    ("1z999aa10123456784\n 9400-1118-9922-3300 ", ("1Z999AA10123456784", "9400111899223300")),
    ("AB1234, ab1234; CD5678", ("AB1234", "CD5678")),  # the same number twice is one parcel
])
def test_tracking_numbers_are_read_as_carriers_print_them(typed, numbers):
    assert tracking_numbers(typed) == numbers


@pytest.mark.parametrize("typed, message", [
    ("", "Enter the tracking number."),
    ("=HYPERLINK(\"http://evil.example\",\"x\")", "looks like a spreadsheet formula"),
    ("+1Z999", "looks like a spreadsheet formula"),
    ("@SUM(A1)", "looks like a spreadsheet formula"),
    ("-1Z999+1", "looks like a spreadsheet formula"),
    ("1Z9", "4 to 40 letters and digits"),
    ("1Z99<script>", "4 to 40 letters and digits"),
    ("١٢٣٤٥", "4 to 40 letters and digits"),
    ("X" * 41, "4 to 40 letters and digits"),
    (",".join(f"AB{n:04d}" for n in range(21)), "At most 20 tracking numbers"),
])
def test_odd_tracking_numbers_are_refused_with_a_reason(typed, message):
    with pytest.raises(TrackingRefused, match=message.replace("(", r"\(")) as refused:
        tracking_numbers(typed)
    assert refused.value.field == "numbers"


def test_carriers_are_named_as_configured_and_dates_kept_in_range(app):
    today = company_today()
    dispatch = read_dispatch(carrier=" ups ", numbers="1Z999AA10123456784", shipped_on=today,
                             today=today, urls=TRACKING_URLS)
    assert (dispatch.carrier, dispatch.numbers, dispatch.shipped_on) == ("UPS", ("1Z999AA10123456784",), today)
    assert read_dispatch(carrier="Acme Freight", numbers="AB1234", shipped_on=today, today=today,
                         urls=TRACKING_URLS).carrier == "Acme Freight"
    for carrier, shipped_on, field, message in (
            ("=cmd|' /C calc'!A0", today, "carrier", "spreadsheet formula"),
            ("", today, "carrier", "Enter the carrier"),
            ("UPS<b>", today, "carrier", "1 to 40 letters"),
            ("UPS", today + timedelta(days=1), "shipped_on", "in the future"),
            ("UPS", today - timedelta(days=61), "shipped_on", "more than 60 days ago"),
            ("UPS", None, "shipped_on", "Enter the day it shipped")):
        with pytest.raises(TrackingRefused, match=message) as refused:
            read_dispatch(carrier=carrier, numbers="AB1234", shipped_on=shipped_on, today=today,
                          urls=TRACKING_URLS)
        assert refused.value.field == field


def test_a_tracking_link_comes_from_the_carriers_template_and_none_for_others():
    assert tracking_link("UPS", "1Z999AA10123456784", TRACKING_URLS) == \
        "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert tracking_link("Acme Freight", "AB1234", TRACKING_URLS) is None
    assert tracking_link(None, "AB1234", TRACKING_URLS) is None


def test_the_default_carriers_and_a_configured_list(monkeypatch):
    assert set(TestConfig.TRACKING_URLS) == {"UPS", "USPS", "FedEx", "DHL"}
    check_tracking_urls(TestConfig.TRACKING_URLS)
    # The environment replaces the defaults the way create_app reads every setting (a second
    # create_app here would rebind the shared extensions, the rate limiter's storage among them).
    monkeypatch.setenv("PORTAL_TRACKING_URLS", '{"Acme": "https://acme.example/t/{number}"}')
    config = Flask("settings").config
    config.from_object(TestConfig)
    config.from_prefixed_env("PORTAL")
    assert config["TRACKING_URLS"] == {"Acme": "https://acme.example/t/{number}"}
    check_tracking_urls(config["TRACKING_URLS"])
    for wrong in ({"UPS": "ftp://ups/{number}"}, {"UPS": "https://ups.example/track"},
                  {"=UPS": "https://ups.example/{number}"}, ["https://ups.example/{number}"]):
        with pytest.raises(RuntimeError, match="TRACKING_URLS"):
            check_tracking_urls(wrong)


# --- Shipping ------------------------------------------------------------------------------------

def test_shipping_records_the_dispatch_and_mails_the_member_the_tracking_link(session):
    soap = product(session, 5)
    [order], [shipment_id] = released(session, [(soap, 2)])
    shipped_on = company_today() - timedelta(days=1)
    ship(session, shipment_id, "1Z999AA10123456784", "1Z999AA10123456799", shipped_on=shipped_on)
    session.commit()

    shipment = session.get(Shipment, shipment_id)
    assert (shipment.status, shipment.carrier, shipment.shipped_on) == ("shipped", "UPS", shipped_on)
    assert [t.number for t in shipment.tracking_numbers] == ["1Z999AA10123456784", "1Z999AA10123456799"]
    assert session.get(Order, order.id).status == "shipped"
    assert stock_of(session, soap) == (3, 0)
    [mail] = mails(session)
    assert mail.user_id == order.user_id and mail.subject == f"Order {order.number} has shipped"
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in mail.body
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456799" in mail.body
    assert f"http://portal.test/orders/{order.id}" in mail.body
    assert f"with UPS (shipment {shipment.number})" in mail.body


def test_an_unknown_carrier_is_named_with_the_number_and_no_link(session):
    [order], [shipment_id] = released(session, [(product(session, 5), 1)])
    ship(session, shipment_id, "AF123456", carrier="Acme Freight")
    session.commit()
    [mail] = mails(session)
    assert "Tracking number AF123456 (ask Acme Freight about it)" in mail.body
    assert "track?" not in mail.body and "AF123456:" not in mail.body


def test_a_part_shipped_says_so_and_sibling_orders_share_one_mail(session):
    soap, tea = product(session, 5), product(session, 1)
    (first, second), shipment_ids = released(session, [(soap, 1)], [(soap, 1), (tea, 3)])
    [shipment_id] = shipment_ids  # one box to the one address: both orders, tea only in part
    ship(session, shipment_id)
    session.commit()
    [mail] = mails(session)
    assert mail.subject == f"Part of orders {first.number}, {second.number} has shipped"
    assert "The rest follows in another parcel" in mail.body
    assert session.get(Order, first.id).status == "shipped"
    assert session.get(Order, second.id).status == "paid"  # the rest is planned again


def test_a_tracking_number_belongs_to_one_shipment(session):
    soap = product(session, 5)
    _, [first] = released(session, [(soap, 1)])
    _, [second] = released(session, [(soap, 1)])
    ship(session, first, "1Z999AA10123456784")
    session.commit()
    with pytest.raises(TrackingRefused, match=r"already recorded for shipment SH\d{8}"):
        ship(session, second, "1Z999AA10123456784")
    session.rollback()
    assert session.get(Shipment, second).status == "released"
    assert stock_of(session, soap) == (4, 1) and len(mails(session)) == 1


def test_only_a_released_shipment_ships_and_only_once(session):
    _, [shipment_id] = released(session, [(product(session, 5), 1)])
    ship(session, shipment_id)
    session.commit()
    with pytest.raises(ShipmentError, match="only a released shipment"):
        ship(session, shipment_id)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(TrackingNumber)) == 1


def test_two_admins_shipping_the_same_box_at_once_ship_it_once(app, session):
    soap = product(session, 5)
    _, [shipment_id] = released(session, [(soap, 2)])

    def mark(n: int):
        from portal.extensions import db
        return ship(db.session, shipment_id, f"1Z999AA1000000000{n}").number

    answers, errors = run_together(app, 2, mark)
    assert len(answers) == 1 and len(errors) == 1 and "only a released shipment" in errors[0]
    assert stock_of(session, soap) == (3, 0)
    assert session.scalar(select(func.count()).select_from(TrackingNumber)) == 1
    assert len(mails(session)) == 1
