"""The 1-Click button in a real Chromium against a real server: a double click is one order
line, the opted-in Shift+B orders, and the button works with JavaScript off."""

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.oneclick.identifiers import COOKIE_NAME
from portal.oneclick.models import OneClickSetting
from portal.orders.models import OrderLine
from tests.factories import make_product
from tests.oneclick.conftest import make_shopper

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def lines() -> int:
    """Order lines in the database, read without keeping a transaction open."""
    try:
        return db.session.scalar(select(func.count()).select_from(OrderLine))
    finally:
        db.session.rollback()


def test_the_button_in_a_real_browser(live_server, new_context, session, redis):
    shopper = make_shopper(session, redis)
    session.scalar(select(OneClickSetting)).keyboard_shortcut = True
    product_id = make_product(session, name="Green Tea").id
    session.commit()
    session.close()
    cookie = {"name": COOKIE_NAME, "value": shopper.token, "url": live_server}

    context = new_context()
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(f"{live_server}/shop/products/{product_id}")
    button = page.get_by_role("button", name=re.compile("1-Click"))
    button.dblclick()
    page.wait_for_selector(".oneclick-placed")
    page.wait_for_timeout(300)
    assert "1 × Green Tea" in page.inner_text(".oneclick-placed") and lines() == 1

    page.locator("body").press("Shift+B")  # the next press: a new key, a second line
    page.locator(".oneclick-placed", has_text="now 2 items").wait_for()
    assert lines() == 2

    without_js = new_context(java_script_enabled=False)
    without_js.add_cookies([cookie])
    plain = without_js.new_page()
    plain.goto(f"{live_server}/shop/products/{product_id}")
    plain.get_by_role("button", name=re.compile("1-Click")).click()
    plain.wait_for_url(re.compile(r"/1-click/placed/"))
    assert "now 3 items" in plain.inner_text("main") and lines() == 3
