"""1-Click over HTTP: the cookie, the button with masked details, one action without a login,
the same answer to a repeat, a clear 4xx for every bad request, settings and devices."""

import re
import string
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import event, func, select, update

from portal.clock import company_today
from portal.clock import utcnow
from portal.extensions import db
from portal.formatting import day
from portal.fulfilment.receiving import add_expected_arrival
from portal.oneclick.identifiers import COOKIE_NAME, hash_token
from portal.oneclick.models import ClientIdentifier, OneClickRequest, OneClickSetting
from portal.orders.models import Order, OrderLine
from tests.conftest import csrf_token, log_in, post_form
from tests.factories import make_address, make_card, make_product, make_user
from tests.oneclick.conftest import browser_with, buy_form, make_shopper

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def set_cookie_header(response) -> str:
    return next((h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME)), "")


def buy(browser, form, **changes):
    return browser.post("/1-click/buy", data={**form, **changes})


# --- The identifier cookie ----------------------------------------------------------------------

def test_the_first_product_page_assigns_an_identifier_in_a_safe_cookie(client, session):
    product = make_product(session)
    response = client.get(f"/shop/products/{product.id}")
    cookie = set_cookie_header(response)
    token = re.match(rf"{COOKIE_NAME}=([^;]+)", cookie).group(1)
    assert len(token) == 43 and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development and tests run on plain http
    assert "Turn on 1-Click" in response.get_data(as_text=True)
    assert count(ClientIdentifier) == 0  # nothing stored until someone turns 1-Click on
    assert set_cookie_header(client.get(f"/shop/products/{product.id}")) == ""  # kept, not renewed


