"""Items paid with points at checkout: which lines, and what they cost in points.

A line paid with points keeps its product, unit and quantity but costs nothing in money and
carries no PV or BV; the order's subtotal, shipping fee and total are then those of the lines
left to pay (the rule book's ordinary totals), and the points are spent on the order with it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from portal.loyalty.rules import Program
from portal.orders.pricing import PricedLine

ZERO = Decimal("0.00")


def line_key(line: PricedLine) -> str:
    """How a form names a cart line: product and unit."""
    return f"{line.product_id}:{line.unit_code}"


@dataclass(frozen=True)
class PointsPayment:
    lines: list[PricedLine]  # every line, those paid with points at no price and no volume
    points: int              # what they cost in points
    covered: list[str]       # "2 x Lavender (each)" for each line paid with points

    @property
    def note(self) -> str:
        return "checkout: " + ", ".join(self.covered)


def pay_with_points(lines: list[PricedLine], chosen: set[str], program: Program) -> PointsPayment:
    """The lines with those named in ``chosen`` paid with points (names of lines not in the
    cart are ignored: the cart may have changed since the page was shown)."""
    paid, points, covered = [], 0, []
    for line in lines:
        if line_key(line) in chosen and line.line_total > 0:
            points += program.points_price(line.line_total)
            covered.append(f"{line.quantity} x {line.name} ({line.unit_code})")
            line = replace(line, unit_price=ZERO, unit_pv=ZERO, unit_bv=ZERO)
        paid.append(line)
    return PointsPayment(lines=paid, points=points, covered=covered)
