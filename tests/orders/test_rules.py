"""The rule book's two faces agree: each rule computed in Python and evaluated by the database
from its SQL expression, on the edge cases where rules drift (nothing to pay, a cent below the
free-shipping threshold, the threshold itself, half cents, locked against current prices)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Integer, String, literal, select

from portal.db import Money, Volume
from portal.orders.rules import (ShippingRule, line_amount, line_amount_sql, line_volume_sql, money,
                                 order_number, order_total, order_total_sql,
                                 unit_amount, unit_amount_sql)

D = Decimal
RULE = ShippingRule(flat_fee=D("5.95"), free_from=D("75.00"))


def evaluated(session, expression):
    return session.scalar(select(expression))


@pytest.mark.parametrize("subtotal, fee", [
    (D("0.00"), D("0.00")),      # a free sample ships free, on every page and in the engine alike
    (D("0.01"), D("5.95")),
    (D("74.99"), D("5.95")),     # a cent below the threshold
    (D("75.00"), D("0.00")),     # the threshold itself
    (D("75.01"), D("0.00")),
    (D("1250.34"), D("0.00")),
])
def test_shipping_fee_is_the_same_in_python_and_in_the_database(session, subtotal, fee):
    assert RULE.fee(subtotal) == fee
    assert evaluated(session, RULE.fee_sql(money(subtotal))) == fee


@pytest.mark.parametrize("rule, subtotal", [
    (ShippingRule(flat_fee=D("5.955"), free_from=D("75.00")), D("10.00")),   # half a cent rounds up
    (ShippingRule(flat_fee=D("5.945"), free_from=D("75.00")), D("10.00")),
    (ShippingRule(flat_fee=D("5.95"), free_from=D("74.995")), D("74.99")),   # threshold in half cents
    (ShippingRule(flat_fee=D("5.95"), free_from=D("74.995")), D("75.00")),
    (ShippingRule(flat_fee=D("0"), free_from=D("0")), D("0.00")),
    (ShippingRule(flat_fee=D("5.95"), free_from=D("0")), D("12.00")),       # always free
])
def test_configured_amounts_in_half_cents_round_the_same_way_on_both_faces(session, rule, subtotal):
    assert evaluated(session, rule.fee_sql(money(subtotal))) == rule.fee(subtotal)


@pytest.mark.parametrize("policy, locked, current, expected", [
    ("locked", D("19.95"), D("24.95"), D("19.95")),     # locked keeps the price it was added at
    ("locked", None, D("24.95"), D("24.95")),           # locked before prices were kept: today's
    ("run_time", D("19.95"), D("24.95"), D("24.95")),   # run-time ignores a kept price
    ("run_time", None, D("0.00"), D("0.00")),
    ("locked", D("0.00"), D("24.95"), D("0.00")),       # a free item stays free when locked
])
def test_unit_amount_under_the_price_policy(session, policy, locked, current, expected):
    assert unit_amount(policy, locked, current) == expected
    sql = unit_amount_sql(literal(policy, String), literal(locked, Money), literal(current, Money))
    assert evaluated(session, sql) == expected


@pytest.mark.parametrize("unit, quantity", [
    (D("0.00"), 3), (D("0.01"), 1), (D("24.95"), 12), (D("1234.56"), 144), (D("19.99"), 0),
])
def test_line_amounts_are_exact_in_both_faces(session, unit, quantity):
    expected = line_amount(unit, quantity)
    assert evaluated(session, line_amount_sql(money(unit), literal(quantity, Integer))) == expected
    assert evaluated(session, line_volume_sql(literal(unit, Volume), literal(quantity, Integer))) == expected


@pytest.mark.parametrize("subtotal", [D("0.00"), D("74.99"), D("75.00"), D("999.99")])
def test_order_total_is_subtotal_plus_the_fee(session, subtotal):
    fee = RULE.fee(subtotal)
    expected = order_total(subtotal, fee)
    assert expected == subtotal + fee
    assert evaluated(session, order_total_sql(money(subtotal), RULE.fee_sql(money(subtotal)))) == expected


@pytest.mark.parametrize("order_id, number", [
    (1, "SO00000001"), (42, "SO00000042"), (99_999_999, "SO99999999"), (123_456_789, "SO123456789"),
])
def test_order_numbers_have_at_least_eight_digits(order_id, number):
    # Python only: no set-based statement writes order numbers (pages use the template filter).
    assert order_number(order_id) == number
