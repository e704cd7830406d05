"""A new standing order starts on a date still open for changes: the form offers the first such
date and says when it ships, a closed date is refused beside the field, and the cart's and the
product page's one-action standing orders never start on one."""

import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from portal.autoship import creation
from portal.autoship.models import AutoshipProfile
from portal.autoship.profiles import AutoshipError, changes_closed, days_until_cutoff
from portal.autoship.recurrence import Recurrence
from portal.cart.services import add_to_cart
from tests.autoship.conftest import RULES
from tests.autoship.test_views import create
from tests.conftest import post_form
from tests.factories import make_product

D = date
TODAY = D(2026, 12, 7)
NOON = datetime(2026, 12, 7, 18, tzinfo=timezone.utc)  # noon in Chicago, the company's zone


def new_profile_on(session, member, product, first: date, rule=None):
    return creation.create_profile(session, user=member, name="Essentials",
                                   rule=rule or Recurrence.every(1, "weeks"), regularity="calendar",
                                   first_date=first, address_id=member.home.id, card_id=member.card.id,
                                   items=[(product.id, "each", 2)], today=TODAY, rules=RULES)


@pytest.mark.parametrize("first, message", [
    (D(2026, 12, 7), "Changes close 2 days before each shipment: the first one can be on "
                     "Wednesday, December 9 at the earliest."),
    (D(2026, 12, 8), "Changes close 2 days before each shipment: the first one can be on "
                     "Wednesday, December 9 at the earliest."),
    (D(2026, 12, 1), "That date is in the past. Changes close 2 days before each shipment: the "
                     "first one can be on Wednesday, December 9 at the earliest."),
])
def test_a_first_date_closed_for_changes_is_refused_beside_it(session, member, product, first, message):
    with pytest.raises(AutoshipError) as refused:
        new_profile_on(session, member, product, first)
    assert (refused.value.message, refused.value.field) == (message, "first_date")


def test_the_first_date_open_for_changes_is_accepted_and_open(session, member, product):
    profile = new_profile_on(session, member, product, D(2026, 12, 9))
    assert profile.next_run_date == D(2026, 12, 9)
    assert days_until_cutoff(profile, TODAY, RULES) == 0 and not changes_closed(0)


@pytest.mark.parametrize("rule, regularity, first", [
    (Recurrence.every(1, "days"), "calendar", D(2026, 12, 9)),   # tomorrow is closed already
    (Recurrence.every(1, "days"), "rolling", D(2026, 12, 9)),
    (Recurrence.every(2, "weeks"), "rolling", D(2026, 12, 21)),  # one interval from today, as before
    (Recurrence.every(1, "months"), "calendar", D(2027, 1, 7)),
])
def test_the_cart_and_the_product_page_start_on_a_date_open_for_changes(session, member, product, rule,
                                                                        regularity, first):
    creation.save_default_rule(session, user=member, rule=rule, regularity=regularity)
    add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=2, max_quantity=999)
    from_cart = creation.profile_from_cart(session, user=member, today=TODAY, rules=RULES)
    subscribed = creation.subscribe(session, user=member, product_id=product.id, unit_code="each",
                                    quantity=1, profile_id=None, today=TODAY, rules=RULES)
    for profile in (from_cart, subscribed):
        assert profile.next_run_date == first
        assert not changes_closed(days_until_cutoff(profile, TODAY, RULES))


def test_the_new_form_offers_the_first_open_date_and_says_when_it_ships(client, session, shopper, clock):
    clock(NOON)
    page = client.get("/autoship/new").get_data(as_text=True)
    assert re.search(r'<input id="first_date" name="first_date"[^>]* value="2026-12-09">', page)
    assert "First shipment: <strong>Wednesday, December 9, 2026</strong>" in page

    preview = client.get("/autoship/preview", query_string={
        "kind": "monthly_day", "interval": 1, "day": 15, "regularity": "calendar", "first_date": "2026-12-09"})
    assert "First shipment: <strong>Tuesday, December 15, 2026</strong>" in preview.get_data(as_text=True)


def test_the_new_form_refuses_a_closed_first_date_beside_the_field(client, session, shopper, clock):
    clock(NOON)
    product = make_product(session)
    response = create(client, product, first_date="2026-12-08")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert ('<small class="field-error" id="first_date-error">Changes close 2 days before each shipment: '
            'the first one can be on Wednesday, December 9 at the earliest.</small>') in page
    assert session.scalar(select(AutoshipProfile)) is None

    created = create(client, product, first_date="2026-12-09")
    assert created.status_code == 303
    shown = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "First shipment: Wednesday, December 9." in shown


def test_make_this_my_autoship_never_starts_closed(client, session, shopper, clock):
    clock(NOON)
    product = make_product(session)
    creation.save_default_rule(session, user=shopper, rule=Recurrence.every(1, "days"), regularity="calendar")
    session.commit()
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "each", "quantity": 1})
    response = post_form(client, "/autoship/from-cart", page="/cart/")
    assert response.status_code == 303
    assert "first shipment December 9" in client.get(response.headers["Location"]).get_data(as_text=True)
