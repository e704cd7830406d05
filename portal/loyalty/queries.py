"""What a person sees of their points: balance, rate, month count, what would end the streak,
and the ledger, now or as of the end of a past day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.clock import utcnow
from portal.loyalty.models import PointsEntry
from portal.loyalty.program import current_program
from portal.loyalty.rules import Program, Step, company_date, percent
from portal.loyalty.streaks import Streak, qualifying_months, streak_of
from portal.orders.models import Order


@dataclass(frozen=True)
class PointsStatement:
    program: Program
    balance: int
    value: Decimal            # what the balance pays for
    streak: Streak
    rate: Decimal             # the percentage a qualifying standing-order order paid now earns
    next_step: Step | None    # the next rise of the rate
    entries: list[PointsEntry]
    order_numbers: dict[int, str]
    as_of: date

    @property
    def percent(self) -> str:
        return percent(self.rate)


def end_of_day(day: date, timezone: str) -> datetime:
    """The first instant after ``day`` ends in the company's time zone."""
    return datetime.combine(day + timedelta(days=1), time(), ZoneInfo(timezone))


def points_statement(session: Session, user_id: int, *, timezone: str, as_of: date | None = None,
                     limit: int | None = 200) -> PointsStatement:
    """The person's points now, or as they stood at the end of ``as_of`` (company time)."""
    program = current_program(session)
    moment = utcnow() if as_of is None else end_of_day(as_of, timezone)
    day = company_date(moment, timezone) if as_of is None else as_of
    until = PointsEntry.at <= moment if as_of is None else PointsEntry.at < moment
    balance = session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                             .where(PointsEntry.user_id == user_id, until))
    query = (select(PointsEntry).where(PointsEntry.user_id == user_id, until)
             .order_by(PointsEntry.at.desc(), PointsEntry.id.desc()))
    entries = list(session.scalars(query.limit(limit) if limit else query))
    order_ids = {e.order_id for e in entries if e.order_id}
    numbers = {o.id: o.number for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))} \
        if order_ids else {}
    streak = streak_of(qualifying_months(session, user_id, program=program, timezone=timezone,
                                         paid_by=moment), day)
    counted = streak.months if streak.this_month_counts else streak.months + 1
    return PointsStatement(program=program, balance=int(balance), value=program.value_of(int(balance)),
                           streak=streak, rate=program.rate_for(counted),
                           next_step=program.next_step(counted), entries=entries,
                           order_numbers=numbers, as_of=day)
