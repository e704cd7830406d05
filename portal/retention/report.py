"""Reasons and saves per month: how many members asked to cancel, why, and how many took an
offer instead, in the company's months (its time zone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from portal.retention.cancellation import NOT_GIVEN, REASON_LABELS
from portal.retention.models import Cancellation, Outcome


@dataclass
class MonthRow:
    month: date                                    # the first day of the month
    asked: dict[str, int] = field(default_factory=dict)   # reason -> answers
    saved: dict[str, int] = field(default_factory=dict)   # reason -> saved
    offers: dict[str, int] = field(default_factory=dict)  # offer -> saves

    @property
    def total(self) -> int:
        return sum(self.asked.values())

    @property
    def total_saved(self) -> int:
        return sum(self.saved.values())

    @property
    def cancelled(self) -> int:
        return self.total - self.total_saved

    @property
    def save_rate(self) -> float:
        return self.total_saved / self.total if self.total else 0.0


def month_start(day: date) -> date:
    return day.replace(day=1)


def months_back(today: date, count: int) -> list[date]:
    """The first days of the last ``count`` months, oldest first, this month last."""
    year, month, found = today.year, today.month, []
    for _ in range(count):
        found.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


def monthly_answers(session: Session, *, today: date, months: int, timezone: str) -> list[MonthRow]:
    """One row per month of the last ``months`` (months without an answer too), counted in one
    GROUP BY over the answers of the period."""
    wanted = months_back(today, months)
    local_month = cast(func.date_trunc("month", func.timezone(timezone, Cancellation.at)), Date)
    rows = session.execute(
        select(local_month, Cancellation.reason, Cancellation.outcome, Cancellation.offer, func.count())
        .where(func.timezone(timezone, Cancellation.at) >= wanted[0])
        .group_by(local_month, Cancellation.reason, Cancellation.outcome, Cancellation.offer)).all()
    by_month = {month: MonthRow(month) for month in wanted}
    for month, reason, outcome, offer, count in rows:
        row = by_month.get(month)
        if row is None:
            continue  # after today: a clock set back
        row.asked[reason] = row.asked.get(reason, 0) + count
        if outcome == Outcome.SAVED:
            row.saved[reason] = row.saved.get(reason, 0) + count
            row.offers[offer] = row.offers.get(offer, 0) + count
    return [by_month[month] for month in wanted]


def reasons_shown(rows: list[MonthRow]) -> list[tuple[str, str]]:
    """(code, label) of the reasons the page lists, in the reason page's order: every reason
    offered, and "no reason given" when some answer had none."""
    met = {reason for row in rows for reason in row.asked}
    return [(code, label) for code, label in REASON_LABELS.items() if code != NOT_GIVEN or code in met]
