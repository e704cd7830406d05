"""A person's month count (streak): the months that qualified, and what would end the streak.

The rules are in ``portal.loyalty.rules``; this module reads the months from the orders with
the rule book's expressions and answers, for the pages, when the streak ends and whether a
change to the standing orders (a skip, a pause) would end it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.loyalty.rules import (Program, month_index, month_index_sql, month_of, qualifying_sql,
                                  streak_months)
from portal.orders.models import Order

_ORDERS = Order.__table__


def qualifying_months(session: Session, user_id: int, *, program: Program, timezone: str,
                      paid_by: datetime | None = None) -> set[int]:
    """The months (``rules.month_index``) in which the person had a qualifying order, paid by
    ``paid_by`` when given."""
    query = (select(month_index_sql(_ORDERS.c.paid_at, timezone)).distinct()
             .where(_ORDERS.c.user_id == user_id, qualifying_sql(_ORDERS, program)))
    if paid_by is not None:
        query = query.where(_ORDERS.c.paid_at <= paid_by)
    return set(session.scalars(query))


@dataclass(frozen=True)
class Streak:
    months: int              # the month count now
    this_month_counts: bool  # a qualifying order was paid this month already
    ends_after: date         # the last day by which a qualifying order keeps it (end of a month)

    @property
    def alive(self) -> bool:
        return self.months > 0


def last_day(month: int) -> date:
    return month_of(month + 1) - timedelta(days=1)


def streak_of(qualifying: set[int], today: date) -> Streak:
    current = month_index(today)
    counts = current in qualifying
    return Streak(months=streak_months(qualifying, current), this_month_counts=counts,
                  ends_after=last_day(current + 1 if counts else current))


def month_that_breaks(streak: Streak, today: date, runs_before: list[date],
                      runs_after: list[date]) -> date | None:
    """The first month (its first day) that a change leaves without a shipment although it had
    one before, where the streak needs one: from the month the streak next needs an order on,
    up to the last run considered. ``runs_*``: the dates the person's qualifying standing
    orders ship on, before and after the change. None when the streak survives the change
    (or there is no streak to lose)."""
    if not streak.alive or not runs_before:
        return None
    first = month_index(today) + (1 if streak.this_month_counts else 0)
    before = {month_index(day) for day in runs_before}
    after = {month_index(day) for day in runs_after}
    for month in range(first, max(before) + 1):
        if month in before and month not in after:
            return month_of(month)
        if month not in before:
            return None  # the streak ends there anyway: this change is not what ends it
    return None
