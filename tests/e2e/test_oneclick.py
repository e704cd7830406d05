"""A member turns on 1-Click from a product page, buys with one click (a double click is still
one order) and cancels within the combining window."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from portal.orders.models import Order, OrderLine
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import choose, count, hand_over, log_in, make_shopper, menu
from tests.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_one_click_buys_once_per_press_and_cancels_within_the_window(
        session, redis, new_context, shoot):
    dana = make_shopper(session, redis, first_name="Dana", last_name="Diaz")
    tea = make_product(session, name="Green Tea", each_price=Decimal("10.00"), on_hand=100)
    tea_id = tea.id
    hand_over(session)
    page = new_context().new_page()
    log_in(page, dana)

    # Turns 1-Click on from the product page and comes back to it.
    page.goto(f"/shop/products/{tea_id}")
    page.get_by_role("button", name="Turn on 1-Click").click()
    choose(page.get_by_label("Ship to"), "Home")
    choose(page.get_by_label("Pay with"), "Visa ending 4242")
    shoot(page, "settings")
    page.get_by_role("button", name="Turn on 1-Click").click()
    expect(page).to_have_url(re.compile(f"/shop/products/{tea_id}$"))
    expect(page.get_by_role("status").first).to_contain_text("1-Click is on for this browser")

    # The button says who orders, where it ships and which card pays.
    buy = page.get_by_role("button", name="Buy now with 1-Click")
    expect(buy).to_have_accessible_description(re.compile(r"Dana D\..*Home.*Visa ending 4242"))
    shoot(page, "product")

    # A double click is one order of one line.
    buy.dblclick()
    placed = page.locator(".oneclick-placed")
    expect(placed).to_contain_text("Ordered with 1-Click: 1 × Green Tea")
    page.wait_for_timeout(500)  # a second request, if there were one, has landed by now
    assert count(Order) == 1 and count(OrderLine) == 1

    # The next press joins the same open order.
    page.get_by_label("Quantity").first.fill("3")
    buy.click()
    expect(placed).to_contain_text("now 2 items")
    assert count(Order) == 1 and count(OrderLine) == 2
    assert_accessible(page, "the product page with a 1-Click confirmation")
    shoot(page, "placed")

    # Within the window the order can be changed: one item, then the whole order, cancelled.
    page.get_by_role("link", name="See or change the order").click()
    expect(page.get_by_role("main")).to_contain_text(re.compile("Open until"))
    shoot(page, "order")
    page.get_by_role("button", name="Cancel 3 × Green Tea").click()
    expect(page.get_by_role("button", name=re.compile(r"Cancel \d+ × Green Tea"))).to_have_count(1)
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Cancel the whole order").click()
    expect(page.locator(".oneclick-order .status")).to_have_text("Cancelled")
    assert asked and asked[0].startswith("Cancel the whole order SO"), asked
    assert_accessible(page, "the cancelled 1-Click order")
    assert count(Order, Order.status == "cancelled") == 1

    # The browser is listed under 1-Click, where it can be turned off.
    menu(page, "1-Click").click()
    expect(page.get_by_role("table")).to_contain_text("This browser")
    shoot(page, "devices")
