"""A property over random histories: two people's standing-order orders paid across twenty
months (some months skipped, some orders below the minimum PV, payments near midnight at the
turn of a month, when the company's month and UTC's differ), some cancelled, some refunded in
part, points spent, the daily expiry run now and then. After every step the ledger must agree
with a reference written here from the rules in plain words (lots of points, spent oldest
first), and its balance must never be negative.

The reference knows nothing of the portal's code: months are counted with ``zoneinfo`` here,
streaks by walking back month by month, expiry by lots."""

from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.clock import frozen_at
from portal.loyalty.ledger import NotEnoughPoints, expire_points, redeem_points
from portal.loyalty.models import PointsAccount, PointsEntry
from portal.loyalty.queries import points_statement
from tests.loyalty.conftest import cancel, make_holder, paid_standing_order, refund

UTC = timezone.utc
ZONE = "America/Chicago"
LADDER = [(13, Decimal(30)), (10, Decimal(25)), (7, Decimal(20)), (4, Decimal(15)), (1, Decimal(10))]
MINIMUM_PV = Decimal(50)


def company_month(moment: datetime) -> tuple[int, int]:
    local = moment.astimezone(ZoneInfo(ZONE))
    return local.year, local.month


def month_before(month: tuple[int, int]) -> tuple[int, int]:
    year, number = month
    return (year, number - 1) if number > 1 else (year - 1, 12)


def rate_at(months: int) -> Decimal:
    return next(rate for first, rate in LADDER if max(months, 1) >= first)


def a_year_later(day: date) -> date:
    return date(day.year + 1, day.month, min(day.day, calendar.monthrange(day.year + 1, day.month)[1]))


@dataclass
class Lot:
    order: int
    points: int
    expires: date


@dataclass
class Reference:
    entries: list[tuple[str, int, datetime]] = field(default_factory=list)   # kind, points, at
    lots: dict[int, Lot] = field(default_factory=dict)                         # by order
    taken_back: dict[int, int] = field(default_factory=dict)
    spent: dict[int, int] = field(default_factory=dict)
    given_back: dict[int, int] = field(default_factory=dict)
    counting: dict[int, tuple[tuple[int, int], Decimal]] = field(default_factory=dict)  # paid orders: month, PV

    @property
    def balance(self) -> int:
        return sum(points for _, points, _ in self.entries)

    def streak(self, month: tuple[int, int]) -> int:
        counted = {m for m, pv in self.counting.values() if pv >= MINIMUM_PV}
        current = month if month in counted else month_before(month)
        months = 0
        while current in counted:
            months, current = months + 1, month_before(current)
        return months

    def rate_now(self, month: tuple[int, int]) -> Decimal:
        counted = {m for m, pv in self.counting.values() if pv >= MINIMUM_PV}
        return rate_at(self.streak(month) + (0 if month in counted else 1))

    def pay(self, order: int, subtotal: Decimal, pv: Decimal, at: datetime) -> None:
        self.counting[order] = (company_month(at), pv)
        rate = rate_at(self.streak(company_month(at)))
        points = int(subtotal * rate / 100 / Decimal("0.01"))
        if points > 0:
            self.entries.append(("earned", points, at))
            self.lots[order] = Lot(order, points, a_year_later(at.astimezone(ZoneInfo(ZONE)).date()))

    def cancel(self, order: int, at: datetime) -> None:
        self.counting.pop(order, None)
        back = self.spent.get(order, 0) - self.given_back.get(order, 0)
        if back > 0:
            self.entries.append(("reversed", back, at))
            self.given_back[order] = self.given_back.get(order, 0) + back
        self.take_back(order, None, at)

    def refund(self, order: int, amount: Decimal, total: Decimal, at: datetime) -> None:
        self.take_back(order, (amount, total), at)

    def take_back(self, order: int, share, at: datetime) -> None:
        lot = self.lots.get(order)
        if lot is None:
            return
        remaining = lot.points - self.taken_back.get(order, 0)
        wanted = remaining if share is None else math.ceil(lot.points * share[0] / share[1])
        take = min(wanted, remaining, self.balance)
        if take > 0:
            self.entries.append(("reversed", -take, at))
            self.taken_back[order] = self.taken_back.get(order, 0) + take

    def redeem(self, order: int, points: int, at: datetime) -> bool:
        if points > self.balance:
            return False
        self.entries.append(("redeemed", -points, at))
        self.spent[order] = points
        return True

    def expire(self, today: date, at: datetime) -> None:
        # Lots oldest first, each less what was taken back from it; what was spent or expired
        # (less what came back) used them up in that order; what is left of the due ones expires.
        used = (sum(self.spent.values()) - sum(self.given_back.values())
                - sum(points for kind, points, _ in self.entries if kind == "expired"))
        left_in_due = 0
        for lot in sorted(self.lots.values(), key=lambda lot: (lot.expires, lot.order)):
            size = lot.points - self.taken_back.get(lot.order, 0)
            consumed = min(size, used)
            used -= consumed
            if lot.expires <= today:
                left_in_due += size - consumed
        amount = min(left_in_due, self.balance)
        if amount > 0:
            self.entries.append(("expired", -amount, at))


