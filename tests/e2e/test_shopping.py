"""A newcomer joins under their sponsor, logs in, buys a product by the case and checks out."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import select
from playwright.sync_api import expect

from portal.accounts.models import User
from portal.orders.models import Order, OrderLine
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import count, hand_over, menu
from tests.factories import make_ibo, make_product

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long enough password"


def test_a_newcomer_joins_under_a_sponsor_and_checks_out_a_case(
        session, new_context, live_worker, shoot):
    sponsor = make_ibo(session, first_name="Sam", last_name="Sponsor", root=True)
    tea = make_product(session, name="Green Tea", each_price=Decimal("7.90"), case_size=12,
                       case_price=Decimal("90.00"), on_hand=500)
    sponsor_number, tea_id = sponsor.member_number, tea.id
    hand_over(session)
    page = new_context().new_page()

    # Joins with the sponsor's member number.
    page.goto("/register")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_label("First name")).to_have_accessible_description("Enter your first name.")
    assert_accessible(page, "the registration form with its errors")
    page.get_by_label("Sponsor's member number").fill(sponsor_number)
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Last name").fill("Newcomer")
    page.get_by_label("Email").fill("nora@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_label("Customer (member)").check()
    shoot(page, "register")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("status")).to_contain_text("Welcome, Nora!")
    expect(page.get_by_role("main")).to_contain_text("sponsored by Sam")

    # Logs out and back in.
    page.get_by_text("Nora", exact=True).click()
    assert_accessible(page, "the open account menu")
    page.get_by_role("button", name="Log out").click()
    page.goto("/login")
    page.get_by_label("Email").fill("nora@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    shoot(page, "login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Nora")
    shoot(page, "home")

    # Finds the tea in the shop and adds two cases to the cart.
    menu(page, "Shop").click()
    page.get_by_role("searchbox", name="Search the catalog").fill("green tea")
    page.get_by_role("link", name="Green Tea").click()
    expect(page).to_have_url(re.compile(f"/shop/products/{tea_id}$"))
    add = page.get_by_role("form", name="Add to cart")
    add.get_by_label("Unit").select_option(label="Case of 12 — $90.00")
    add.get_by_label("Quantity").fill("2")
    add.get_by_role("button", name="Add to cart").click()
    expect(menu(page, "Cart")).to_contain_text("2")
    assert_accessible(page, "the product page after adding to the cart")
    shoot(page, "product")

    # The cart shows 24 eaches; checkout needs an address and a card first.
    menu(page, "Cart").click()
    expect(page.get_by_role("table")).to_contain_text("24")
    shoot(page, "cart")
    page.get_by_role("button", name="Check out").click()
    page.get_by_role("link", name="Add an address").click()
    page.get_by_label("Name for this address").fill("Home")
    page.get_by_label("Recipient").fill("Nora Newcomer")
    page.get_by_label("Street address").fill("5 Birch Road")
    page.get_by_label("City").fill("Springfield")
    page.get_by_label("State or region").fill("IL")
    page.get_by_label("ZIP or postal code").fill("62704")
    page.get_by_role("button", name="Save address").click()
    expect(page.get_by_role("status")).to_contain_text('Address "Home" saved.')
    page.goto("/wallet/new")
    page.get_by_label("Name on card").fill("Nora Newcomer")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill("2035")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Add card").click()
    expect(page.get_by_role("status")).to_contain_text("added to your wallet")

    menu(page, "Cart").click()
    page.get_by_role("button", name="Check out").click()
    page.get_by_role("radio", name=re.compile("Home")).check()
    page.get_by_role("radio", name=re.compile("4242")).check()
    shoot(page, "checkout")
    page.get_by_role("button", name=re.compile(r"Place order and pay \$180\.00")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("is placed")
    shoot(page, "confirmation")

    nora = select(User.id).where(User.email == "nora@example.com").scalar_subquery()
    assert count(Order, Order.user_id == nora, Order.status == "paid") == 1
    assert count(OrderLine, OrderLine.unit_code == "case", OrderLine.quantity == 2) == 1

    # The real worker plans the shipment; the order's page then says how it ships.
    menu(page, "Orders").click()
    shoot(page, "orders")
    page.get_by_role("table").get_by_role("link").first.click()
    for _ in range(60):
        page.reload()
        if "Complete, in one shipment" in page.locator("#how-it-ships").inner_text():
            break
        page.wait_for_timeout(500)
    expect(page.locator("#how-it-ships")).to_contain_text("Complete, in one shipment")
    shoot(page, "order")
