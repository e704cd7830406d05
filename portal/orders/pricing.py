"""Pure price and volume arithmetic over plain values: carts, orders and standing orders.

The rules themselves (amounts, fee, totals) live in ``portal.orders.rules``; this module adds
up lines with them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portal.orders.rules import ZERO, ShippingRule, line_amount, order_total, shipping_rule

__all__ = ["ZERO", "PricedLine", "ShippingRule", "Totals", "shipping_rule", "totals"]


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
        return line_amount(self.unit_price, self.quantity)

    @property
    def pv(self) -> Decimal:
        return line_amount(self.unit_pv, self.quantity)

    @property
    def bv(self) -> Decimal:
        return line_amount(self.unit_bv, self.quantity)


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
    return Totals(subtotal=subtotal, shipping=fee, total=order_total(subtotal, fee),
                  pv=sum((line.pv for line in lines), ZERO),
                  bv=sum((line.bv for line in lines), ZERO),
                  eaches=sum(line.eaches for line in lines))

