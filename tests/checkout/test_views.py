"""A person fills a cart in eaches, cases and lots, checks out with a sandbox card and sees the order."""

import re
from decimal import Decimal

from sqlalchemy import func, select

from portal.orders.models import Order
from tests.conftest import csrf_token, log_in, post_form
from tests.factories import make_address, make_card, make_product, make_user


def checkout_form(client):
    page = client.get("/checkout/").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    return key, csrf_token(client, "/checkout/")


def test_the_whole_ordinary_checkout(client, session, redis):
    member = make_user(session)
    make_address(session, member, moniker="Home")
    card = make_card(session, member, redis)
    product = make_product(session, name="Green Tea", each_price=Decimal("7.90"), case_size=12,
                           case_price=Decimal("90.00"), lot_size=144, lot_price=Decimal("1000.00"))
    session.commit()
    log_in(client, member)

    for unit, quantity in (("each", 2), ("case", 1), ("lot", 1)):
        response = post_form(client, "/cart/add", {"product_id": product.id, "unit": unit, "quantity": quantity})
        assert response.status_code == 303
    cart = client.get("/cart/").get_data(as_text=True)
    assert "Green Tea" in cart and "158" in cart  # 2 + 12 + 144 eaches

    key, token = checkout_form(client)
    page = client.get("/checkout/").get_data(as_text=True)
    address_value = re.search(r'name="address_id" value="(\d+)"', page).group(1)
    response = client.post("/checkout/", data={"address_id": address_value, "card_id": card.id,
                                               "idempotency_key": key, "csrf_token": token})
    assert response.status_code == 303
    confirmation = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you" in confirmation and "Visa ending 4242" in confirmation
    assert "$1,105.80" in confirmation  # 15.80 + 90 + 1000, free shipping
    order = session.scalar(select(Order))
    detail = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert order.number in detail and "Green Tea" in detail and "$1,105.80" in detail
    assert order.number in client.get("/orders/").get_data(as_text=True)


def test_submitting_the_same_checkout_form_twice_places_one_order(client, session, redis):
    member = make_user(session)
    address = make_address(session, member)
    card = make_card(session, member, redis)
    product = make_product(session)
    session.commit()
    log_in(client, member)
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})
    key, token = checkout_form(client)
    data = {"address_id": address.id, "card_id": card.id, "idempotency_key": key, "csrf_token": token}
    first = client.post("/checkout/", data=data)
    second = client.post("/checkout/", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_declined_card_shows_the_reason_and_keeps_the_cart(client, session, redis):
    member = make_user(session)
    address = make_address(session, member)
    card = make_card(session, member, redis, number="4000000000009995")
    product = make_product(session)
    session.commit()
    log_in(client, member)
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})
    key, token = checkout_form(client)
    response = client.post("/checkout/", data={"address_id": address.id, "card_id": card.id,
                                               "idempotency_key": key, "csrf_token": token})
    assert response.status_code == 402
    assert "insufficient funds" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert "Product" in client.get("/cart/").get_data(as_text=True)


def test_checkout_form_errors_are_4xx_with_messages(client, session, redis):
    member = make_user(session)
    make_address(session, member)
    make_card(session, member, redis)
    product = make_product(session)
    session.commit()
    log_in(client, member)
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})
    key, token = checkout_form(client)
    cases = [  # what was sent, the answer, what the page says beside the form
        ({}, 422, ["Choose where to ship.", "Choose a card."]),
        ({"address_id": "x", "card_id": "y", "idempotency_key": key}, 422,
         ["Invalid Choice: could not coerce."] * 2),
        ({"address_id": 999999, "card_id": 999999, "idempotency_key": key}, 404,
         ["That address is not in your address book."]),
        # Only a tampered page sends a bad key: the form comes back, with a new key, to retry.
        ({"address_id": 1, "card_id": 1, "idempotency_key": "short"}, 422, []),
    ]
    for data, status, messages in cases:
        response = client.post("/checkout/", data={**data, "csrf_token": token})
        assert response.status_code == status, data
        page = response.get_data(as_text=True)
        assert re.findall(r'class="(?:field-error|flash flash-error)"[^>]*>([^<]*)<', page) == messages
        assert "Place order and pay $" in page
        assert 'name="idempotency_key" type="hidden" value="short"' not in page
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_second_device_submitting_the_cart_after_it_was_checked_out_is_shown_that_order(app, client, session, redis):
    """Each device's checkout page has its own key: the later submission finds the cart
    emptied by the first and answers with the order the first placed, without charging."""
    member = make_user(session)
    address = make_address(session, member)
    card = make_card(session, member, redis)
    product = make_product(session, name="Green Tea")
    session.commit()
    phone, laptop = client, app.test_client()  # two sessions of one person
    log_in(phone, member)
    log_in(laptop, member)
    post_form(phone, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})
    forms = []
    for device in (phone, laptop):
        key, token = checkout_form(device)
        forms.append({"address_id": address.id, "card_id": card.id, "idempotency_key": key,
                      "csrf_token": token})

    placed = phone.post("/checkout/", data=forms[0])
    again = laptop.post("/checkout/", data=forms[1])

    assert placed.status_code == again.status_code == 303
    assert again.headers["Location"] == placed.headers["Location"]
    order = session.scalar(select(Order))
    page = laptop.get(again.headers["Location"]).get_data(as_text=True)
    assert f"This cart was just checked out: order {order.number}. It was charged once." in page
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert len(list(redis.scan_iter("sandbox-gateway:charge:*"))) == 1
