"""The rule book: how items become money and volume, written once.

Every rule here has two faces that must never disagree: a pure Python function over plain
values (what pages, mails, carts and single orders use) and, where set-based SQL applies the
same rule to thousands of rows at once (the autoship engine, the forecast), a SQLAlchemy
expression built right beside it. Nothing else in the portal restates a rule in SQL: statements
import the expression from here. ``tests/orders/test_rules.py`` runs every rule both ways, on
its edge cases, against PostgreSQL, and fails where the two faces differ.

Money and volume are stored as integer hundredths (``portal.db.Hundredths``); the expressions
work on those columns as they are, and their results carry the Money/Volume type so that they
read back as Decimals with two places.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, case, literal, or_, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from portal.db import Money, Volume, to_money

ZERO = Decimal("0.00")
LOCKED = "locked"  # the price policy that keeps the price, PV and BV taken when an item was added


def money(value: Decimal | int | str) -> ColumnElement[Decimal]:
    """A money value as a bound parameter of the Money type (stored as hundredths)."""
    return literal(to_money(value), Money)


# ---------------------------------------------------------------- unit price, PV and BV

def unit_amount(policy: str, locked: Decimal | None, current: Decimal) -> Decimal:
    """The price (or PV, or BV) of one unit of a standing-order item: the amount locked when
    the item was added under the locked policy, otherwise today's catalog amount."""
    return locked if policy == LOCKED and locked is not None else current


def unit_amount_sql(policy: ColumnElement[str], locked: ColumnElement[Decimal],
                    current: ColumnElement[Decimal]) -> ColumnElement[Decimal]:
    """``unit_amount`` for set-based statements."""
    return case((and_(policy == LOCKED, locked.is_not(None)), locked), else_=current)


# ---------------------------------------------------------------- lines

def line_amount(unit: Decimal, quantity: int) -> Decimal:
    """A line's price (or PV, or BV): the unit amount times the quantity, to the cent."""
    return to_money(unit * quantity)


def line_amount_sql(unit: ColumnElement[Decimal], quantity: ColumnElement[int],
                    type_=Money) -> ColumnElement[Decimal]:
    """``line_amount`` over hundredths: whole hundredths times a whole quantity is exact."""
    return type_coerce(unit * quantity, type_)


def line_volume_sql(unit: ColumnElement[Decimal], quantity: ColumnElement[int]) -> ColumnElement[Decimal]:
    return line_amount_sql(unit, quantity, Volume)


# ---------------------------------------------------------------- shipping and totals

@dataclass(frozen=True)
class ShippingRule:
    """A flat fee per order, free from a subtotal on; an order with nothing to pay for (a free
    sample, every item left out) ships free too."""

    flat_fee: Decimal
    free_from: Decimal

    def fee(self, subtotal: Decimal) -> Decimal:
        if subtotal == ZERO or subtotal >= to_money(self.free_from):
            return ZERO
        return to_money(self.flat_fee)

    def short_of_free(self, subtotal: Decimal) -> Decimal:
        """How much more the subtotal needs for ``fee`` to be free: 0.00 once it is."""
        if self.fee(subtotal) == ZERO:
            return ZERO
        return to_money(self.free_from) - subtotal

    def fee_sql(self, subtotal: ColumnElement[Decimal]) -> ColumnElement[Decimal]:
        """``fee`` for set-based statements, over a subtotal in hundredths."""
        return type_coerce(case((or_(subtotal == money(ZERO), subtotal >= money(self.free_from)),
                                 money(ZERO)),
                                else_=money(self.flat_fee)), Money)


def order_total(subtotal: Decimal, fee: Decimal) -> Decimal:
    """What the card is charged: the subtotal and the shipping fee."""
    return subtotal + fee


def order_total_sql(subtotal: ColumnElement[Decimal], fee: ColumnElement[Decimal]) -> ColumnElement[Decimal]:
    return type_coerce(subtotal + fee, Money)


def shipping_rule(config) -> ShippingRule:
    """The company's shipping rule from the app's configuration."""
    return ShippingRule(flat_fee=Decimal(str(config["SHIPPING_FLAT_FEE"])),
                        free_from=Decimal(str(config["FREE_SHIPPING_FROM"])))


# ---------------------------------------------------------------- order numbers

ORDER_NUMBER_PREFIX = "SO"
ORDER_NUMBER_DIGITS = 8


def order_number(order_id: int) -> str:
    """The number people see: "SO00000042" (more digits once ids outgrow eight)."""
    return f"{ORDER_NUMBER_PREFIX}{order_id:0{ORDER_NUMBER_DIGITS}d}"

