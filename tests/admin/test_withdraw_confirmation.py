"""Withdrawing a product reaches every standing order holding it: the admin is asked first,
told how many standing orders and people it reaches."""

import re

from portal.catalog.models import Product
from tests.autoship.conftest import new_profile
from tests.confirmation_pages import confirmation_form
from tests.conftest import log_in, page_text, post_form
from tests.factories import make_address, make_admin, make_card, make_product, make_user


def holder(session, redis, product, profiles: int = 1):
    person = make_user(session)
    person.home, person.card = make_address(session, person), make_card(session, person, redis)
    for _ in range(profiles):
        new_profile(session, person, product)


def test_withdrawing_asks_first_saying_whom_it_reaches_then_withdraws_when_confirmed(client, session, redis):
    product = make_product(session, sku="VD-1", name="Vitamin D")
    holder(session, redis, product, profiles=2)
    holder(session, redis, product)
    session.commit()
    log_in(client, make_admin(session))
    listing = client.get("/admin/products").get_data(as_text=True)
    assert 'hx-confirm="Withdraw VD-1 Vitamin D? 3 standing orders of 2 people hold it: their shipments ' \
           'leave it out until it is back on sale."' in listing

    asked = post_form(client, f"/admin/products/{product.id}/active?page=1", {"active": "0"}, page="/admin/products")

    assert asked.status_code == 200
    text = page_text(asked.get_data(as_text=True))
    assert "Withdraw VD-1 Vitamin D?" in text
    assert "3 standing orders of 2 people hold it: their shipments leave it out, and their PV drops, " \
           "until it is back on sale or they replace it." in text
    assert "Yes, withdraw VD-1" in text and "No, keep it on sale" in text
    session.expire_all()
    assert session.get(Product, product.id).active is True

    action, fields = confirmation_form(asked.get_data(as_text=True))
    done = client.post(action, data=fields)

    assert done.status_code == 303
    session.expire_all()
    assert session.get(Product, product.id).active is False
    assert "VD-1 is now withdrawn." in page_text(client.get(done.headers["Location"]).get_data(as_text=True))
    # a repeated confirmation (a second tab) leaves it withdrawn rather than putting it back on sale
    assert client.post(action, data=fields).status_code == 303
    session.expire_all()
    assert session.get(Product, product.id).active is False


def test_putting_a_product_back_on_sale_needs_no_confirmation(client, session):
    product = make_product(session, sku="VD-2")
    product.active = False
    session.commit()
    log_in(client, make_admin(session))
    assert post_form(client, f"/admin/products/{product.id}/active", {"active": "1"}).status_code == 303
    session.expire_all()
    assert session.get(Product, product.id).active is True


def test_with_htmx_a_confirmed_withdrawal_answers_the_product_list(client, session):
    product = make_product(session, sku="VD-3", name="Vitamin D")
    session.commit()
    log_in(client, make_admin(session))
    response = post_form(client, f"/admin/products/{product.id}/active?page=1",
                         {"active": "0", "confirm": "yes"}, page="/admin/products", headers={"HX-Request": "true"})
    assert response.status_code == 200
    text = page_text(response.get_data(as_text=True))
    assert "VD-3 is now withdrawn." in text and re.search(r"VD-3 Vitamin D .* Put on sale withdrawn", text)
    session.expire_all()
    assert session.get(Product, product.id).active is False
