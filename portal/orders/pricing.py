"""Pure price and volume arithmetic over plain values: carts, orders and standing orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portal.db import to_money

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PricedLine:
    product_id: int
    sku: str
    name: str
    unit_code: str
    eaches_per_unit: int
    quantity: int
    unit_price: Decimal
    unit_pv: Decimal
    unit_bv: Decimal

    @property
    def eaches(self) -> int:
        return self.quantity * self.eaches_per_unit

    @property
    def line_total(self) -> Decimal:
        return to_money(self.unit_price * self.quantity)

    @property
    def pv(self) -> Decimal:
        return to_money(self.unit_pv * self.quantity)

    @property
    def bv(self) -> Decimal:
        return to_money(self.unit_bv * self.quantity)


@dataclass(frozen=True)
class ShippingRule:
    flat_fee: Decimal
    free_from: Decimal

    def fee(self, subtotal: Decimal) -> Decimal:
        if subtotal == ZERO or subtotal >= self.free_from:
            return ZERO
        return to_money(self.flat_fee)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    shipping: Decimal
    total: Decimal
    pv: Decimal
    bv: Decimal
    eaches: int


def totals(lines: list[PricedLine], shipping: ShippingRule) -> Totals:
    subtotal = sum((line.line_total for line in lines), ZERO)
    fee = shipping.fee(subtotal)
    return Totals(subtotal=subtotal, shipping=fee, total=subtotal + fee,
                  pv=sum((line.pv for line in lines), ZERO),
                  bv=sum((line.bv for line in lines), ZERO),
                  eaches=sum(line.eaches for line in lines))


def shipping_rule(config) -> ShippingRule:
    return ShippingRule(flat_fee=Decimal(str(config["SHIPPING_FLAT_FEE"])),
                        free_from=Decimal(str(config["FREE_SHIPPING_FROM"])))
