"""A member turns the cart into a standing order, edits it, skips a date and ships it now."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from portal.autoship.models import AutoshipItem
from portal.orders.models import Order
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import count, hand_over, log_in, make_shopper, menu, said
from tests.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_cart_becomes_an_autoship_that_is_edited_skipped_and_shipped_now(
        session, redis, new_context, shoot):
    ana = make_shopper(session, redis, first_name="Ana", last_name="Adams")
    vitamin = make_product(session, name="Vitamin D", each_price=Decimal("12.50"), on_hand=500)
    vitamin_id = vitamin.id
    hand_over(session)
    page = new_context().new_page()
    log_in(page, ana)

    page.goto(f"/shop/products/{vitamin_id}")
    add = page.get_by_role("form", name="Add to cart")
    add.get_by_label("Quantity").fill("2")
    add.get_by_role("button", name="Add to cart").click()
    expect(menu(page, "Cart")).to_contain_text("2")

    # "Make this my autoship": the cart becomes a monthly standing order in one action.
    menu(page, "Cart").click()
    page.get_by_role("button", name="Make this my autoship").click()
    expect(said(page, "Your cart is now a standing order")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Autoship from my cart")
    shoot(page, "profile")

    # Edits it: five instead of two, every two weeks instead of monthly.
    page.get_by_label("Quantity of Vitamin D").fill("5")
    page.get_by_role("row", name=re.compile("Vitamin D")).get_by_role("button", name="Update").click()
    expect(said(page, "Item updated.")).to_be_visible()
    page.get_by_text("Change the schedule").click()
    # The editor opens on the current rule in words, and shows the RRULE only under "Custom".
    expect(page.get_by_label("Repeat")).to_have_value("every_months")
    expect(page.get_by_label("RRULE")).to_have_count(0)
    page.get_by_label("Repeat").select_option(label="Every N weeks, on chosen weekdays")
    expect(page.get_by_role("group", name="On")).to_be_visible()  # the weeks' fields, swapped in
    page.get_by_label("Every", exact=True).fill("2")
    page.get_by_label("Every", exact=True).press("Tab")
    expect(page.locator("#schedule-preview")).to_contain_text("Every 2 weeks")
    assert_accessible(page, "the profile with the schedule form open")
    shoot(page, "schedule")
    page.get_by_role("button", name="Save schedule").click()
    expect(said(page, "Schedule changed.")).to_be_visible()
    expect(page.get_by_role("heading", level=1).locator("xpath=following-sibling::p")).to_contain_text("Every 2 weeks")
    page.get_by_text("Change the schedule").click()
    expect(page.get_by_label("Repeat")).to_have_value("every_weeks")  # reopens as what was saved
    expect(page.get_by_label("Every", exact=True)).to_have_value("2")
    assert count(AutoshipItem, AutoshipItem.quantity == 5) == 1

    # Skips the next date: it moves to "Skipped", and can be undone there.
    skip_next = page.get_by_role("button", name=re.compile("^Skip next: "))
    skipped_day = skip_next.get_attribute("aria-label").split(": ", 1)[1]
    skip_next.click()
    expect(said(page, "Shipment skipped.")).to_be_visible()
    expect(page.get_by_role("button", name=f"Undo skip: {skipped_day}")).to_be_visible()
    assert_accessible(page, "the profile after an htmx skip")
    shoot(page, "skipped")

    # Ships now: an order is placed and paid at once, listed under the standing order.
    # It charges at once, so the browser asks first, with the amount.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Ship now").click()
    expect(said(page, re.compile(r"Order SO\d+ placed and paid"))).to_be_visible()
    orders = page.get_by_role("article").filter(has_text="Orders from this standing order")
    expect(orders.get_by_role("link", name=re.compile(r"^SO\d+$"))).to_have_count(1)
    assert count(Order, Order.source == "autoship", Order.status == "paid") == 1
    assert re.fullmatch(r"Ship now\? \$\d+\.\d\d \(shipping included\) is charged to Visa ending 4242 at once\.",
                        asked[0]), asked
    shoot(page, "shipped")

    menu(page, "Autoship").click()
    expect(page.get_by_role("link", name="Autoship from my cart")).to_be_visible()
    shoot(page, "list")

    # The calendar link: shown once with a Copy button (its script runs), then its state.
    page.get_by_role("button", name="Get a calendar link").click()
    link = page.get_by_label(re.compile("Your new calendar link"))
    expect(link).to_have_value(re.compile(r"/autoship/calendar/[A-Za-z0-9_-]+\.ics$"))
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    assert_accessible(page, "the standing orders with a new calendar link")
    shoot(page, "calendar link")
    page.reload()
    expect(page.locator("#calendar")).to_contain_text("Status: active since")
    expect(page.get_by_label(re.compile("Your new calendar link"))).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Replace the link").click()
    expect(page.get_by_label(re.compile("Your new calendar link"))).to_be_visible()
