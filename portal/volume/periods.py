"""Periods: calendar months in the company's time zone.

A period is written as the ``date`` of its first day (``date(2026, 12, 1)``) and, for people,
``2026-12``. An order's volume belongs to the period in which it was paid, counted in company
time: an order paid at 01:00 UTC on 1 January is still December's in New York.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from flask import current_app

from portal.clock import company_today
from portal.errors import DomainError

_PERIOD_TEXT = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


class BadPeriod(DomainError, ValueError):
    """A period that is malformed or has not started; the message is for a person."""

    status = 400


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def add_months(period: date, months: int) -> date:
    index = period.year * 12 + period.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_text(period: date) -> str:
    """``2026-12``."""
    return f"{period.year:04d}-{period.month:02d}"


def period_name(period: date) -> str:
    """``December 2026`` (the ``period`` Jinja filter)."""
    return period.strftime("%B %Y")


def parse_period(text: str, *, today: date) -> date:
    """The period written ``YYYY-MM``; a malformed one, or one after ``today``'s, is refused."""
    match = _PERIOD_TEXT.match(text or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise BadPeriod("Write the period as YYYY-MM, e.g. 2026-12.")
    period = date(int(match.group(1)), int(match.group(2)), 1)
    if period > first_of_month(today):
        raise BadPeriod(f"{period_name(period)} has not started yet.")
    return period


def _zone(config=None) -> ZoneInfo:
    config = current_app.config if config is None else config
    return ZoneInfo(config["COMPANY_TIMEZONE"])


def period_of(moment: datetime, config=None) -> date:
    """The period a UTC moment falls in, in company time."""
    return first_of_month(moment.astimezone(_zone(config)).date())


def current_period(config=None) -> date:
    return first_of_month(company_today(config))


def previous_periods(period: date, n: int) -> list[date]:
    """The ``n`` periods up to and including ``period``, oldest first."""
    return [add_months(period, -back) for back in range(n - 1, -1, -1)]


def period_bounds(period: date, config=None) -> tuple[datetime, datetime]:
    """The period's first instant and the next period's, in UTC (half-open)."""
    zone = _zone(config)
    start = datetime.combine(period, time(0), tzinfo=zone)
    end = datetime.combine(add_months(period, 1), time(0), tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)
