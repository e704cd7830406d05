""""Add to my next autoship" through HTTP: the button on the product page and the catalog card,
the press as htmx and as a plain form (303 to the answer), the choice of shipment, the
standing order's "This time only" list and its Remove button."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.autoship.creation import create_profile
from portal.autoship.models import AutoshipOneTimeLine
from portal.autoship.recurrence import Recurrence
from portal.clock import company_today
from portal.formatting import day
from tests.autoship.conftest import RULES
from tests.conftest import csrf_token, log_in, page_text
from tests.factories import make_address, make_card, make_ibo, make_product, make_user


@pytest.fixture
def tea(session):
    return make_product(session, name="Green Tea", each_price=Decimal("7.90"), each_pv=Decimal("6.00"),
                        case_size=6, case_price=Decimal("45.00"), lot_size=None)


@pytest.fixture
def person(session, redis):
    someone = make_user(session)
    someone.home = make_address(session, someone, moniker="Home")
    someone.card = make_card(session, someone, redis)
    return someone


def standing_order(session, person, *, in_days=10, name="Monthly essentials"):
    product = make_product(session, name=f"Vitamin {in_days}", each_price=Decimal("10.00"))
    today = company_today()
    return create_profile(session, user=person, name=name, rule=Recurrence.every(1, "months"),
                          regularity="calendar", first_date=today + timedelta(days=in_days),
                          address_id=person.home.id, card_id=person.card.id,
                          items=[(product.id, "each", 2)], today=today, rules=RULES)


def key_on(page: str, product_id: int) -> str:
    return re.search(rf'id="next-shipment-key-{product_id}" value="([^"]+)"', page).group(1)


def press(client, tea, page: str, **fields):
    data = {"csrf_token": csrf_token(client, f"/shop/products/{tea.id}"), "product_id": tea.id,
            "unit": "each", "idempotency_key": key_on(page, tea.id), **fields}
    return client.post("/autoship/next-shipment", data=data)


def one_time_lines(session):
    session.expire_all()
    return session.scalars(select(AutoshipOneTimeLine).order_by(AutoshipOneTimeLine.id)).all()


def test_the_product_page_offers_the_next_shipment_with_its_date(client, session, person, tea):
    profile = standing_order(session, person)
    log_in(client, person)
    page = client.get(f"/shop/products/{tea.id}").get_data(as_text=True)
    assert f"Add to my next autoship (ships {day(profile.next_run_date, 'short')})" in page_text(page)
    assert 'name="quantity"' in page and 'name="unit"' in page


def test_nobody_without_an_open_standing_order_sees_the_button(app, session, person, tea):
    closed = standing_order(session, person)
    closed.next_run_date = company_today() + timedelta(days=1)  # inside the two days' cutoff
    for who in (None, person, make_ibo(session)):
        client = app.test_client()
        if who is not None:
            log_in(client, who)
        for url in (f"/shop/products/{tea.id}", "/shop/"):
            assert "Add to my next autoship" not in client.get(url).get_data(as_text=True), (who, url)


def test_a_plain_press_redirects_to_the_answer_with_the_new_total(client, session, person, tea):
    profile = standing_order(session, person)
    log_in(client, person)
    page = client.get(f"/shop/products/{tea.id}").get_data(as_text=True)

    response = press(client, tea, page, quantity=2, profile=profile.id)

    assert response.status_code == 303
    answer = page_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Added 2 eaches of Green Tea to “Monthly essentials”, this time only" in answer
    assert "Next shipment: $35.80 + $5.95 shipping (one fee for the whole shipment) = $41.75" in answer
    assert "Add $64.20 more to ship free (from $100.00)" in answer
    again = press(client, tea, page, quantity=2, profile=profile.id)  # the same button again
    assert again.status_code == 303 and again.headers["Location"] == response.headers["Location"]
    assert [(line.quantity, line.status) for line in one_time_lines(session)] == [(2, "pending")]


def test_an_htmx_press_answers_with_the_fragment_and_a_new_key(htmx, session, person, tea):
    standing_order(session, person)
    log_in(htmx, person)
    page = htmx.get("/shop/").get_data(as_text=True)
    key = key_on(page, tea.id)

    response = press(htmx, tea, page, compact="y")

    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "Vary" in response.headers
    assert "Added 1 each of Green Tea" in page_text(body) and "$27.90 + $5.95 shipping" in page_text(body)
    new_key = re.search(r'id="next-shipment-key-\d+" value="([^"]+)" hx-swap-oob="true"', body).group(1)
    assert new_key != key
    assert len(one_time_lines(session)) == 1


def test_several_open_standing_orders_ask_which_then_add_to_the_one_chosen(client, session, person, tea):
    sooner = standing_order(session, person, in_days=6, name="Weekly basics")
    later = standing_order(session, person, in_days=12)
    log_in(client, person)
    card_page = client.get("/shop/").get_data(as_text=True)
    assert "Add to my next autoship…" in card_page and "we ask which" in card_page
    product_page = client.get(f"/shop/products/{tea.id}").get_data(as_text=True)
    assert f'name="profile" value="{sooner.id}" checked' in product_page

    choice = press(client, tea, card_page, compact="y")

    assert choice.status_code == 200
    text = page_text(choice.get_data(as_text=True))
    assert "Which shipment should Green Tea go with?" in text
    assert text.index("Weekly basics") < text.index("Monthly essentials")
    assert one_time_lines(session) == []
    chosen = press(client, tea, card_page, compact="y", profile=later.id)
    assert chosen.status_code == 303
    assert [line.profile_id for line in one_time_lines(session)] == [later.id]


@pytest.mark.parametrize("fields, status, message", [
    ({"idempotency_key": "bad key"}, 422, "This button is not valid"),
    ({"unit": "crate"}, 422, "Choose each, case or lot"),
    ({"quantity": "0"}, 422, "1 to 999"),
    ({"product_id": "999999"}, 404, "do not sell"),
    ({"unit": "lot"}, 422, "not sold by the lot"),
])
def test_refusals_are_told_and_add_nothing(client, session, person, tea, fields, status, message):
    standing_order(session, person)
    log_in(client, person)
    page = client.get(f"/shop/products/{tea.id}").get_data(as_text=True)
    response = press(client, tea, page, **fields)
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert one_time_lines(session) == []


def test_the_standing_order_lists_them_apart_and_removes_one(client, htmx, session, person, tea):
    profile = standing_order(session, person)
    log_in(client, person)
    page = client.get(f"/shop/products/{tea.id}").get_data(as_text=True)
    press(client, tea, page, unit="case", profile=profile.id)

    shown = page_text(client.get(f"/autoship/{profile.id}").get_data(as_text=True))
    assert "This time only" in shown and "1 case of Green Tea" not in shown and "1 case" in shown
    assert "Next shipment total ($35.00 more ships free) $70.95" in shown
    assert "Total per shipment (prices on the shipment date) $25.95" in shown
    assert "one-time item added" in shown

    line = one_time_lines(session)[0]
    token = csrf_token(client, f"/autoship/{profile.id}")
    removed = client.post(f"/autoship/{profile.id}/one-time/{line.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    after = page_text(client.get(f"/autoship/{profile.id}").get_data(as_text=True))
    assert "This time only" not in after and "Green Tea is no longer in the next shipment." in after
    assert "one-time item removed" in after
    again = client.post(f"/autoship/{profile.id}/one-time/{line.id}/remove", data={"csrf_token": token})
    assert again.status_code == 404
    assert [line.status for line in one_time_lines(session)] == ["removed"]


def test_another_persons_answer_and_line_are_not_found(client, session, person, tea, redis):
    profile = standing_order(session, person)
    log_in(client, person)
    page = client.get(f"/shop/products/{tea.id}").get_data(as_text=True)
    answer = press(client, tea, page, profile=profile.id).headers["Location"]
    line = one_time_lines(session)[0]
    stranger = make_user(session)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/shop/")})
    log_in(client, stranger)
    assert client.get(answer).status_code == 404
    token = csrf_token(client, "/shop/")
    assert client.post(f"/autoship/{profile.id}/one-time/{line.id}/remove",
                       data={"csrf_token": token}).status_code == 404
    assert session.scalar(select(func.count()).select_from(AutoshipOneTimeLine).where(
        AutoshipOneTimeLine.status == "pending")) == 1
