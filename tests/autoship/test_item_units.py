"""An item form offers only the units the chosen product is sold in: the add-item form of a
standing order and the new-standing-order form alike, worked out on the server (for the product
posted, else the one asked for, else the first), swapped in with htmx when the product changes
and re-rendered by "Show its units" without JavaScript; a unit posted anyway that the product is
not sold in is refused once, beside the unit field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from portal.autoship.models import AutoshipItem, AutoshipProfile
from tests.autoship.conftest import TODAY, new_profile
from tests.conftest import log_in, post_form
from tests.factories import make_product


class UnitSelect(HTMLParser):
    """The options of the item form's unit select (the one with the id "unit"): their labels,
    values and the one chosen."""

    def __init__(self):
        super().__init__()
        self.inside, self.option = False, None
        self.labels: list[str] = []
        self.values: list[str] = []
        self.chosen: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self.inside = attrs.get("id") == "unit"
        elif tag == "option" and self.inside:
            self.values.append(attrs.get("value"))
            if "selected" in attrs:
                self.chosen = attrs.get("value")
            self.option = ""

    def handle_data(self, data):
        if self.option is not None:
            self.option += data

    def handle_endtag(self, tag):
        if tag == "option" and self.option is not None:
            self.labels.append(self.option.strip())
            self.option = None
        elif tag == "select":
            self.inside = False


def unit_select(page: str) -> UnitSelect:
    reader = UnitSelect()
    reader.feed(page)
    assert reader.values, "no unit select on the page"
    return reader


@pytest.fixture
def loose_tea(session):
    """Sold by the each and the case, not by the lot; first in the list by name."""
    return make_product(session, name="Apple Tea", case_size=12, lot_size=None, lot_price=None)


@pytest.fixture
def zinc(session):
    return make_product(session, name="Zinc Lozenges", case_size=12, lot_size=144)


@pytest.fixture
def signed_in(client, session, member, clock):
    clock(datetime(2026, 11, 22, 15, tzinfo=timezone.utc))  # TODAY, in the afternoon
    log_in(client, member)
    return client


@pytest.fixture
def profile(session, member, zinc, clock):
    return new_profile(session, member, zinc)


WITHOUT_LOTS = ["Each", "Case of 12"]
WITH_LOTS = ["Each", "Case of 12", "Lot of 144"]


def test_the_new_form_offers_the_first_products_units_and_no_lot_it_does_not_sell(signed_in, loose_tea, zinc):
    assert unit_select(signed_in.get("/autoship/new").get_data(as_text=True)).labels == WITHOUT_LOTS


def test_the_new_form_for_a_product_asked_for_offers_that_products_units(signed_in, loose_tea, zinc):
    page = signed_in.get(f"/autoship/new?product={zinc.id}").get_data(as_text=True)
    assert unit_select(page).labels == WITH_LOTS


def test_the_add_item_form_offers_only_the_first_products_units(signed_in, loose_tea, zinc, profile):
    page = signed_in.get(f"/autoship/{profile.id}").get_data(as_text=True)
    assert unit_select(page).labels == WITHOUT_LOTS
    # the product select asks for its units when it changes, and the unit select is where they go
    assert 'hx-get="/autoship/item-units"' in page and 'hx-target="#item-unit"' in page
    assert 'id="item-unit"' in page


def test_htmx_swaps_in_the_unit_select_of_the_product_chosen(htmx, member, loose_tea, zinc, clock):
    log_in(htmx, member)
    with_lots = htmx.get("/autoship/item-units", query_string={"product_id": zinc.id, "unit": "lot"})
    fragment = with_lots.get_data(as_text=True)
    assert with_lots.status_code == 200 and "<html" not in fragment
    units = unit_select(fragment)
    assert (units.labels, units.values, units.chosen) == (WITH_LOTS, ["each", "case", "lot"], "lot")
    without = unit_select(htmx.get("/autoship/item-units", query_string={"product_id": loose_tea.id, "unit": "lot"})
                          .get_data(as_text=True))
    assert (without.labels, without.chosen) == (WITHOUT_LOTS, None)  # the lot it was is not offered


def test_show_its_units_re_renders_the_add_item_form_for_the_product_chosen_and_adds_nothing(
        signed_in, session, loose_tea, zinc, profile):
    location = f"/autoship/{profile.id}"
    assert "Show its units" in signed_in.get(location).get_data(as_text=True)
    response = post_form(signed_in, f"{location}/items", {"product_id": zinc.id, "unit": "each", "quantity": 3,
                                                          "show_units": "1"}, page=location)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert unit_select(page).labels == WITH_LOTS
    assert f'<option selected value="{zinc.id}">' in page
    assert session.scalar(select(func.count()).select_from(AutoshipItem)
                          .where(AutoshipItem.profile_id == profile.id)) == 1  # only the item it had


def test_show_its_units_re_renders_the_new_form_for_the_product_chosen_and_creates_nothing(
        signed_in, session, loose_tea, zinc):
    response = post_form(signed_in, "/autoship/new", {"name": "Weekly", "product_id": zinc.id, "unit": "each",
                                                      "quantity": 1, "show_units": "1"}, page="/autoship/new")
    assert response.status_code == 200
    assert unit_select(response.get_data(as_text=True)).labels == WITH_LOTS
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 0


REFUSED = "Apple Tea is not sold by the lot (available: each, case of 12)."


def test_a_lot_posted_for_a_product_without_lots_is_refused_once_beside_the_unit(
        signed_in, session, loose_tea, zinc, profile):
    location = f"/autoship/{profile.id}"
    answer = post_form(signed_in, f"{location}/items", {"product_id": loose_tea.id, "unit": "lot", "quantity": 1},
                       page=location)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert page.count(REFUSED) == 1
    assert f'<small class="field-error" id="unit-error">{REFUSED}</small>' in page
    assert session.scalar(select(func.count()).select_from(AutoshipItem)
                          .where(AutoshipItem.profile_id == profile.id)) == 1


def test_the_new_form_refuses_a_lot_for_a_product_without_lots_once_beside_the_unit(
        signed_in, session, member, loose_tea, zinc):
    answer = post_form(signed_in, "/autoship/new", {
        "name": "Weekly", "product_id": loose_tea.id, "unit": "lot", "quantity": 1, "kind": "every_months",
        "interval": 1, "regularity": "calendar", "first_date": (TODAY + timedelta(days=10)).isoformat(),
        "address_id": member.home.id, "card_id": member.card.id, "shipping_method": "standard",
        "price_policy": "run_time"}, page="/autoship/new")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert page.count(REFUSED) == 1
    assert f'<small class="field-error" id="unit-error">{REFUSED}</small>' in page
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 0
