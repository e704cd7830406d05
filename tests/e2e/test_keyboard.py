"""Everything by keyboard alone: Tab to reach a control, Enter or Space to use it, and a focus
ring that can be seen (3:1 against the page) wherever the focus is."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from portal.autoship.models import AutoshipProfile
from portal.oneclick.identifiers import COOKIE_NAME
from portal.orders.models import OrderLine
from tests.downline.conftest import give_autoship
from tests.e2e.conftest import count, hand_over, log_in, make_shopper, menu, said
from tests.e2e.keyboard import focus_by_tab, focus_indicator, focus_ring_contrast
from tests.factories import make_product
from tests.oneclick.conftest import make_shopper as one_click_shopper

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VISIBLE = 3.0  # WCAG 2.2 focus appearance: the ring contrasts 3:1 with what is around it


def assert_focus_visible(page):
    ring = focus_ring_contrast(page)
    assert ring >= VISIBLE, f"focus ring contrast {ring:.2f} < {VISIBLE} on {focus_indicator(page)}"


def test_logging_in_with_the_keyboard(session, redis, new_context, shoot):
    kim = make_shopper(session, redis, first_name="Kim")
    hand_over(session)
    page = new_context().new_page()
    page.goto("/login")

    assert focus_by_tab(page, page.get_by_role("link", name="Skip to content")) == 1
    assert_focus_visible(page)
    assert page.get_by_role("link", name="Skip to content").is_visible()
    shoot(page, "focus-on-skip-link")
    focus_by_tab(page, page.get_by_label("Email"))
    assert_focus_visible(page)
    page.keyboard.type(kim.email)
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    focus_by_tab(page, page.get_by_role("checkbox", name="Keep me logged in on this device"))
    assert_focus_visible(page)
    page.keyboard.press("Space")
    expect(page.get_by_role("checkbox", name="Keep me logged in on this device")).to_be_checked()
    focus_by_tab(page, page.get_by_role("button", name="Log in"))
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Kim")


def test_adding_to_the_cart_with_the_keyboard(session, redis, new_context, shoot):
    kim = make_shopper(session, redis, first_name="Kim")
    tea = make_product(session, name="Green Tea", case_size=12, case_price=Decimal("90.00"))
    hand_over(session)
    page = new_context().new_page()
    log_in(page, kim)
    page.goto(f"/shop/products/{tea.id}")

    form = page.get_by_role("form", name="Add to cart")
    focus_by_tab(page, form.get_by_label("Unit"))
    assert_focus_visible(page)
    page.keyboard.press("ArrowDown")  # Each -> Case of 12
    expect(form.get_by_label("Unit")).to_have_value("case")
    page.keyboard.press("Tab")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("3")
    page.keyboard.press("Tab")
    assert_focus_visible(page)
    shoot(page, "focus-on-add-to-cart")
    page.keyboard.press("Enter")
    expect(said(page, "Added 3 × Green Tea (case)")).to_be_visible()
    expect(menu(page, "Cart")).to_contain_text("3")


def test_ordering_with_the_one_click_button_by_keyboard(session, redis, new_context, live_server):
    shopper = one_click_shopper(session, redis, first_name="Kim", last_name="Kato")
    tea = make_product(session, name="Green Tea")
    hand_over(session)
    context = new_context()
    context.add_cookies([{"name": COOKIE_NAME, "value": shopper.token, "url": live_server}])
    page = context.new_page()
    page.goto(f"/shop/products/{tea.id}")

    button = page.get_by_role("button", name=re.compile("1-Click"))
    focus_by_tab(page, button)
    assert_focus_visible(page)
    page.keyboard.press("Space")
    expect(page.locator(".oneclick-placed")).to_contain_text("Ordered with 1-Click: 1 × Green Tea")
    page.wait_for_timeout(300)
    assert count(OrderLine) == 1


def test_skipping_an_autoship_date_with_the_keyboard(session, redis, new_context, shoot):
    kim = make_shopper(session, redis, first_name="Kim")
    profile = give_autoship(session, redis, kim, make_product(session, name="Vitamin D"))
    first = profile.next_run_date
    hand_over(session)
    page = new_context().new_page()
    log_in(page, kim)
    page.goto(f"/autoship/{profile.id}")

    skip = page.get_by_role("button", name=f"Skip next: {first:%a, %b %-d, %Y}")
    focus_by_tab(page, skip)
    assert_focus_visible(page)
    shoot(page, "focus-on-skip")
    page.keyboard.press("Enter")
    # the shipment's PV leaves this month: the page says so first, and the keyboard confirms
    confirm = page.get_by_role("button", name="Yes, skip it")
    expect(confirm).to_be_visible()
    focus_by_tab(page, confirm)
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(said(page, "Shipment skipped.")).to_be_visible()
    undo = page.get_by_role("button", name=f"Undo skip: {first:%a, %b %-d, %Y}")
    focus_by_tab(page, undo)
    assert_focus_visible(page)
    assert count(AutoshipProfile, AutoshipProfile.next_run_date > first) == 1