def test_outside_development_the_cookie_is_secure(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    product = make_product(session)
    assert "; Secure" in set_cookie_header(client.get(f"/shop/products/{product.id}"))


# --- Turning it on, and the button ---------------------------------------------------------------

def test_turn_on_then_order_with_one_click_without_logging_in(app, client, session, redis):
    member = make_user(session, first_name="Dana", last_name="Diaz")
    address = make_address(session, member, moniker="Home", line1="12 Elm Street",
                           city="Springfield", postal_code="62704")
    card = make_card(session, member, redis)
    product = make_product(session, name="Green Tea", each_price=Decimal("7.90"))
    session.commit()
    page = client.get(f"/shop/products/{product.id}").get_data(as_text=True)
    assert 'href="/1-click/settings?next=/shop/products/' in page  # offers to turn it on
    log_in(client, member)
    settings_page = client.get(f"/1-click/settings?next=/shop/products/{product.id}")
    choices = settings_page.get_data(as_text=True)
    assert settings_page.status_code == 200
    assert "Home: 12 Elm Street" in choices and "Visa ending 4242 (expires " in choices
    assert f'name="next" type="hidden" value="/shop/products/{product.id}"' in choices
    response = client.post("/1-click/settings", headers={"User-Agent": CHROME}, data={
        "csrf_token": csrf_token(client, "/1-click/settings"), "address_id": address.id,
        "card_id": card.id, "next": f"/shop/products/{product.id}", "keyboard_shortcut": "y"})
    assert response.status_code == 303 and response.headers["Location"] == f"/shop/products/{product.id}"
    client_row = session.scalar(select(ClientIdentifier))
    assert client_row.label == "Chrome on Linux"
    token = client.get_cookie(COOKIE_NAME).value
    assert client_row.token_hash == hash_token(token)

    post_form(client, "/logout", page="/home")
    page = client.get(f"/shop/products/{product.id}").get_data(as_text=True)
    # Partial details to verify, never the street or the card number.
    assert "Dana D." in page and "Home" in page and "...Springfield 627**" in page
    assert "Visa ending 4242" in page and "12 Elm Street" not in page and "62704" not in page
    assert "Buy now with 1-Click" in page and 'aria-keyshortcuts="Shift+B"' in page

    form = buy_form(client, product.id)
    response = buy(client, form, unit="each", quantity=2)
    assert response.status_code == 303
    confirmation = client.get(response.headers["Location"])
    text = confirmation.get_data(as_text=True)
    order = session.scalar(select(Order))
    assert confirmation.status_code == 200 and order.number in text
    assert "2 × Green Tea (Each)" in text and "$15.80" in text and "Visa ending 4242" in text
    assert "Cancel this item" in text and order.status == "open" and order.user_id == member.id


def test_a_repeat_gets_the_same_answer_and_one_order(client, htmx, session, redis, app):
    shopper = make_shopper(session, redis)
    product = make_product(session)
    session.commit()
    browser = browser_with(app, shopper.token)
    form = buy_form(browser, product.id)
    first, second = buy(browser, form), buy(browser, form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    tab = browser_with(app, shopper.token, htmx=True)  # the same form sent again from htmx
    tab.get(f"/shop/products/{product.id}")
    again = tab.post("/1-click/buy", data={**form, "csrf_token": csrf_token(tab, f"/shop/products/{product.id}")})
    order = session.scalar(select(Order))
    assert again.status_code == 200 and order.number in again.get_data(as_text=True)
    assert f"/1-click/placed/{form['idempotency_key']}" == first.headers["Location"]
    assert count(Order) == 1 and count(OrderLine) == 1 and count(OneClickRequest) == 1


@pytest.mark.parametrize("htmx_request, status", [(False, 303), (True, 200)])
def test_a_press_works_under_tracing_instrumentation(app, session, redis, htmx_request, status):
    """Tracing (OpenTelemetry's SQLAlchemy instrumentation, say) listens to every cursor
    execution and keeps its span on the execution context: a press goes through SQLAlchemy's
    own execution, so each of its statements has one to read and write."""
    shopper = make_shopper(session, redis)
    product = make_product(session, name="Omega-3", each_price=Decimal("29.00"))
    session.commit()
    browser = browser_with(app, shopper.token, htmx=htmx_request)
    form = buy_form(browser, product.id)
    traced = []

    def start_span(conn, cursor, statement, parameters, context, executemany):
        context.traced_span = {"statement": statement, "options": dict(context.execution_options),
                               "compiled": context.compiled is not None,
                               "invoked": context.invoked_statement is not None}

    def end_span(conn, cursor, statement, parameters, context, executemany):
        traced.append(context.traced_span)

    event.listen(db.engine, "before_cursor_execute", start_span)
    event.listen(db.engine, "after_cursor_execute", end_span)
    try:
        response = buy(browser, form)
    finally:
        event.remove(db.engine, "before_cursor_execute", start_span)
        event.remove(db.engine, "after_cursor_execute", end_span)
    order = session.scalar(select(Order))
    assert response.status_code == status and order is not None
    if htmx_request:
        assert order.number in response.get_data(as_text=True)
    else:
        assert response.headers["Location"] == f"/1-click/placed/{form['idempotency_key']}"
    assert [(line.name, line.quantity) for line in order.lines] == [("Omega-3", 1)]
    assert order.total == Decimal("29.00") + Decimal("5.95")
    written = [span for span in traced if "oneclick_requests" in span["statement"]
               and span["statement"].startswith("INSERT")]
    assert len(written) == 1 and written[0]["compiled"] and written[0]["invoked"]


def test_htmx_gets_the_confirmation_fragment_and_a_new_key_for_the_next_press(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session, name="Omega-3", each_price=Decimal("29.00"))
    session.commit()
    browser = browser_with(app, shopper.token, htmx=True)
    form = buy_form(browser, product.id)
    response = buy(browser, form)
    body = response.get_data(as_text=True)
    order = session.scalar(select(Order))
    assert response.status_code == 200 and "<html" not in body
    assert order.number in body and "1 × Omega-3" in body and "Cancel this item" in body
    assert "Home" in body and "...Springfield 627**" in body and "Visa ending 4242" in body
    new_key = re.search(r'id="oneclick-key-\d+" value="([^"]+)" hx-swap-oob="true"', body).group(1)
    assert new_key != form["idempotency_key"]
    second = buy(browser, form, idempotency_key=new_key)
    assert "Added to your open order" in second.get_data(as_text=True)  # combined, and told so
    assert count(Order) == 1 and count(OrderLine) == 2


def test_each_confirmation_says_when_its_items_ship(app, session, redis):
    """In stock: today. Out of stock: the next expected arrival, or a rough date when none is
    known. Different dates are separate orders, and the answer says so."""
    shopper = make_shopper(session, redis)
    in_stock = make_product(session, name="Green Tea", on_hand=50)
    awaited = make_product(session, name="Matcha", on_hand=0)
    unknown = make_product(session, name="Rare Tea", on_hand=0)
    arrives = company_today() + timedelta(days=9)
    add_expected_arrival(session, actor=None, reference="PO-MATCHA", supplier="Acme",
                         expected_on=arrives, sku=awaited.sku, eaches=40, today=company_today())
    session.commit()
    browser = browser_with(app, shopper.token, htmx=True)
    bodies = [buy(browser, buy_form(browser, product.id)).get_data(as_text=True)
              for product in (in_stock, awaited, unknown)]
    first, second, third = session.scalars(select(Order).order_by(Order.id)).all()
    assert "from stock today" in bodies[0]
    assert f"on {day(arrives, 'short')}, when the item is expected back in stock" in bodies[1]
    assert f"Separate from your open order {first.number}, which ships" in bodies[1]
    lead_time = company_today() + timedelta(days=app.config["ONECLICK_BACKORDER_DAYS"])
    assert f"around {day(lead_time, 'short')}: the item is out of stock and no delivery is scheduled yet" in bodies[2]
    assert first.number in bodies[2] and second.number in bodies[2]
    assert [o.expected_ship_date for o in (first, second, third)] == [company_today(), arrives, lead_time]


def test_the_catalog_shows_a_button_per_product_each_with_its_own_key(app, session, redis):
    shopper = make_shopper(session, redis)
    products = [make_product(session) for _ in range(3)]
    session.commit()
    browser = browser_with(app, shopper.token)
    page = browser.get("/shop/").get_data(as_text=True)
    keys = dict(re.findall(r'name="idempotency_key" id="oneclick-key-(\d+)" value="([^"]+)"', page))
    assert set(keys) == {str(p.id) for p in products} and len(set(keys.values())) == 3
    assert page.count("Buy 1 with 1-Click") == 3
    form = buy_form(browser, products[1].id, page="/shop/")
    response = buy(browser, form, compact="y")
    assert response.status_code == 303
    assert session.scalar(select(OrderLine.product_id)) == products[1].id
    card = browser_with(app, shopper.token, htmx=True)
    card.get("/shop/")
    short = buy(card, {**form, "csrf_token": csrf_token(card, "/shop/")}, compact="y")
    text = short.get_data(as_text=True)  # the same press again: the same order, in a short form
    assert short.status_code == 200 and "oneclick-placed-compact" in text
    assert f"Ordered 1 × {products[1].name}" in text and "Cancel this item" in text
    assert count(OrderLine) == 1


def test_a_search_answered_to_htmx_keeps_the_buttons_and_the_buyer(app, session, redis):
    shopper = make_shopper(session, redis, first_name="Dana", last_name="Diaz")
    tea = make_product(session, name="Green Tea")
    make_product(session, name="Lavender Soap")
    session.commit()
    tab = browser_with(app, shopper.token, htmx=True)
    results = tab.get("/shop/?q=green")
    text = results.get_data(as_text=True)
    assert "<html" not in text and "Green Tea" in text and "Lavender Soap" not in text
    assert re.findall(r'id="oneclick-key-(\d+)"', text) == [str(tea.id)]
    assert "Buy 1 with 1-Click" in text and "Ordering as <strong>Dana D.</strong>" in text


def test_a_browser_is_given_its_identifier_by_a_page_with_a_button_only(client, session):
    make_product(session, name="Green Tea")
    session.commit()
    nothing = client.get("/shop/?q=no-such-thing")
    assert "No products match" in nothing.get_data(as_text=True)
    assert set_cookie_header(nothing) == ""
    shop = client.get("/shop/")
    assert "Turn on 1-Click" in shop.get_data(as_text=True) and set_cookie_header(shop) != ""


def test_a_shared_browser_lets_the_person_choose_who_orders(app, session, redis):
    dana = make_shopper(session, redis, first_name="Dana", last_name="Diaz")
    lee = make_shopper(session, redis, token=dana.token, first_name="Lee", last_name="Park")
    product = make_product(session)
    session.commit()
    browser = browser_with(app, dana.token)
    page = browser.get(f"/shop/products/{product.id}").get_data(as_text=True)
    assert "Who is ordering?" in page and "Dana D." in page and "Lee P." in page
    form = buy_form(browser, product.id)
    placed = buy(browser, form, person=lee.user.id)
    assert placed.status_code == 303 and "(for Lee P.)" in browser.get(placed.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(Order.user_id)) == lee.user.id
    stranger = make_shopper(session, redis)  # 1-Click on elsewhere: a forged choice here
    session.commit()
    forged = buy(browser, {**buy_form(browser, product.id), "person": stranger.user.id})
    assert forged.status_code == 403 and count(Order) == 1
    assert "has not turned on 1-Click on this browser" in forged.get_data(as_text=True)


def test_opted_in_shortcut_and_voice_are_marked_for_the_script(app, session, redis):
    shopper = make_shopper(session, redis)
    setting = session.scalar(select(OneClickSetting))
    setting.keyboard_shortcut = setting.voice_action = True
    product = make_product(session)
    session.commit()
    page = browser_with(app, shopper.token).get(f"/shop/products/{product.id}").get_data(as_text=True)
    assert 'data-shortcut="on"' in page and 'data-voice="on"' in page
    assert "data-oneclick-voice hidden" in page and "/static/js/oneclick.js" in page
    assert "<script>" not in page  # no inline script: the CSP forbids it


# --- Bad requests: a clear message and a 4xx, never an order -------------------------------------

def test_every_refusal_is_a_clear_4xx_and_no_order(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session)
    withdrawn = make_product(session, name="Old Soap")
    single = make_product(session, case_size=None, lot_size=None)
    session.commit()
    browser = browser_with(app, shopper.token)
    form = buy_form(browser, product.id)
    cases = [
        ({"product_id": 999_999}, 404, "do not sell"),
        ({"product_id": withdrawn.id}, 422, "no longer available"),
        ({"product_id": single.id, "unit": "case"}, 422, "not sold by the case"),
        ({"unit": "pallet"}, 422, "each, case or lot"),
        ({"quantity": 0}, 422, "1 to 999"),
        ({"quantity": 10**9}, 422, "1 to 999"),
        ({"quantity": "two"}, 422, "1 to 999"),
        ({"person": ""}, 422, "who is ordering"),
        ({"idempotency_key": "x"}, 422, "not valid"),
        ({"product_id": "99999999999999999999999"}, 422, "Choose a product"),
    ]
    withdrawn.active = False
    session.commit()
    for changes, status, message in cases:
        response = buy(browser, form, **changes)
        assert response.status_code == status, (changes, response.status_code)
        assert message.lower() in response.get_data(as_text=True).lower(), changes
    assert buy(browser, {k: v for k, v in form.items() if k != "csrf_token"}).status_code == 400
    assert count(Order) == 0


def test_unknown_or_revoked_browsers_and_one_click_off_are_refused(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session)
    session.commit()
    browser = browser_with(app, shopper.token)
    form = buy_form(browser, product.id)
    nobody = browser_with(app, None)
    nobody.get(f"/shop/products/{product.id}")  # a new browser gets an identifier nobody uses
    assert nobody.get_cookie(COOKIE_NAME) is not None
    nobody_form = {**form, "csrf_token": csrf_token(nobody)}
    response = nobody.post("/1-click/buy", data=nobody_form)
    assert response.status_code == 403 and "not set up for 1-Click" in response.get_data(as_text=True)
    session.execute(update(ClientIdentifier).values(revoked_at=utcnow()))
    session.commit()
    revoked = buy(browser, form)
    assert revoked.status_code == 403 and "not set up for 1-Click" in revoked.get_data(as_text=True)
    session.execute(update(ClientIdentifier).values(revoked_at=None))
    session.execute(update(OneClickSetting).values(disabled_at=utcnow()))
    session.commit()
    off = buy(browser, form)
    assert off.status_code == 403 and "has not turned on 1-Click" in off.get_data(as_text=True)
    assert count(Order) == 0


def test_a_reused_key_with_another_item_is_a_422(app, session, redis):
    shopper = make_shopper(session, redis)
    product, other = make_product(session), make_product(session)
    session.commit()
    browser = browser_with(app, shopper.token)
    form = buy_form(browser, product.id)
    assert buy(browser, form).status_code == 303
    response = buy(browser, form, product_id=other.id)
    assert response.status_code == 422 and "already used" in response.get_data(as_text=True)
    more = buy(browser, form, quantity=3)
    assert more.status_code == 422 and "already used" in more.get_data(as_text=True)
    assert count(OrderLine) == 1


def test_a_removed_address_and_the_hourly_cap(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session)
    session.commit()
    browser = browser_with(app, shopper.token)
    app.config["ONECLICK_MAX_PER_HOUR"], cap = 2, app.config["ONECLICK_MAX_PER_HOUR"]
    try:
        for _ in range(2):
            assert buy(browser, buy_form(browser, product.id)).status_code == 303
        capped = buy(browser, buy_form(browser, product.id))
        assert capped.status_code == 429 and "in the last hour" in capped.get_data(as_text=True)
    finally:
        app.config["ONECLICK_MAX_PER_HOUR"] = cap
    shopper.address.archived_at = utcnow()
    session.commit()
    page = browser.get(f"/shop/products/{product.id}").get_data(as_text=True)
    assert "was removed from the address book" in page and "disabled" in page
    response = buy(browser, buy_form(browser, product.id))
    assert response.status_code == 422 and "address" in response.get_data(as_text=True)


KEY_ALPHABET = string.ascii_letters + string.digits + "-_"
hostile_text = st.one_of(st.text(max_size=120), st.sampled_from(
    ["", "0", "-1", "1e9", "99999999999999999999", "NaN", "\x00", "' OR 1=1 --", "<script>"]))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(product_id=hostile_text, unit=st.one_of(st.sampled_from(["each", "case", "lot"]), hostile_text),
       quantity=hostile_text, person=hostile_text,
       key=st.one_of(st.text(KEY_ALPHABET, min_size=16, max_size=80), hostile_text))
def test_hostile_values_never_cause_a_500(app, hostile_browser, product_id, unit, quantity, person, key):
    browser, form = hostile_browser
    response = browser.post("/1-click/buy", data={**form, "product_id": product_id, "unit": unit,
                                                  "quantity": quantity, "person": person,
                                                  "idempotency_key": key})
    assert response.status_code in (303, 400, 403, 404, 422, 429), response.status_code


@pytest.fixture
def hostile_browser(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session)
    session.commit()
    browser = browser_with(app, shopper.token)
    return browser, buy_form(browser, product.id)


# --- Cancelling without a login, from this browser ----------------------------------------------

def test_the_person_can_cancel_a_line_or_the_order_from_this_browser(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session, each_price=Decimal("10.00"))
    session.commit()
    browser = browser_with(app, shopper.token)
    for _ in range(2):
        buy(browser, buy_form(browser, product.id))
    order = session.scalar(select(Order))
    first_line, second_line = [line.id for line in order.lines]
    page = browser.get(f"/1-click/orders/{order.id}").get_data(as_text=True)
    assert page.count("aria-label=\"Cancel ") == 2 and "...Springfield 627**" in page and "12 Elm" not in page

    token = csrf_token(browser, f"/1-click/orders/{order.id}")
    stranger = browser_with(app, None)
    stranger_token = csrf_token(stranger)
    for response in (stranger.get(f"/1-click/orders/{order.id}"),
                     stranger.post(f"/1-click/orders/{order.id}/cancel", data={"csrf_token": stranger_token})):
        assert response.status_code == 404
        assert "could not find that 1-Click order" in response.get_data(as_text=True)

    response = browser.post(f"/1-click/orders/{order.id}/lines/{first_line}/cancel", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == f"/1-click/orders/{order.id}"
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Removed from order {order.number}; the new total is $15.95." in page
    assert page.count("aria-label=\"Cancel ") == 1
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert [l.id for l in order.lines] == [second_line] and order.total == Decimal("15.95")
    response = browser.post(f"/1-click/orders/{order.id}/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 303
    assert "is cancelled" in browser.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"


def test_cancel_this_item_from_the_confirmation(app, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session, each_price=Decimal("10.00"))
    session.commit()
    browser = browser_with(app, shopper.token, htmx=True)
    kept = buy(browser, buy_form(browser, product.id))
    form = buy_form(browser, product.id)
    body = buy(browser, form).get_data(as_text=True)
    cancel_url = f"/1-click/placed/{form['idempotency_key']}/cancel"
    assert f'hx-post="{cancel_url}"' in body and kept.status_code == 200
    assert "Ordered with 1-Click: 1 × " in kept.get_data(as_text=True)
    stranger = browser_with(app, None)
    refused = stranger.post(cancel_url, data={"csrf_token": csrf_token(stranger)})
    assert refused.status_code == 404 and "could not find" in refused.get_data(as_text=True)
    response = browser.post(cancel_url, data={"csrf_token": form["csrf_token"]})
    assert response.status_code == 200 and "new total is $15.95" in response.get_data(as_text=True)
    again = browser.post(cancel_url, data={"csrf_token": form["csrf_token"]})
    assert again.status_code == 422 and "already cancelled" in again.get_data(as_text=True)
    assert count(OrderLine) == 1 and session.scalar(select(Order.total)) == Decimal("15.95")


def test_after_the_window_nothing_can_be_cancelled(app, htmx, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session)
    session.commit()
    browser = browser_with(app, shopper.token, htmx=True)
    buy(browser, buy_form(browser, product.id))
    order = session.scalar(select(Order))
    order.combine_until = utcnow() - timedelta(seconds=1)
    session.commit()
    page = browser.get(f"/1-click/orders/{order.id}").get_data(as_text=True)
    assert "aria-label=\"Cancel " not in page and "Cancel the whole order" not in page
    response = browser.post(f"/1-click/orders/{order.id}/cancel",
                            data={"csrf_token": csrf_token(browser, "/shop/")})
    assert response.status_code == 422 and "is over" in response.get_data(as_text=True)


# --- Settings, devices, and the offer after a checkout (login required) -------------------------

def test_settings_and_devices_need_a_login(client, session):
    for url in ("/1-click/settings", "/1-click/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for url in ("/1-click/off-here", "/1-click/off-everywhere", "/1-click/devices/1/off",
                "/1-click/from-order/1"):
        assert client.post(url, data={"csrf_token": csrf_token(client)}).status_code in (302, 401)


def test_admins_see_no_button_and_cannot_turn_it_on(client, session, redis):
    from tests.factories import make_admin
    admin = make_admin(session)
    product = make_product(session)
    session.commit()
    log_in(client, admin)
    response = client.get(f"/shop/products/{product.id}")
    assert "1-Click" not in response.get_data(as_text=True) and product.name in response.get_data(as_text=True)
    assert set_cookie_header(response) == ""  # no identifier for a browser shown no button
    settings_page = client.get("/1-click/settings")
    assert settings_page.status_code == 403
    assert "Your account cannot use this page." in settings_page.get_data(as_text=True)


def test_settings_refuse_someone_elses_address_with_a_message(client, session, redis):
    member = make_user(session)
    make_address(session, member)
    card = make_card(session, member, redis)
    stranger = make_user(session)
    their_address = make_address(session, stranger)
    session.commit()
    log_in(client, member)
    for address_id, message in ((their_address.id, "Not a valid choice."),
                                ("abc", "Invalid Choice: could not coerce."),
                                ("", "Choose where 1-Click orders ship to."),
                                (10**30, "Invalid Choice: could not coerce.")):
        response = post_form(client, "/1-click/settings", {"address_id": address_id, "card_id": card.id},
                             page="/1-click/settings")
        assert response.status_code == 422, address_id
        assert message in response.get_data(as_text=True), address_id
    assert count(OneClickSetting) == 0


def test_a_checkout_confirmation_offers_one_click_with_its_address_and_card(client, session, redis):
    member = make_user(session)
    make_address(session, member, moniker="Home")
    office = make_address(session, member, moniker="Office")
    card = make_card(session, member, redis)
    product = make_product(session)
    session.commit()
    log_in(client, member)
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})
    page = client.get("/checkout/").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    placed = client.post("/checkout/", data={"address_id": office.id, "card_id": card.id,
                                             "idempotency_key": key,
                                             "csrf_token": csrf_token(client, "/checkout/")})
    confirmation = client.get(placed.headers["Location"]).get_data(as_text=True)
    order = session.scalar(select(Order))
    assert "Turn on 1-Click on this browser with this address and card" in confirmation
    response = post_form(client, f"/1-click/from-order/{order.id}", page=placed.headers["Location"])
    assert response.status_code == 303
    setting = session.scalar(select(OneClickSetting))
    assert (setting.address_id, setting.payment_method_id) == (office.id, card.id)
    again = client.get(placed.headers["Location"]).get_data(as_text=True)
    assert "Turn on 1-Click on this browser" not in again and "1-Click is on" in again
    assert "Office" in client.get(f"/shop/products/{product.id}").get_data(as_text=True)


def test_turning_it_on_from_somebody_elses_order_is_a_404_and_turns_nothing_on(client, session, redis):
    shopper = make_shopper(session, redis)
    product = make_product(session)
    session.commit()
    from tests.oneclick.conftest import place
    shopper.product = product
    place(session, shopper)
    session.commit()
    their_order = session.scalar(select(Order))
    log_in(client, make_user(session))
    before = session.scalar(select(func.count()).select_from(OneClickSetting))
    for order_id in (their_order.id, their_order.id + 1000):  # somebody's, nobody's: alike
        response = post_form(client, f"/1-click/from-order/{order_id}")
        assert response.status_code == 404
        assert "could not find that order in your account" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(OneClickSetting)) == before


def test_devices_list_every_browser_and_turn_off_here_elsewhere_or_everywhere(app, client, session, redis):
    shopper = make_shopper(session, redis)
    from tests.oneclick.conftest import enable
    from portal.oneclick.identifiers import new_token
    phone, tablet = new_token(), new_token()
    enable(session, shopper.user, phone, shopper.address, shopper.card)
    enable(session, shopper.user, tablet, shopper.address, shopper.card)
    product = make_product(session)
    session.commit()
    client.set_cookie(COOKIE_NAME, shopper.token)
    log_in(client, shopper.user)
    page = client.get("/1-click/").get_data(as_text=True)
    assert page.count("Firefox on Linux") == 3 and "This browser" in page and "Turn off everywhere" in page

    phone_client = session.scalar(select(ClientIdentifier).where(ClientIdentifier.token_hash == hash_token(phone)))
    for url, said in ((f"/1-click/devices/{phone_client.id}/off", "1-Click is off on that browser."),
                      ("/1-click/off-here", "1-Click is off on this browser.")):
        response = post_form(client, url, page="/1-click/")
        assert response.status_code == 303 and response.headers["Location"] == "/1-click/"
        assert said in client.get("/1-click/").get_data(as_text=True)
    page = client.get("/1-click/").get_data(as_text=True)
    assert page.count("Firefox on Linux") == 1 and "This browser" not in page
    assert "Turn on 1-Click" in client.get(f"/shop/products/{product.id}").get_data(as_text=True)
    assert post_form(client, "/1-click/off-everywhere", page="/1-click/").status_code == 303
    assert "off on all your browsers" in client.get("/1-click/").get_data(as_text=True)
    tablet_browser = browser_with(app, tablet)
    assert "Buy now with 1-Click" not in tablet_browser.get(f"/shop/products/{product.id}").get_data(as_text=True)
    unknown = post_form(client, "/1-click/devices/999999/off", page="/1-click/")
    assert unknown.status_code == 404
    assert "1-Click is not on for you on that browser." in unknown.get_data(as_text=True)


def test_turning_on_again_after_revocation_gives_the_browser_a_new_identifier(client, session, redis):
    shopper = make_shopper(session, redis)
    session.commit()
    client.set_cookie(COOKIE_NAME, shopper.token)
    log_in(client, shopper.user)
    post_form(client, "/1-click/off-here", page="/1-click/")
    response = post_form(client, "/1-click/settings", {"address_id": shopper.address.id,
                                                       "card_id": shopper.card.id}, page="/1-click/settings")
    assert response.status_code == 303
    assert ("1-Click is on for this browser: orders ship to Home and are charged to Visa ending 4242."
            in client.get(response.headers["Location"]).get_data(as_text=True))
    new = client.get_cookie(COOKIE_NAME).value
    assert new != shopper.token
    assert session.scalar(select(func.count()).select_from(ClientIdentifier)
                          .where(ClientIdentifier.revoked_at.is_(None))) == 1


def test_the_trivial_health_endpoint(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok\n"
