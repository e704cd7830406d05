"""What the engine would run, day by day, without writing anything."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.autoship.engine import _rule
from portal.autoship.schedule import Schedule, UnplannableSchedule
from portal.db import to_money

_CYCLES = text("""
SELECT p.id, p.rrule, p.anchor_date, p.regularity, p.next_run_date,
       SUM(CASE WHEN p.price_policy = 'locked' AND i.locked_price IS NOT NULL
                THEN i.locked_price ELSE u.price END * i.quantity) AS subtotal,
       SUM(CASE WHEN p.price_policy = 'locked' AND i.locked_pv IS NOT NULL
                THEN i.locked_pv ELSE u.pv END * i.quantity) AS pv
FROM autoship_profiles p
JOIN autoship_items i ON i.profile_id = p.id
JOIN products pr ON pr.id = i.product_id AND pr.active
JOIN product_units u ON u.product_id = i.product_id AND u.code = i.unit_code AND u.active
WHERE p.status = 'active' AND p.next_run_date <= :until
GROUP BY p.id, p.rrule, p.anchor_date, p.regularity, p.next_run_date
""")


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
    for profile_id, day in session.execute(text(
            "SELECT profile_id, skip_date FROM autoship_skips WHERE skip_date >= :start"), {"start": start}):
        skips[profile_id].add(day if isinstance(day, date) else date.fromisoformat(day))
    totals: dict[date, list] = {}
    for pid, rrule, anchor, regularity, next_run, subtotal, pv in session.execute(_CYCLES, {"until": end}):
        anchor = anchor if isinstance(anchor, date) else date.fromisoformat(anchor)
        next_run = next_run if isinstance(next_run, date) else date.fromisoformat(next_run)
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
            bucket = totals.setdefault(max(day, start), [0, 0, 0])
            bucket[0] += 1
            bucket[1] += int(subtotal)
            bucket[2] += int(pv)
            day = following
    return [ForecastDay(day, count, to_money(Decimal(value) / 100), to_money(Decimal(pv) / 100))
            for day, (count, value, pv) in sorted(totals.items())]
