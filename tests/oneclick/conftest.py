"""1-Click test fixtures: a shopper with 1-Click on in a browser and browsers that carry a client
identifier cookie (the real server and Chromium come from tests/live.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from portal.accounts.models import User
from portal.oneclick.identifiers import COOKIE_NAME, hash_token, new_token
from portal.oneclick.press import place_oneclick_order
from portal.oneclick.rules import OneClickRules
from portal.oneclick.settings import enable_oneclick
from portal.orders.pricing import ShippingRule
from tests.conftest import BrowserLikeClient, csrf_token
from tests.factories import make_address, make_card, make_product, make_user

RULES = OneClickRules(combine_window=timedelta(minutes=90), max_per_hour=20, backorder_days=14,
                      max_quantity=999,
                      shipping=ShippingRule(flat_fee=Decimal("5.95"), free_from=Decimal("100.00")))
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
TODAY = date(2026, 3, 2)
KEY_PATTERN = re.compile(r'name="idempotency_key" id="oneclick-key-(\d+)" value="([^"]+)"')


@dataclass
class Shopper:
    user: User
    address: object
    card: object
    product: object
    token: str

    @property
    def token_hash(self) -> str:
        return hash_token(self.token)


def enable(session, user, token, address, card, **preferences):
    return enable_oneclick(session, user=user, token_hash=hash_token(token), label="Firefox on Linux",
                           address_id=address.id, card_id=card.id, today=TODAY, now=NOW,
                           **preferences)


def make_shopper(session, redis, token: str | None = None, **user_overrides) -> Shopper:
    user = make_user(session, **user_overrides)
    address = make_address(session, user, moniker="Home", line1="12 Elm Street",
                           city="Springfield", postal_code="62704")
    card = make_card(session, user, redis)
    token = token or new_token()
    enable(session, user, token, address, card)
    return Shopper(user=user, address=address, card=card, product=None, token=token)


@pytest.fixture
def shopper(session, redis) -> Shopper:
    """A member with 1-Click on in one browser, and an in-stock product at $10.00 each."""
    found = make_shopper(session, redis, first_name="Dana", last_name="Diaz")
    found.product = make_product(session, name="Green Tea", each_price=Decimal("10.00"),
                                 case_size=12, case_price=Decimal("110.00"), on_hand=1000)
    session.commit()
    return found


def place(session, shopper: Shopper, key: str = "key-aaaaaaaaaaaaaaaa", *, product=None,
          unit: str = "each", quantity: int = 1, person=None, token: str | None = None,
          now: datetime = NOW, rules: OneClickRules = RULES):
    return place_oneclick_order(session, token_hash=hash_token(token or shopper.token),
                                person_id=(person or shopper.user).id,
                                product_id=(product or shopper.product).id, unit_code=unit,
                                quantity=quantity, idempotency_key=key, rules=rules, now=now,
                                today=TODAY)


def browser_with(app, token: str | None, htmx: bool = False) -> BrowserLikeClient:
    """A browser of its own (own session cookie) carrying the client identifier ``token``."""
    browser = BrowserLikeClient(app, app.response_class, use_cookies=True)
    if token:
        browser.set_cookie(COOKIE_NAME, token)
    if htmx:
        browser.environ_base["HTTP_HX_REQUEST"] = "true"
    return browser


def buy_form(browser, product_id: int, page: str | None = None) -> dict:
    """The fields a press of the 1-Click button on ``page`` sends (as the browser rendered it)."""
    html = browser.get(page or f"/shop/products/{product_id}").get_data(as_text=True)
    keys = dict(KEY_PATTERN.findall(html))
    assert str(product_id) in keys, "no 1-Click button on the page"
    person = re.search(r'name="person" value="(\d+)"', html)
    return {"csrf_token": csrf_token(browser, page or f"/shop/products/{product_id}"),
            "product_id": product_id, "idempotency_key": keys[str(product_id)],
            "unit": "each", "quantity": 1, "person": person.group(1) if person else ""}
