from decimal import Decimal

import pytest

from portal.cart.services import add_to_cart, cart_lines, change_line, priced_cart, remove_line
from portal.catalog.services import OrderingError
from portal.errors import NotFound
from tests.factories import make_product, make_user

MAX = 999


def test_a_line_records_unit_quantity_and_eaches(session):
    member, product = make_user(session), make_product(session, case_size=12)
    add_to_cart(session, user=member, product_id=product.id, unit_code="case", quantity=2, max_quantity=MAX)
    [line], problems = priced_cart(session, member)
    assert (line.unit_code, line.quantity, line.eaches) == ("case", 2, 24)
    assert line.line_total == Decimal("220.00") and problems == []


def test_the_same_product_in_the_same_unit_adds_up_but_other_units_stay_separate(session):
    member, product = make_user(session), make_product(session)
    for unit, qty in (("each", 2), ("each", 3), ("lot", 1)):
        add_to_cart(session, user=member, product_id=product.id, unit_code=unit, quantity=qty, max_quantity=MAX)
    assert sorted((l.unit_code, l.quantity) for l in cart_lines(session, member)) == [("each", 5), ("lot", 1)]


@pytest.mark.parametrize("unit, quantity, message", [
    ("each", 0, "at least 1"),
    ("each", -3, "at least 1"),
    ("each", 1000, "At most 999"),
    ("pallet", 1, "not sold by the pallet"),
])
def test_bad_quantities_and_units_are_refused(session, unit, quantity, message):
    member, product = make_user(session), make_product(session)
    with pytest.raises(OrderingError, match=message):
        add_to_cart(session, user=member, product_id=product.id, unit_code=unit, quantity=quantity, max_quantity=MAX)
    assert cart_lines(session, member) == []


def test_a_unit_the_product_lacks_is_refused(session):
    member, product = make_user(session), make_product(session, case_size=None, lot_size=None)
    with pytest.raises(OrderingError, match="not sold by the case"):
        add_to_cart(session, user=member, product_id=product.id, unit_code="case", quantity=1, max_quantity=MAX)


def test_unknown_and_inactive_products_are_refused(session):
    member, product = make_user(session), make_product(session)
    product.active = False
    with pytest.raises(NotFound):
        add_to_cart(session, user=member, product_id=999_999, unit_code="each", quantity=1, max_quantity=MAX)
    with pytest.raises(OrderingError, match="no longer available"):
        add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=1, max_quantity=MAX)


def test_adding_up_past_the_line_maximum_is_refused(session):
    member, product = make_user(session), make_product(session)
    add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=990, max_quantity=MAX)
    with pytest.raises(OrderingError, match="At most"):
        add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=10, max_quantity=MAX)
    assert cart_lines(session, member)[0].quantity == 990


def test_changing_a_unit_into_one_already_in_the_cart_merges_the_lines(session):
    member, product = make_user(session), make_product(session)
    each = add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=2, max_quantity=MAX)
    add_to_cart(session, user=member, product_id=product.id, unit_code="case", quantity=1, max_quantity=MAX)
    change_line(session, user=member, line_id=each.id, unit_code="case", quantity=3, max_quantity=MAX)
    assert [(l.unit_code, l.quantity) for l in cart_lines(session, member)] == [("case", 4)]


def test_nobody_changes_or_removes_another_persons_line(session):
    owner, other, product = make_user(session), make_user(session), make_product(session)
    line = add_to_cart(session, user=owner, product_id=product.id, unit_code="each", quantity=1, max_quantity=MAX)
    with pytest.raises(NotFound):
        change_line(session, user=other, line_id=line.id, unit_code="each", quantity=5, max_quantity=MAX)
    with pytest.raises(NotFound):
        remove_line(session, user=other, line_id=line.id)
    assert cart_lines(session, owner)[0].quantity == 1


def test_a_product_withdrawn_after_it_was_added_is_reported_not_priced(session):
    member, product = make_user(session), make_product(session, name="Tea")
    add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=1, max_quantity=MAX)
    product.active = False
    priced, problems = priced_cart(session, member)
    assert priced == [] and "Tea" in problems[0]