def history(seed: int):
    """(moment, person, action, arguments) in time order."""
    rng = random.Random(seed)
    events = []
    for person in (0, 1):
        for month in range(20):
            year, number = 2026 + (month // 12), month % 12 + 1
            for _ in range(rng.choice((0, 1, 1, 1, 2))):   # a month skipped now and then
                if rng.random() < 0.2:   # around midnight UTC at the turn of the month
                    moment = datetime(year, number, 1, rng.randrange(0, 8), rng.randrange(60), tzinfo=UTC)
                else:
                    moment = datetime(year, number, rng.randrange(1, 29), rng.randrange(24), tzinfo=UTC)
                price = Decimal(rng.randrange(500, 20000)) / 100
                pv = rng.choice(("60", "60", "30"))
                events.append((moment, person, "pay", (price, pv)))
                if rng.random() < 0.12:
                    events.append((moment + timedelta(days=rng.randrange(1, 20)), person, "cancel", None))
                elif rng.random() < 0.15:
                    events.append((moment + timedelta(days=rng.randrange(1, 40)), person, "refund",
                                   Decimal(rng.randrange(100, 15000)) / 100))
                if rng.random() < 0.2:
                    events.append((moment + timedelta(hours=1), person, "spend", rng.randrange(1, 4000)))
    for month in range(26):
        events.append((datetime(2026 + month // 12, month % 12 + 1, 15, 8, 10, tzinfo=UTC), None, "expire", None))
    return sorted(events, key=lambda event: (event[0], event[1] if event[1] is not None else -1))


@pytest.mark.parametrize("seed", range(4))
def test_the_ledger_agrees_with_the_reference_over_a_random_history(session, redis, seed):
    people = [make_holder(session, redis), make_holder(session, redis)]
    references = [Reference(), Reference()]
    orders: list[list] = [[], []]       # each person's paid orders, in payment order, with the one
    spent_on: set[int] = set()          # the person's reference event refers to
    checked_as_of = None
    for moment, who, action, argument in history(seed):
        if action == "expire":
            with frozen_at(moment):
                expire_points(session, today=moment.astimezone(ZoneInfo(ZONE)).date())
                session.commit()
            for reference in references:
                reference.expire(moment.astimezone(ZoneInfo(ZONE)).date(), moment)
        elif action == "pay":
            price, pv = argument
            order = paid_standing_order(session, people[who], moment, price=str(price), pv=pv)
            orders[who].append(order)
            references[who].pay(order.id, order.subtotal, order.pv_total, moment)
        elif action == "cancel":
            order = orders[who][-1]
            if order.status != "cancelled":
                cancel(session, order, moment)
                references[who].cancel(order.id, moment)
        elif action == "refund":
            order = orders[who][-1]
            if order.status != "cancelled":
                amount = min(argument, order.total)
                refund(session, order, str(amount), moment)
                references[who].refund(order.id, amount, order.total, moment)
        elif action == "spend":
            order = next((o for o in reversed(orders[who]) if o.id not in spent_on), None)
            if order is None:
                continue
            with frozen_at(moment):
                try:
                    redeem_points(session, user_id=people[who].id, points=argument, order_id=order.id, note="test")
                    session.commit()
                    spent = True
                except NotEnoughPoints:
                    session.rollback()
                    spent = False
            assert spent == references[who].redeem(order.id, argument, moment)
            if spent:
                spent_on.add(order.id)
        for person, reference in zip(people, references):
            if who is None or person is people[who]:
                assert_agree(session, person, reference, moment)
        if checked_as_of is None and moment.year == 2027 and moment.month == 3:
            checked_as_of = moment
    # As of a past day: what the ledger said at the end of it.
    day = checked_as_of.astimezone(ZoneInfo(ZONE)).date() - timedelta(days=3)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(ZONE))
    for person, reference in zip(people, references):
        statement = points_statement(session, person.id, timezone=ZONE, as_of=day)
        assert statement.balance == sum(points for _, points, at in reference.entries if at < end)


def assert_agree(session, person, reference: Reference, moment: datetime) -> None:
    rows = session.execute(select(PointsEntry.kind, PointsEntry.points).where(PointsEntry.user_id == person.id)
                           .order_by(PointsEntry.id)).all()
    assert [tuple(row) for row in rows] == [(kind, points) for kind, points, _ in reference.entries]
    account = session.scalar(select(PointsAccount.balance).where(PointsAccount.user_id == person.id)) or 0
    assert account == reference.balance >= 0
    with frozen_at(moment):
        statement = points_statement(session, person.id, timezone=ZONE)
    assert statement.balance == reference.balance
    assert statement.streak.months == reference.streak(company_month(moment))
    assert statement.rate == reference.rate_now(company_month(moment))
