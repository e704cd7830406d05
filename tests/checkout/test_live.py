"""One cart, two devices: a person's two logged-in sessions, each with its own checkout page,
submit it at the same moment to a real server. One order is placed and charged once; the
second device is shown that order."""

import re
import threading
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text

from portal import hold_points
from portal.extensions import db
from portal.orders.models import Order
from tests.factories import PASSWORD, make_address, make_card, make_product, make_user
from tests.live import SERVER_SETTINGS, HttpBrowser, portal_server

pytestmark = pytest.mark.slow

HOLD = hold_points.CHECKOUT_BEFORE_COMMIT


@pytest.fixture(scope="module")
def held_server(app):
    """The portal in gunicorn, whose first checkout stops after charging, before its commit,
    until the test releases it."""
    with portal_server(app, PORTAL_TEST_HOLD_AT=HOLD, **SERVER_SETTINGS) as url:
        yield url


class Device(HttpBrowser):
    """One browser session: its own cookies, its own pages."""

    def log_in(self, email: str) -> None:
        _, _, page = self.request("GET", "/login")
        status, _, _ = self.request("POST", "/login", {
            "email": email, "password": PASSWORD, "csrf_token": csrf_of(page)})
        assert status == 303

    def checkout_form(self, address_id: int, card_id: int) -> dict:
        status, _, page = self.request("GET", "/checkout/")
        assert status == 200
        key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
        return {"csrf_token": csrf_of(page), "idempotency_key": key,
                "address_id": address_id, "card_id": card_id}


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def wait_for_a_lock_wait(thread: threading.Thread, timeout: float = 30) -> None:
    """Until a connection to the test database waits for a lock (the second checkout waiting
    for the first), or the second checkout ended without waiting."""
    deadline = time.monotonic() + timeout
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        while thread.is_alive() and time.monotonic() < deadline:
            if watcher.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                   "current_database() AND wait_event_type = 'Lock'")):
                return
            time.sleep(0.01)


def test_two_devices_checking_out_one_cart_together_place_one_order_charged_once(
        held_server, session, redis):
    member = make_user(session)
    address = make_address(session, member, moniker="Home")
    card = make_card(session, member, redis)
    product = make_product(session, name="Green Tea", each_price=Decimal("7.90"))
    ids = member.email, address.id, card.id, product.id
    session.commit()
    session.close()  # hold no transaction while the server works

    phone, laptop = Device(held_server), Device(held_server)
    phone.log_in(ids[0])
    laptop.log_in(ids[0])
    _, _, shop_page = phone.request("GET", "/shop/")
    assert phone.request("POST", "/cart/add", {"product_id": ids[3], "unit": "each", "quantity": 3,
                                               "csrf_token": csrf_of(shop_page)})[0] == 303
    phone_form, laptop_form = phone.checkout_form(*ids[1:3]), laptop.checkout_form(*ids[1:3])
    assert phone_form["idempotency_key"] != laptop_form["idempotency_key"]

    answers = {}
    first = threading.Thread(target=lambda: answers.update(
        phone=phone.request("POST", "/checkout/", phone_form)))
    first.start()
    # The phone's checkout has charged the card and holds its order uncommitted.
    assert redis.blpop([hold_points.reached_key(HOLD)], timeout=60) is not None
    second = threading.Thread(target=lambda: answers.update(
        laptop=laptop.request("POST", "/checkout/", laptop_form)))
    second.start()
    wait_for_a_lock_wait(second)
    redis.rpush(hold_points.release_key(HOLD), 1)
    first.join(60)
    second.join(60)

    (phone_status, phone_headers, phone_page), (laptop_status, laptop_headers, laptop_page) = \
        answers["phone"], answers["laptop"]
    assert phone_status == laptop_status == 303, (phone_page[-2000:], laptop_page[-2000:])
    assert laptop_headers["Location"] == phone_headers["Location"]  # both show the one order
    _, _, confirmation = laptop.request("GET", urlsplit(laptop_headers["Location"]).path)
    _, _, cart = laptop.request("GET", "/cart/")
    orders = list(db.session.scalars(select(Order)))
    assert len(orders) == 1 and orders[0].status == "paid"
    assert orders[0].total == Decimal("23.70") + Decimal("5.95")
    assert len(list(redis.scan_iter("sandbox-gateway:charge:*"))) == 1
    assert f"This cart was just checked out: order {orders[0].number}. It was charged once." \
        in confirmation
    assert "Your cart is empty" in cart
