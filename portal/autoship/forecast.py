"""What the engine will create, day by day, without writing anything.

The forecast for a day is what ``autoship run --as-of`` that day creates when the engine runs
every day, in order, from today (or from the first day asked for, when that is earlier), over
the standing orders as they stand now:

* each one's runs are stepped through with the engine's own arithmetic (``engine.plan_due``):
  one overdue orders once, on the first day, for its latest missed date, and runs next on its
  following date; a skipped date brings nothing;
* a paused one with a resume date comes back on that date, at its first scheduled date from
  then on, as the run of that day resumes it;
* a cycle is what the engine would order: the items that can ship (still sold, and in stock
  unless the member accepts a backorder), priced by the profile's policy at today's prices, none
  below the minimum PV, and nothing for a date that already has its order (a Ship now);
* the one-time lines waiting in a profile ("this time only") go with its next order only, by
  the same item rules, and count toward that order's minimum PV: never in a later run.

The period is bounded (``check_period``): a reversed or over-long one is refused, never cut.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from portal import formatting
from portal.autoship.chunk_statement import (item_backordered_sql, item_in_stock_sql, item_ships_sql,
                                             item_sold_sql)
from portal.autoship.engine import plan_due
from portal.autoship.models import (AutoshipItem, AutoshipOneTimeLine, AutoshipProfile, AutoshipSkip,
                                    OneTimeStatus, ProfileStatus)
from portal.autoship.schedule import Schedule, UnplannableSchedule
from portal.catalog.models import Product, ProductUnit, StockLevel
from portal.db import to_money
from portal.errors import DomainError
from portal.orders.models import Order
from portal.orders.rules import line_amount_sql, line_volume_sql, unit_amount_sql

MAX_DAYS = 366        # one period: a year, day by day
MAX_AHEAD_DAYS = 731  # how far past today the engine's days are stepped through


class ForecastRefused(DomainError):
    """A period the forecast does not cover; ``field`` is "from" or "to"."""


@dataclass(frozen=True)
class ForecastDay:
    day: date
    orders: int
    value: Decimal
    pv: Decimal


def check_period(start: date, end: date, today: date) -> None:
    """Refuse a period that ends before it starts, is longer than ``MAX_DAYS`` or reaches more
    than ``MAX_AHEAD_DAYS`` past ``today``, saying the limit."""
    if end < start:
        raise ForecastRefused(f"The end is before the start: choose {formatting.day(start)} or later.",
                              "to")
    if (end - start).days + 1 > MAX_DAYS:
        raise ForecastRefused(f"A forecast covers at most {MAX_DAYS} days: choose "
                              f"{formatting.day(start + timedelta(days=MAX_DAYS - 1))} or earlier.", "to")
    if end > today + timedelta(days=MAX_AHEAD_DAYS):
        raise ForecastRefused(f"A forecast reaches at most {MAX_AHEAD_DAYS} days past today: choose "
                              f"{formatting.day(today + timedelta(days=MAX_AHEAD_DAYS))} or earlier.", "to")


def forecast(session: Session, start: date, end: date, *, today: date,
             min_pv: Decimal = Decimal(0)) -> list[ForecastDay]:
    """Orders, value (before shipping) and PV per day from ``start`` to ``end``: what the run
    of each day will create (see the module docstring). ``ForecastRefused`` for a period
    ``check_period`` refuses."""
    check_period(start, end, today)
    first_day = min(start, today)
    skips: dict[int, set[date]] = defaultdict(set)
    for profile_id, day in session.execute(_skips(end)):
        skips[profile_id].add(day)
    ordered = {(pid, due) for pid, due in session.execute(_ordered_dates(end))}
    extras = {pid: (subtotal, pv) for pid, subtotal, pv in session.execute(_one_time(end))}
    totals: dict[date, list] = {}
    for pid, status, rrule, anchor, regularity, next_run, paused_until, subtotal, pv in \
            session.execute(_cycles(end)):
        waiting = extras.get(pid)  # the one-time lines, until the order that takes them
        for run_day, due in _runs(pid, status, rrule, anchor, regularity, next_run, paused_until,
                                  frozenset(skips.get(pid, ())), first_day, end):
            if (pid, due) in ordered:
                continue
            run_subtotal, run_pv = subtotal, pv
            if waiting is not None:
                run_subtotal, run_pv = (subtotal or 0) + waiting[0], (pv or 0) + waiting[1]
            if run_pv is None or run_pv < min_pv:  # nothing ships, or too little: no order
                continue
            waiting = None
            if run_day < start:
                continue
            bucket = totals.setdefault(run_day, [0, Decimal(0), Decimal(0)])
            bucket[0] += 1
            bucket[1] += run_subtotal
            bucket[2] += run_pv
    return [ForecastDay(day, count, to_money(value), to_money(pv))
            for day, (count, value, pv) in sorted(totals.items())]


def _runs(pid: int, status: str, rrule: str, anchor: date, regularity: str, next_run: date | None,
          paused_until: date | None, skips: frozenset[date], first_day: date,
          end: date) -> list[tuple[date, date]]:
    """(run day, due date) of each run of one profile from ``first_day`` to ``end``."""
    runs: list[tuple[date, date]] = []
    try:
        day = first_day
        if status == ProfileStatus.PAUSED:
            # The run of the resume date (or the first day, when that date has passed) resumes it.
            day = max(paused_until, first_day)
            next_run = Schedule.of(rrule, anchor, regularity, skips).first_on_or_after(paused_until)
        while next_run is not None and max(next_run, day) <= end:
            day = max(next_run, day)
            plan = plan_due(pid, rrule, anchor, regularity, next_run, day, skips)
            runs.append((day, plan.due_date))
            next_run = plan.next_date
    except UnplannableSchedule:
        pass  # the engine sets the profile aside on that day instead of ordering
    return runs


def _in_scope(p, end: date):
    """Active profiles due by ``end`` and paused ones resuming by then."""
    return or_(and_(p.c.status == ProfileStatus.ACTIVE, p.c.next_run_date <= end),
               and_(p.c.status == ProfileStatus.PAUSED, p.c.paused_until <= end))


def _cycles(end: date):
    """Each profile in scope with the subtotal and PV of its cycle: the items that can ship,
    priced by the rule book as the engine prices them (NULL when none can)."""
    p, i = AutoshipProfile.__table__, AutoshipItem.__table__
    pr, u, s = Product.__table__, ProductUnit.__table__, StockLevel.__table__
    ships = item_ships_sql(item_sold_sql(pr, u), item_in_stock_sql(s, i, u), item_backordered_sql(p))
    subtotal = func.sum(line_amount_sql(unit_amount_sql(p.c.price_policy, i.c.locked_price, u.c.price),
                                        i.c.quantity)).filter(ships)
    pv = func.sum(line_volume_sql(unit_amount_sql(p.c.price_policy, i.c.locked_pv, u.c.pv),
                                  i.c.quantity)).filter(ships)
    return (select(p.c.id, p.c.status, p.c.rrule, p.c.anchor_date, p.c.regularity,
                   p.c.next_run_date, p.c.paused_until, subtotal, pv)
            .select_from(p.join(i, i.c.profile_id == p.c.id)
                         .join(pr, pr.c.id == i.c.product_id)
                         .join(u, and_(u.c.product_id == i.c.product_id, u.c.code == i.c.unit_code))
                         .outerjoin(s, s.c.product_id == i.c.product_id))
            .where(_in_scope(p, end))
            .group_by(p.c.id))


def _one_time(end: date):
    """The subtotal and PV of each profile's pending one-time lines that can ship, by the
    same rules; profiles where none can are left out."""
    p, o = AutoshipProfile.__table__, AutoshipOneTimeLine.__table__
    pr, u, s = Product.__table__, ProductUnit.__table__, StockLevel.__table__
    ships = item_ships_sql(item_sold_sql(pr, u), item_in_stock_sql(s, o, u), item_backordered_sql(p))
    subtotal = func.sum(line_amount_sql(unit_amount_sql(p.c.price_policy, o.c.locked_price, u.c.price),
                                        o.c.quantity))
    pv = func.sum(line_volume_sql(unit_amount_sql(p.c.price_policy, o.c.locked_pv, u.c.pv),
                                  o.c.quantity))
    return (select(p.c.id, subtotal, pv)
            .select_from(p.join(o, o.c.profile_id == p.c.id)
                         .join(pr, pr.c.id == o.c.product_id)
                         .join(u, and_(u.c.product_id == o.c.product_id, u.c.code == o.c.unit_code))
                         .outerjoin(s, s.c.product_id == o.c.product_id))
            .where(_in_scope(p, end), o.c.status == OneTimeStatus.PENDING, ships)
            .group_by(p.c.id))


def _skips(end: date):
    p = AutoshipProfile.__table__
    return (select(AutoshipSkip.profile_id, AutoshipSkip.skip_date)
            .join(p, p.c.id == AutoshipSkip.profile_id).where(_in_scope(p, end)))


def _ordered_dates(end: date):
    """(profile, due date) of the orders already placed for a date the profile may still run
    for: the engine creates no second one."""
    p = AutoshipProfile.__table__
    return (select(Order.autoship_profile_id, Order.autoship_due_date)
            .join(p, p.c.id == Order.autoship_profile_id)
            .where(_in_scope(p, end),
                   Order.autoship_due_date >= func.least(p.c.next_run_date, p.c.paused_until)))


__all__ = ["ForecastDay", "ForecastRefused", "MAX_AHEAD_DAYS", "MAX_DAYS", "check_period",
           "forecast"]
