from decimal import Decimal

from sqlalchemy import select

from portal.cart.models import CartLine
from tests.conftest import csrf_token, log_in, post_form
from tests.factories import make_admin, make_product, make_user


def test_adding_with_htmx_answers_a_confirmation_and_a_cart_changed_event(htmx, session):
    member, product = make_user(session), make_product(session, name="Tea")
    log_in(htmx, member)
    response = htmx.post("/cart/add", data={"product_id": product.id, "unit": "case", "quantity": 2,
                                            "csrf_token": csrf_token(htmx, f"/shop/products/{product.id}")})
    assert response.status_code == 200
    assert "Added 2 × Tea (case)" in response.get_data(as_text=True)
    assert response.headers["HX-Trigger"] == "cart-changed"


def test_changing_unit_and_quantity_and_removing_through_the_cart(client, htmx, session):
    member = make_user(session)
    product = make_product(session, name="Green Tea", each_price=Decimal("7.90"), lot_size=48,
                           lot_price=Decimal("300.00"))
    log_in(client, member)
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})
    line = session.scalar(select(CartLine))
    response = post_form(client, f"/cart/lines/{line.id}", {"unit": "lot", "quantity": 2})
    assert response.status_code == 303
    session.expire_all()
    assert (line.unit_code, line.quantity) == ("lot", 2)
    cart = client.get("/cart/").get_data(as_text=True)
    assert "Your cart is updated." in cart
    assert '<option value="lot" selected>' in cart and 'name="quantity" value="2"' in cart
    assert '<td class="num">96</td>' in cart and "$600.00" in cart  # 2 lots of 48 eaches
    assert post_form(client, f"/cart/lines/{line.id}/remove").status_code == 303
    assert session.scalar(select(CartLine)) is None
    cart = client.get("/cart/").get_data(as_text=True)
    assert "Removed from your cart." in cart and "Your cart is empty." in cart
    assert "Green Tea" not in cart


def test_bad_cart_input_is_a_4xx_with_a_message_and_changes_nothing(client, session):
    member, product = make_user(session), make_product(session, case_size=None, lot_size=None)
    log_in(client, member)
    cases = [
        {"product_id": product.id, "unit": "each", "quantity": 0},
        {"product_id": product.id, "unit": "each", "quantity": -5},
        {"product_id": product.id, "unit": "each", "quantity": "ten"},
        {"product_id": product.id, "unit": "each", "quantity": 10**30},
        {"product_id": product.id, "unit": "case", "quantity": 1},
        {"product_id": "abc", "unit": "each", "quantity": 1},
        {"product_id": 987654, "unit": "each", "quantity": 1},
        {"unit": "each", "quantity": 1},
        {"product_id": product.id, "unit": "x" * 5000, "quantity": 1},
        {"product_id": "²", "unit": "each", "quantity": 1},  # isdigit() yet no int()
        {"product_id": "9223372036854775808", "unit": "each", "quantity": 1},  # beyond BIGINT
        {"product_id": product.id, "unit": "each", "quantity": "1" + "0" * 400},  # beyond a float
    ]
    for data in cases:
        response = post_form(client, "/cart/add", data)
        assert 400 <= response.status_code < 500, (data, response.status_code)
        assert "Not added" in response.get_data(as_text=True) or response.status_code == 404
    assert session.scalar(select(CartLine)) is None


def test_another_persons_cart_line_is_not_found(client, session):
    owner, intruder, product = make_user(session), make_user(session), make_product(session)
    log_in(client, owner)
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})
    line = session.scalar(select(CartLine))
    other = client.application.test_client()
    log_in(other, intruder)
    for refused in (post_form(other, f"/cart/lines/{line.id}", {"unit": "each", "quantity": 9}),
                    post_form(other, f"/cart/lines/{line.id}/remove")):
        assert refused.status_code == 404
        assert "That item is no longer in your cart." in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(CartLine, line.id).quantity == 1


def test_anonymous_people_are_sent_to_log_in_and_admins_have_no_cart(client, session):
    anonymous = client.get("/cart/")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=%2Fcart%2F"
    log_in(client, make_admin(session))
    refused = client.get("/cart/")
    assert refused.status_code == 403
    assert "Your account cannot use this page." in refused.get_data(as_text=True)


def test_the_cart_badge_follows_the_cart(htmx, session):
    member, product = make_user(session), make_product(session)
    log_in(htmx, member)
    assert "badge" not in htmx.get("/cart/badge").get_data(as_text=True)
    page = f"/shop/products/{product.id}"  # htmx gets fragments; this page has a whole form
    post_form(htmx, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 3}, page=page)
    assert ">3<" in htmx.get("/cart/badge").get_data(as_text=True)
    line = session.scalar(select(CartLine))
    response = post_form(htmx, f"/cart/lines/{line.id}", {"unit": "each", "quantity": 5}, page=page)
    assert response.headers["HX-Trigger"] == "cart-changed"
    assert ">5<" in htmx.get("/cart/badge").get_data(as_text=True)


def test_every_page_header_counts_the_items_in_the_cart(client, session):
    member, tea, soap = make_user(session), make_product(session), make_product(session)
    log_in(client, member)
    assert '>Cart</a>' in client.get("/shop/").get_data(as_text=True)  # no count while empty
    post_form(client, "/cart/add", {"product_id": tea.id, "unit": "each", "quantity": 2})
    post_form(client, "/cart/add", {"product_id": soap.id, "unit": "case", "quantity": 3})
    for page in ("/shop/", "/home", f"/shop/products/{tea.id}", "/no-such-page"):
        assert '<span class="badge" aria-label="5 items">5</span>' in client.get(page).get_data(as_text=True)
