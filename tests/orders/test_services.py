from decimal import Decimal

import pytest

from portal.orders.models import Order
from portal.orders.pricing import PricedLine, ShippingRule, totals
from portal.orders.services import build_order, change_status, order_for
from portal.orders.states import InvalidTransition
from portal.errors import NotFound
from tests.factories import make_address, make_card, make_product, make_user

SHIPPING = ShippingRule(flat_fee=Decimal("5.95"), free_from=Decimal("100.00"))


def line(quantity=1, unit_price="10.00", per_unit=1, code="each", product_id=1):
    return PricedLine(product_id=product_id, sku="S", name="N", unit_code=code, eaches_per_unit=per_unit,
                      quantity=quantity, unit_price=Decimal(unit_price), unit_pv=Decimal("8.00"),
                      unit_bv=Decimal("6.50"))


def test_totals_add_up_and_shipping_is_free_from_the_threshold():
    small = totals([line(2)], SHIPPING)
    assert (small.subtotal, small.shipping, small.total, small.pv, small.eaches) == (
        Decimal("20.00"), Decimal("5.95"), Decimal("25.95"), Decimal("16.00"), 2)
    big = totals([line(1, "99.99"), line(1, "0.01")], SHIPPING)
    assert big.shipping == Decimal("0.00") and big.total == Decimal("100.00")
    assert totals([], SHIPPING).total == Decimal("0.00")


def test_a_case_line_counts_its_eaches():
    assert line(3, "100.00", per_unit=12, code="case").eaches == 36


def test_every_status_change_is_recorded_and_forbidden_moves_are_refused(session, redis):
    member = make_user(session)
    order = build_order(user=member, source="checkout", lines=[line(product_id=make_product(session).id)], shipping=SHIPPING,
                        address=make_address(session, member), card=make_card(session, member, redis))
    session.add(order)
    change_status(session, order, "paid", "charged")
    change_status(session, order, "released")
    with pytest.raises(InvalidTransition):
        change_status(session, order, "cancelled")
    assert [(c.from_status, c.to_status) for c in order.history] == [
        (None, "pending_payment"), ("pending_payment", "paid"), ("paid", "released")]
    assert order.status == "released"


def test_money_survives_the_database_exactly(session, redis):
    member = make_user(session)
    order = build_order(user=member, source="checkout", lines=[line(3, "0.10", product_id=make_product(session).id)], shipping=SHIPPING,
                        address=make_address(session, member), card=make_card(session, member, redis))
    session.add(order)
    session.commit()
    session.expire_all()
    stored = session.get(Order, order.id)
    assert stored.subtotal == Decimal("0.30") and stored.total == Decimal("6.25")
    assert stored.placed_at.tzinfo is not None


def test_nobody_sees_another_persons_order(session, redis):
    owner, other = make_user(session), make_user(session)
    order = build_order(user=owner, source="checkout", lines=[line(product_id=make_product(session).id)], shipping=SHIPPING,
                        address=make_address(session, owner), card=make_card(session, owner, redis))
    session.add(order)
    session.flush()
    assert order_for(session, owner, order.id) is order
    with pytest.raises(NotFound):
        order_for(session, other, order.id)
