""""Cancel the whole order" on a 1-Click order asks first: without JavaScript on a page of its
own, with htmx in the browser (hx-confirm), which then sends its confirmation."""

import re
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.orders.models import Order
from tests.confirmation_pages import confirmation_form
from tests.conftest import csrf_token, page_text
from tests.factories import make_product
from tests.oneclick.conftest import browser_with, buy_form, make_shopper


def test_cancelling_the_whole_order_asks_first_then_cancels_when_confirmed(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session, name="Omega-3", each_price=Decimal("10.00"))
    session.commit()
    browser = browser_with(app, shopper.token)
    for _ in range(2):
        browser.post("/1-click/buy", data=buy_form(browser, product.id))
    order = session.scalar(select(Order))
    page = browser.get(f"/1-click/orders/{order.id}").get_data(as_text=True)
    cancel_form = re.search(r'<form[^>]*/1-click/orders/\d+/cancel"[^>]*>', page, re.S).group(0)
    assert f'hx-confirm="Cancel the whole order {order.number}? All its items are cancelled and nothing is charged."' \
        in cancel_form and '''hx-vals='{"confirm": "yes"}\'''' in cancel_form

    asked = browser.post(f"/1-click/orders/{order.id}/cancel",
                         data={"csrf_token": csrf_token(browser, f"/1-click/orders/{order.id}")})

    assert asked.status_code == 200
    text = page_text(asked.get_data(as_text=True))
    assert f"Cancel the whole order {order.number}?" in text
    assert f"All 2 items of order {order.number} ($25.95) are cancelled, and nothing is charged." in text
    assert "Yes, cancel the whole order" in text and "No, keep the order" in text
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "open"

    action, fields = confirmation_form(asked.get_data(as_text=True))
    done = browser.post(action, data=fields)

    assert done.status_code == 303 and done.headers["Location"] == f"/1-click/orders/{order.id}"
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"


def test_an_htmx_cancel_with_its_confirmation_cancels_at_once(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session)
    session.commit()
    browser = browser_with(app, shopper.token, htmx=True)
    browser.post("/1-click/buy", data=buy_form(browser, product.id))
    order = session.scalar(select(Order))

    response = browser.post(f"/1-click/orders/{order.id}/cancel", data={
        "csrf_token": csrf_token(browser, f"/1-click/orders/{order.id}"), "confirm": "yes"})

    assert response.status_code == 200
    assert f"Order {order.number} is cancelled." in page_text(response.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"
