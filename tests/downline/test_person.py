"""One person as their upline sees them: standing orders without card details or street."""

from __future__ import annotations

from decimal import Decimal

from portal.clock import company_today
from portal.downline.person import person_profiles
from portal.orders.pricing import ShippingRule
from tests.downline.conftest import RULES, give_autoship
from tests.factories import make_product

SHIPPING = ShippingRule(Decimal("5"), Decimal("100"))


def test_the_card_is_described_by_status_only(session, team):
    views = person_profiles(session, team.people[1111], today=company_today(), rules=RULES,
                            shipping=SHIPPING)
    assert {v.card_status for v in views} == {"Card on file, valid for the next run"}
    assert all(v.city == "Madison" and v.region == "WI" for v in views)


def test_items_show_the_pv_their_price_policy_gives(session, redis, team):
    person = team.people[12]
    product = make_product(session, each_pv=Decimal("8.00"))
    give_autoship(session, redis, person, product, quantity=3, price_policy="locked")
    give_autoship(session, redis, person, product, quantity=3)
    product.unit("each").pv = Decimal("9.50")  # the catalog's PV changes after both were set up
    session.flush()
    views = person_profiles(session, person, today=company_today(), rules=RULES, shipping=SHIPPING)
    assert [(v.profile.price_policy, [(i.unit_label, i.quantity, i.eaches, i.pv) for i in v.items])
            for v in views] == [("locked", [("Each", 3, 3, Decimal("24.00"))]),
                                ("run_time", [("Each", 3, 3, Decimal("28.50"))])]


def test_an_item_whose_unit_is_no_longer_sold_shows_no_eaches_or_pv(session, redis, team):
    person = team.people[12]
    product = make_product(session)
    give_autoship(session, redis, person, product, quantity=2)
    product.unit("each").active = False
    session.flush()
    (view,) = person_profiles(session, person, today=company_today(), rules=RULES, shipping=SHIPPING)
    assert [(i.unit_code, i.unit_label, i.quantity, i.eaches, i.pv) for i in view.items] == [
        ("each", None, 2, None, None)]
