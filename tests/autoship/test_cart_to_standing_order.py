""""Make this my autoship": the cart as a new standing order, or added to one the person has."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from portal.autoship import creation
from portal.autoship.models import AutoshipEvent, AutoshipProfile
from portal.autoship.profiles import AutoshipError
from portal.cart.services import add_to_cart, cart_lines
from portal.errors import NotFound
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.conftest import log_in, page_text, post_form
from tests.factories import make_address, make_card, make_product, make_user


def items_of(profile):
    return sorted((item.product.name, item.unit_code, item.quantity) for item in profile.items)


def profiles_in_all(session) -> int:
    return session.scalar(select(func.count()).select_from(AutoshipProfile))


# --- the service -------------------------------------------------------------------------------

def test_the_cart_is_added_to_an_existing_standing_order_merging_same_product_and_unit(
        session, member, product):
    omega = make_product(session, name="Omega-3")
    profile = new_profile(session, member, product)  # 2 eaches of Vitamin D
    for product_id, unit, quantity in ((product.id, "each", 3), (product.id, "case", 1), (omega.id, "each", 1)):
        add_to_cart(session, user=member, product_id=product_id, unit_code=unit, quantity=quantity,
                    max_quantity=999)

    added_to = creation.profile_from_cart(session, user=member, today=TODAY, rules=RULES,
                                          profile_id=profile.id)

    assert added_to is profile and profiles_in_all(session) == 1
    assert items_of(profile) == [("Omega-3", "each", 1), ("Vitamin D", "case", 1), ("Vitamin D", "each", 5)]
    assert profile.cycle_pv == 5 * 8 + 96 + 8  # the stored PV follows: Vitamin D each 8, case 96, Omega-3 8
    event = session.scalars(select(AutoshipEvent).where(AutoshipEvent.profile_id == profile.id)
                            .order_by(AutoshipEvent.id.desc())).first()
    assert event.action == "items added"
    assert len(cart_lines(session, member)) == 3  # still there to check out today


def test_adding_the_cart_follows_the_rules_of_adding_an_item(session, member, product):
    profile = new_profile(session, member, product, first=TODAY + timedelta(days=10))
    profile.next_run_date = TODAY + timedelta(days=1)  # its next shipment is now past the cutoff
    add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=1, max_quantity=999)
    with pytest.raises(AutoshipError, match="being prepared"):
        creation.profile_from_cart(session, user=member, today=TODAY, rules=RULES, profile_id=profile.id)
    stranger = make_user(session)
    add_to_cart(session, user=stranger, product_id=product.id, unit_code="each", quantity=1, max_quantity=999)
    with pytest.raises(NotFound):
        creation.profile_from_cart(session, user=stranger, today=TODAY, rules=RULES, profile_id=profile.id)


def test_a_second_new_standing_order_from_the_cart_gets_a_name_of_its_own(session, member, product):
    add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=1, max_quantity=999)
    first = creation.profile_from_cart(session, user=member, today=TODAY, rules=RULES)
    second = creation.profile_from_cart(session, user=member, today=TODAY, rules=RULES)
    assert (first.name, second.name) == ("Autoship from my cart", "Autoship from my cart 2")


# --- the cart page -----------------------------------------------------------------------------

@pytest.fixture
def shopper(client, session, redis, clock):
    clock(datetime.combine(TODAY, datetime.min.time(), timezone.utc).replace(hour=15))
    person = make_user(session)
    person.home = make_address(session, person, moniker="Home")
    person.card = make_card(session, person, redis)
    log_in(client, person)
    return person


def test_the_cart_page_offers_a_new_standing_order_or_one_that_accepts_changes(client, session, shopper, product):
    open_one = new_profile(session, shopper, product)
    closed = new_profile(session, shopper, product, first=TODAY + timedelta(days=10))
    closed.next_run_date = TODAY + timedelta(days=1)
    closed.name = "Being prepared"
    session.commit()
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})

    page = page_text(client.get("/cart/").get_data(as_text=True))

    assert "As a new standing order" in page
    assert f"Added to “Monthly essentials” (next {open_one.next_run_date:%b %-d})" in page
    assert "Being prepared" not in page  # its next shipment is closed for changes


def test_make_this_my_autoship_adds_the_cart_to_the_chosen_standing_order(client, session, shopper, product):
    omega = make_product(session, name="Omega-3")
    profile = new_profile(session, shopper, product)
    session.commit()
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 3})
    post_form(client, "/cart/add", {"product_id": omega.id, "unit": "case", "quantity": 1})

    response = post_form(client, "/autoship/from-cart", {"profile": profile.id}, page="/cart/")

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/autoship/{profile.id}")
    session.expire_all()
    assert profiles_in_all(session) == 1
    assert items_of(profile) == [("Omega-3", "case", 1), ("Vitamin D", "each", 5)]
    page = page_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Your cart was added to “Monthly essentials”, next shipment {profile.next_run_date:%B %-d}." in page


def test_the_cart_cannot_be_added_to_somebody_elses_standing_order(client, session, redis, shopper, product):
    owner = make_user(session)
    owner.home, owner.card = make_address(session, owner), make_card(session, owner, redis)
    theirs = new_profile(session, owner, product)
    session.commit()
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})

    assert post_form(client, "/autoship/from-cart", {"profile": theirs.id}, page="/cart/").status_code == 404
    assert post_form(client, "/autoship/from-cart", {"profile": "x"}, page="/cart/").status_code == 422
    session.expire_all()
    assert items_of(theirs) == [("Vitamin D", "each", 2)] and profiles_in_all(session) == 1
