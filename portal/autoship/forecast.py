"""What the engine would run, day by day, without writing anything."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from portal.autoship.engine import _rule
from portal.autoship.models import AutoshipItem, AutoshipProfile, AutoshipSkip, ProfileStatus
from portal.autoship.schedule import Schedule, UnplannableSchedule
from portal.catalog.models import Product, ProductUnit
from portal.db import to_money
from portal.orders.rules import line_amount_sql, line_volume_sql, unit_amount_sql

def _cycles(until: date):
    """Each active profile due by ``until`` with one cycle's subtotal and PV at today's prices,
    priced by the rule book as the engine prices it."""
    p, i = AutoshipProfile.__table__, AutoshipItem.__table__
    pr, u = Product.__table__, ProductUnit.__table__
    return (select(p.c.id, p.c.rrule, p.c.anchor_date, p.c.regularity, p.c.next_run_date,
                   func.sum(line_amount_sql(unit_amount_sql(p.c.price_policy, i.c.locked_price, u.c.price),
                                            i.c.quantity)),
                   func.sum(line_volume_sql(unit_amount_sql(p.c.price_policy, i.c.locked_pv, u.c.pv),
                                            i.c.quantity)))
            .select_from(p.join(i, i.c.profile_id == p.c.id)
                         .join(pr, and_(pr.c.id == i.c.product_id, pr.c.active))
                         .join(u, and_(u.c.product_id == i.c.product_id, u.c.code == i.c.unit_code,
                                       u.c.active)))
            .where(p.c.status == ProfileStatus.ACTIVE, p.c.next_run_date <= until)
            .group_by(p.c.id, p.c.rrule, p.c.anchor_date, p.c.regularity, p.c.next_run_date))


@dataclass(frozen=True)
class ForecastDay:
    day: date
    orders: int
    value: Decimal
    pv: Decimal


def forecast(session: Session, start: date, end: date) -> list[ForecastDay]:
    """Orders, value (before shipping) and PV per day from ``start`` to ``end``, at today's
    prices, for active profiles as they stand. Runs overdue before ``start`` count on ``start``."""
    if end < start:
        raise ValueError("the end date is before the start date")
    skips: dict[int, set[date]] = defaultdict(set)
    for profile_id, day in session.execute(select(AutoshipSkip.profile_id, AutoshipSkip.skip_date)
                                           .where(AutoshipSkip.skip_date >= start)):
        skips[profile_id].add(day)
    totals: dict[date, list] = {}
    for pid, rrule, anchor, regularity, next_run, subtotal, pv in session.execute(_cycles(end)):
        try:
            schedule = Schedule(_rule(rrule), anchor, regularity, frozenset(skips.get(pid, ())))
        except UnplannableSchedule:
            schedule = None
        day = next_run
        while schedule is not None and day is not None and day <= end:
            try:
                following = schedule.following(day)
            except UnplannableSchedule:
                break  # the engine sets it aside on that day instead of ordering
            bucket = totals.setdefault(max(day, start), [0, Decimal(0), Decimal(0)])
            bucket[0] += 1
            bucket[1] += subtotal
            bucket[2] += pv
            day = following
    return [ForecastDay(day, count, to_money(value), to_money(pv))
            for day, (count, value, pv) in sorted(totals.items())]
