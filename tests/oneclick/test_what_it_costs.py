"""1-Click says what an order costs before the press, shipping included, and a cancelled order
says that nothing was charged: no total, no PV, wherever the order shows."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from portal.accounts.models import Role
from portal.extensions import db
from portal.oneclick.queries import oneclick_panel
from portal.orders.models import Order
from portal.orders.rules import shipping_rule
from tests.conftest import csrf_token, log_in, page_text
from tests.factories import make_product, make_user
from tests.oneclick.conftest import RULES, TODAY, browser_with, buy_form, make_shopper


def buy(browser, form, **changes):
    return browser.post("/1-click/buy", data={**form, **changes})


def test_the_panel_prices_an_order_with_the_rule_books_shipping_fee(session, redis):
    shopper = make_shopper(session, redis)
    panel = oneclick_panel(session, viewer=None, token_hash=shopper.token_hash, today=TODAY,
                           shipping=RULES.shipping)
    one, two, many = panel.cost(Decimal("24.95")), panel.cost(Decimal("24.95"), 2), panel.cost(Decimal("25.00"), 4)
    assert (one.price, one.shipping, one.total) == (Decimal("24.95"), Decimal("5.95"), Decimal("30.90"))
    assert (two.price, two.shipping, two.total) == (Decimal("49.90"), Decimal("5.95"), Decimal("55.85"))
    assert (many.price, many.shipping, many.total) == (Decimal("100.00"), Decimal("0.00"), Decimal("100.00"))
    assert [c.shipping for c in (one, two, many)] == [RULES.shipping.fee(c.price) for c in (one, two, many)]


def test_the_button_shows_the_price_with_shipping_and_the_order_costs_exactly_that(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session, name="Omega-3", each_price=Decimal("24.95"), case_size=12,
                           case_price=Decimal("240.00"))
    session.commit()
    browser = browser_with(app, shopper.token)
    page = page_text(browser.get(f"/shop/products/{product.id}").get_data(as_text=True))
    assert "Each — $30.90 with shipping" in page and "Case of 12 — $240.00, free shipping" in page
    assert "Each: $24.95 + $5.95 shipping = $30.90. Shipping is $5.95 an order; free shipping from $100.00." in page
    catalog = page_text(browser.get("/shop/").get_data(as_text=True))
    assert "Buy 1 with 1-Click $24.95 + $5.95 shipping = $30.90" in catalog

    response = buy(browser, buy_form(browser, product.id))
    assert response.status_code == 303
    order = session.scalar(select(Order))
    assert (order.subtotal, order.shipping_fee, order.total) == (
        Decimal("24.95"), Decimal("5.95"), Decimal("30.90"))
    assert "the order’s total of $30.90 will be charged" in page_text(browser.get(response.headers["Location"]).get_data(as_text=True))


def test_over_the_threshold_the_button_says_free_shipping(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session, name="Water Filter", each_price=Decimal("120.00"))
    session.commit()
    browser = browser_with(app, shopper.token)
    page = page_text(browser.get("/shop/").get_data(as_text=True))
    assert "Buy 1 with 1-Click $120.00, free shipping" in page and "$125.95" not in page
    buy(browser, buy_form(browser, product.id))
    order = session.scalar(select(Order))
    assert (order.shipping_fee, order.total) == (Decimal("0.00"), Decimal("120.00"))
    assert shipping_rule(app.config).fee(order.subtotal) == order.shipping_fee


def test_a_cancelled_order_says_nothing_was_charged_and_counts_no_pv_anywhere(app, client, session, redis):
    shopper = make_shopper(session, redis, first_name="Dana")
    product = make_product(session, name="Omega-3", each_price=Decimal("24.95"), each_pv=Decimal("20.00"))
    admin = make_user(session, role=Role.ADMIN)
    session.commit()
    browser = browser_with(app, shopper.token)
    buy(browser, buy_form(browser, product.id))
    order = session.scalar(select(Order))
    open_page = page_text(browser.get(f"/1-click/orders/{order.id}").get_data(as_text=True))
    assert "Pays with Visa ending 4242" in open_page and "$30.90" in open_page

    response = browser.post(f"/1-click/orders/{order.id}/cancel",
                            data={"csrf_token": csrf_token(browser, f"/1-click/orders/{order.id}"),
                                  "confirm": "yes"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"

    oneclick_page = page_text(browser.get(f"/1-click/orders/{order.id}").get_data(as_text=True))
    assert "Cancelled, nothing charged" in oneclick_page
    assert "Visa ending 4242" not in oneclick_page and "$30.90" not in oneclick_page
    assert "Total" not in oneclick_page and "Subtotal" not in oneclick_page

    log_in(client, shopper.user)
    detail = page_text(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert "1-Click" in detail and "Oneclick" not in detail
    assert "Cancelled, nothing charged · no PV" in detail and "Paid with" not in detail
    assert "$30.90" not in detail and "20.00 PV" not in detail
    history = page_text(client.get("/orders/").get_data(as_text=True))
    assert f"{order.number}" in history and "1-Click" in history and "Nothing charged" in history
    assert "$30.90" not in history and "20.00" not in history
    home = page_text(client.get("/home").get_data(as_text=True))
    assert "$30.90" not in home

    staff = browser_with(app, None)
    log_in(staff, admin)
    operations = page_text(staff.get("/admin/").get_data(as_text=True))
    assert "Orders, last 24 h 1 $0.00" in operations
    orders = page_text(staff.get("/admin/orders").get_data(as_text=True))
    assert "1-Click" in orders and "Nothing charged" in orders and "$30.90" not in orders
