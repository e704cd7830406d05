"""The points rule book: the company's program as data, and every rule it implies, written once.

A **program** (``Program``, stored as a JSON document, see ``parse_program``) says:

- ``ladder``: the rate earned by month count, as steps ``{"from_month": n, "rate": "p"}``: the
  rate of the highest step whose ``from_month`` the count has reached (the example: 10% for
  months 1-3, 15% from month 4, 20% from 7, 25% from 10 and 30% from month 13 on);
- ``minimum_pv``: the PV an order needs to make its month count (a *qualifying* order);
- ``expiry_months``: points expire that many calendar months after the company date they
  were earned on (Jan 31 + 1 month is Feb 28/29, as PostgreSQL and dateutil both count);
- ``point_value``: the money one point pays for.

**Months** are calendar months in the company's time zone. A month *qualifies* for a person
when one of their standing-order orders of at least ``minimum_pv`` PV was paid in it and is not
cancelled. The **month count** (streak) at a moment is the number of consecutive qualifying
months ending with the current month, or, while the current month has no qualifying order
yet, ending with the month before (the streak is alive until a month ends without one). An
order earns ``floor(subtotal x rate / 100 / point_value)`` points at the rate of the month
count once it is paid (counting the order itself), and at least the first step's rate.

Each rule is a Python function over plain values and, where set-based SQL applies it to many
rows, a SQLAlchemy expression beside it; ``tests/loyalty/test_rules.py`` holds the two equal.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import Date, Integer, Numeric, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

from portal.orders.models import OrderSource
from portal.orders.states import OrderStatus

CENTS = 100


def percent(rate: Decimal) -> str:
    """A rate as people write it: "10", "12.5"."""
    return f"{Decimal(rate).normalize():f}"


@dataclass(frozen=True)
class Step:
    from_month: int
    rate: Decimal  # a percentage

    @property
    def percent(self) -> str:
        return percent(self.rate)


@dataclass(frozen=True)
class Program:
    ladder: tuple[Step, ...]
    minimum_pv: Decimal
    expiry_months: int
    point_value: Decimal

    # ------------------------------------------------------------ the rate by month count

    def rate_for(self, months: int) -> Decimal:
        """The percentage earned at a month count (a count below 1 earns the first step's)."""
        rate = self.ladder[0].rate
        for step in self.ladder:
            if months >= step.from_month:
                rate = step.rate
        return rate

    def rate_sql(self, months: ColumnElement[int]) -> ColumnElement[Decimal]:
        whens = [(months >= step.from_month, literal(step.rate, Numeric(5, 2)))
                 for step in reversed(self.ladder[1:])]
        first = literal(self.ladder[0].rate, Numeric(5, 2))
        return case(*whens, else_=first) if whens else first

    def next_step(self, months: int) -> Step | None:
        """The next rise of the rate after ``months``, if any."""
        return next((step for step in self.ladder if step.from_month > months), None)

    # ------------------------------------------------------------ points of an order

    def points_earned(self, subtotal: Decimal, rate: Decimal) -> int:
        """Points an order of ``subtotal`` earns at ``rate`` percent: rounded down."""
        cents = int(Decimal(subtotal) * CENTS)
        return (cents * int(rate * 100)) // (100 * 100 * self.point_cents)

    def points_earned_sql(self, subtotal_hundredths: ColumnElement[int],
                          rate: ColumnElement[Decimal]) -> ColumnElement[int]:
        """``points_earned`` over a Money column as stored (hundredths)."""
        scaled = cast(func.round(rate * 100), Integer)
        return cast(func.floor(cast(subtotal_hundredths, Numeric) * scaled
                               / literal(100 * 100 * self.point_cents, Numeric)), Integer)

    @property
    def point_cents(self) -> int:
        return int(self.point_value * CENTS)

    def points_price(self, amount: Decimal) -> int:
        """Points that pay for ``amount`` of products: rounded up to a whole point."""
        return math.ceil(int(Decimal(amount) * CENTS) / self.point_cents)

    def value_of(self, points: int) -> Decimal:
        return (self.point_value * points).quantize(Decimal("0.01"))

    # ------------------------------------------------------------ expiry

    def expires_on(self, earned_on: date) -> date:
        return earned_on + relativedelta(months=self.expiry_months)

    def expires_on_sql(self, earned_on: ColumnElement[date]) -> ColumnElement[date]:
        return cast(earned_on + func.make_interval(0, self.expiry_months), Date)

    def qualifies(self, pv: Decimal) -> bool:
        return Decimal(pv) >= self.minimum_pv

    # ------------------------------------------------------------ as data

    def to_document(self) -> dict:
        return {"ladder": [{"from_month": s.from_month, "rate": str(s.rate)} for s in self.ladder],
                "minimum_pv": str(self.minimum_pv), "expiry_months": self.expiry_months,
                "point_value": str(self.point_value)}


EXAMPLE = {
    "ladder": [{"from_month": 1, "rate": "10"}, {"from_month": 4, "rate": "15"},
               {"from_month": 7, "rate": "20"}, {"from_month": 10, "rate": "25"},
               {"from_month": 13, "rate": "30"}],
    "minimum_pv": "50", "expiry_months": 12, "point_value": "0.01",
}


class InvalidProgram(ValueError):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _decimal(value, name: str, reasons: list[str], *, low: Decimal, high: Decimal,
             low_open: bool = False) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        reasons.append(f"{name} must be a number written as text, like \"10\" or \"0.01\"")
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        reasons.append(f"{name} is not a number: {str(value)[:40]!r}")
        return None
    if not number.is_finite() or number.as_tuple().exponent < -2:
        reasons.append(f"{name} has more than two decimal places")
        return None
    if number < low or number > high or (low_open and number == low):
        reasons.append(f"{name} must be {'above' if low_open else 'at least'} {low} and at most {high}")
        return None
    return number


def _whole(value, name: str, reasons: list[str], *, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        reasons.append(f"{name} must be a whole number from {low} to {high}")
        return None
    return value


def parse_program(document) -> Program:
    """A program from its document, or InvalidProgram with every reason it is refused."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as error:
            raise InvalidProgram([f"not JSON: {error}"]) from error
    if not isinstance(document, dict):
        raise InvalidProgram(["the program must be an object with ladder, minimum_pv, "
                              "expiry_months and point_value"])
    reasons: list[str] = []
    expected = {"ladder", "minimum_pv", "expiry_months", "point_value"}
    for name in sorted(set(document) - expected):
        reasons.append(f"unknown field {name[:40]!r}")
    for name in sorted(expected - set(document)):
        reasons.append(f"{name} is missing")
    steps: list[Step] = []
    ladder = document.get("ladder")
    if "ladder" in document:
        if not isinstance(ladder, list) or not ladder or len(ladder) > 50:
            reasons.append("ladder must be a list of 1 to 50 steps")
        else:
            for n, raw in enumerate(ladder, 1):
                if not isinstance(raw, dict) or set(raw) != {"from_month", "rate"}:
                    reasons.append(f"ladder step {n} must have exactly from_month and rate")
                    continue
                month = _whole(raw["from_month"], f"ladder step {n}'s from_month", reasons, low=1, high=600)
                rate = _decimal(raw["rate"], f"ladder step {n}'s rate", reasons,
                                low=Decimal(0), high=Decimal(100), low_open=True)
                if month is not None and rate is not None:
                    steps.append(Step(month, rate))
            if steps and len(steps) == len(ladder):
                if steps[0].from_month != 1:
                    reasons.append("the ladder's first step must start at month 1")
                for before, after in zip(steps, steps[1:]):
                    if after.from_month <= before.from_month:
                        reasons.append(f"ladder months must rise: month {after.from_month} "
                                       f"follows month {before.from_month}")
                    if after.rate < before.rate:
                        reasons.append(f"rates never fall with more months: {after.rate}% at month "
                                       f"{after.from_month} after {before.rate}%")
    minimum = _decimal(document.get("minimum_pv"), "minimum_pv", reasons,
                       low=Decimal(0), high=Decimal(100000)) if "minimum_pv" in document else None
    expiry = _whole(document.get("expiry_months"), "expiry_months", reasons,
                    low=1, high=120) if "expiry_months" in document else None
    value = _decimal(document.get("point_value"), "point_value", reasons,
                     low=Decimal("0.01"), high=Decimal(100)) if "point_value" in document else None
    if reasons:
        raise InvalidProgram(reasons)
    return Program(ladder=tuple(steps), minimum_pv=minimum, expiry_months=expiry, point_value=value)


EXAMPLE_PROGRAM = parse_program(EXAMPLE)


# ---------------------------------------------------------------- months and qualifying orders

def month_index(day: date) -> int:
    """A calendar month as one number (consecutive months differ by one)."""
    return day.year * 12 + day.month - 1


def month_of(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def company_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def company_date_sql(moment: ColumnElement[datetime], timezone: str) -> ColumnElement[date]:
    return cast(func.timezone(timezone, moment), Date)


def month_index_sql(moment: ColumnElement[datetime], timezone: str) -> ColumnElement[int]:
    local = func.timezone(timezone, moment)
    # date_part (double precision) rather than EXTRACT (numeric): the same whole numbers, cheaper
    # over the many orders an award reads.
    return cast(func.date_part("year", local) * 12 + func.date_part("month", local) - 1, Integer)


PAID_STATES = (OrderStatus.PAID, OrderStatus.RELEASED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


def qualifying_sql(orders, program: Program) -> ColumnElement[bool]:
    """Whether an order (a table or alias of ``orders``) makes its month count."""
    return ((orders.c.source == OrderSource.AUTOSHIP) & orders.c.paid_at.is_not(None)
            & (orders.c.status != OrderStatus.CANCELLED)
            & (orders.c.pv_total >= literal(int(program.minimum_pv * CENTS), Integer)))


def streak_months(qualifying: set[int], current: int) -> int:
    """The month count at month ``current`` given the qualifying months (see the module)."""
    end = current if current in qualifying else current - 1
    count = 0
    while end - count in qualifying:
        count += 1
    return count
