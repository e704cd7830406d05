"""What the checkout page shows of points: the balance and each line's price in points."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import current_user

from portal.extensions import db
from portal.loyalty.ledger import balance_of
from portal.loyalty.program import current_program
from portal.loyalty.rules import Program
from portal.loyalty.spending import PointsPayment, line_key, pay_with_points
from portal.orders.pricing import PricedLine


@dataclass(frozen=True)
class CheckoutPoints:
    balance: int
    program: Program
    prices: dict[str, int]      # line key -> its price in points
    chosen: set[str]
    payment: PointsPayment      # the lines as they would be paid

    def key(self, line: PricedLine) -> str:
        return line_key(line)


def checkout_points(lines: list[PricedLine], chosen: set[str]) -> CheckoutPoints:
    program = current_program(db.session)
    return CheckoutPoints(balance=balance_of(db.session, current_user.id), program=program,
                          prices={line_key(line): program.points_price(line.line_total) for line in lines},
                          chosen=chosen, payment=pay_with_points(lines, chosen, program))
