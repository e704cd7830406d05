"""Swapping an item: the quantity rule, the item rules, the cutoff, the history, exactly once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.autoship.models import AutoshipEvent, PricePolicy
from portal.autoship.profiles import AutoshipError
from portal.catalog.services import OrderingError, set_product_active
from portal.errors import NotFound
from portal.retention.models import Swap
from portal.retention.swaps import plan_swap, swap_item
from tests.factories import make_product
from tests.retention.conftest import RULES, TODAY, new_profile


@pytest.mark.parametrize("quantity, from_unit, from_per, chosen, units, expected, says", [
    (24, "each", 1, "case", {"each": 1, "case": 12}, ("case", 2), False),      # divides: same eaches
    (2, "case", 12, "each", {"each": 1, "case": 12}, ("each", 24), False),
    (3, "case", 12, "lot", {"each": 1, "case": 12, "lot": 48}, ("lot", 1), True),   # 36 of 48: nearest 1
    (5, "each", 1, "case", {"each": 1, "case": 12}, ("case", 1), True),        # never below one
    (18, "each", 1, "case", {"each": 1, "case": 12}, ("case", 2), True),       # 1.5 rounds up
    (17, "each", 1, "case", {"each": 1, "case": 12}, ("case", 1), True),
])
def test_the_same_product_in_another_unit_keeps_the_eaches_or_says_the_nearest(
        quantity, from_unit, from_per, chosen, units, expected, says):
    plan = plan_swap(same_product=True, from_unit=from_unit, from_per_unit=from_per, quantity=quantity,
                     units=units, chosen_unit=chosen, product_name="Tea")
    assert (plan.unit_code, plan.quantity) == expected
    assert bool(plan.note) == says


@pytest.mark.parametrize("from_unit, chosen, units, expected, says", [
    ("case", None, {"each": 1, "case": 6}, ("case", 3), False),   # sold in the same unit: kept
    ("case", None, {"each": 1}, ("each", 3), True),               # not sold so: eaches, said
    ("each", "case", {"each": 1, "case": 6}, ("case", 3), False),  # the unit chosen
])
def test_another_product_keeps_the_quantity_in_the_same_unit_if_sold_else_eaches(
        from_unit, chosen, units, expected, says):
    plan = plan_swap(same_product=False, from_unit=from_unit, from_per_unit=12, quantity=3,
                     units=units, chosen_unit=chosen, product_name="Tea")
    assert (plan.unit_code, plan.quantity) == expected
    assert bool(plan.note) == says


def test_a_swap_to_the_same_thing_or_an_unsold_unit_is_refused():
    with pytest.raises(AutoshipError, match="another product or another unit"):
        plan_swap(same_product=True, from_unit="each", from_per_unit=1, quantity=1,
                  units={"each": 1}, chosen_unit="each", product_name="Tea")
    with pytest.raises(AutoshipError, match="not sold by the lot"):
        plan_swap(same_product=False, from_unit="each", from_per_unit=1, quantity=1,
                  units={"each": 1}, chosen_unit="lot", product_name="Tea")


def test_a_member_swaps_an_item_for_another_product_with_history_and_pv(session, member, product):
    tea = make_product(session, name="Green tea", each_pv=Decimal("3.00"))
    profile = new_profile(session, member, product)  # 2 eaches of Vitamin D
    done = swap_item(session, user=member, profile=profile, item_id=profile.items[0].id,
                     product_id=tea.id, unit_code=None, key="k" * 20, today=TODAY, rules=RULES)
    [item] = profile.items
    assert (item.product_id, item.unit_code, item.quantity) == (tea.id, "each", 2)
    assert profile.cycle_pv == Decimal("6.00")
    assert done.message == "Swapped: 2 eaches of Vitamin D replaced by 2 eaches of Green tea."
    event = session.scalar(select(AutoshipEvent).where(AutoshipEvent.action == "item swapped"))
    assert event.details == "2 eaches of Vitamin D replaced by 2 eaches of Green tea"


def test_a_swap_to_another_unit_of_the_same_product_says_when_it_rounds(session, member, product):
    profile = new_profile(session, member, product, items=[(product.id, "each", 5)])
    done = swap_item(session, user=member, profile=profile, item_id=profile.items[0].id,
                     product_id=product.id, unit_code="case", key=None, today=TODAY, rules=RULES)
    assert (profile.items[0].unit_code, profile.items[0].quantity) == ("case", 1)
    assert "5 eaches do not make whole cases of 12: 1 case (12 eaches) instead." in done.message


def test_a_swap_into_an_item_already_held_adds_up_and_locked_prices_follow(session, member, product):
    tea = make_product(session, name="Green tea", each_price=Decimal("4.00"))
    profile = new_profile(session, member, product, items=[(product.id, "each", 2), (tea.id, "each", 1)],
                          price_policy=PricePolicy.LOCKED)
    swap_item(session, user=member, profile=profile, item_id=profile.items[0].id, product_id=tea.id,
              unit_code=None, key=None, today=TODAY, rules=RULES)
    [item] = profile.items
    assert (item.product_id, item.quantity, item.locked_price) == (tea.id, 3, Decimal("4.00"))


def test_a_swap_keeps_the_rules_of_every_item_change(session, member, product):
    profile = new_profile(session, member, product)
    item_id = profile.items[0].id
    gone = make_product(session, name="Old tea")
    set_product_active(session, gone.id, False)
    for product_id, unit, error, message in (
            (gone.id, None, OrderingError, "no longer available"),
            (999999, None, NotFound, "do not sell"),
            (product.id, "each", AutoshipError, "another product or another unit")):
        with pytest.raises(error, match=message):
            swap_item(session, user=member, profile=profile, item_id=item_id, product_id=product_id,
                      unit_code=unit, key=None, today=TODAY, rules=RULES)
    with pytest.raises(NotFound):
        swap_item(session, user=member, profile=profile, item_id=item_id + 1000, product_id=product.id,
                  unit_code="case", key=None, today=TODAY, rules=RULES)
    big = new_profile(session, member, product, items=[(product.id, "case", 999)])
    with pytest.raises(OrderingError, match="At most 999"):
        swap_item(session, user=member, profile=big, item_id=big.items[0].id, product_id=product.id,
                  unit_code="each", key=None, today=TODAY, rules=RULES)


def test_a_swap_within_the_edit_cutoff_is_refused(session, member, product):
    profile = new_profile(session, member, product)  # ships in 10 days
    tea = make_product(session)
    with pytest.raises(AutoshipError, match="being prepared"):
        swap_item(session, user=member, profile=profile, item_id=profile.items[0].id,
                  product_id=tea.id, unit_code=None, key=None, today=TODAY + timedelta(days=9), rules=RULES)
    assert profile.items[0].product_id == product.id


def test_the_same_swap_sent_twice_swaps_once(session, member, product):
    tea, coffee = make_product(session, name="Tea"), make_product(session, name="Coffee")
    profile = new_profile(session, member, product)
    first = swap_item(session, user=member, profile=profile, item_id=profile.items[0].id,
                      product_id=tea.id, unit_code=None, key="same-key-0123456789", today=TODAY, rules=RULES)
    again = swap_item(session, user=member, profile=profile, item_id=profile.items[0].id,
                      product_id=coffee.id, unit_code=None, key="same-key-0123456789", today=TODAY, rules=RULES)
    assert again.repeated and again.swap.id == first.swap.id
    assert [i.product_id for i in profile.items] == [tea.id]
    assert session.scalar(select(func.count()).select_from(Swap)) == 1
