"""1-Click test fixtures: a shopper with 1-Click on in a browser, browsers that carry a client
identifier cookie, real worker processes and a real web server process."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from portal import PROJECT_ROOT
from portal.accounts.models import User
from portal.oneclick.identifiers import COOKIE_NAME, hash_token, new_token
from portal.oneclick.services import OneClickRules, enable_oneclick, place_oneclick_order
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(app):
    """The portal in a real gunicorn process (3 workers x 4 threads) on a free loopback port,
    against the test database and Redis; its base URL."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               REDIS_URL=app.config["REDIS_URL"], PORTAL_ENV="test",
               PORTAL_INSTANCE_PATH=app.instance_path, PORTAL_ONECLICK_MAX_PER_HOUR="1000")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "3", "--threads", "4", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start: "
                                       + process.stderr.read().decode()[-2000:])
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
