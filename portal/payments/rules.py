"""When a card stops working, as one rule for Python and for set-based SQL.

A card is good through the last day of its expiry month ("03/27" works on 31 March 2027) and
fails on any day of a later month. The team's attention list and the member's card notices
both ask whether a standing order's card still works on its next run date; both use this.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import extract


def card_expires_before(exp_year: int, exp_month: int, day: date) -> bool:
    """Will a card expiring ``exp_month``/``exp_year`` be expired on ``day``?"""
    return exp_year * 12 + exp_month < day.year * 12 + day.month


def card_expires_before_sql(exp_year, exp_month, day):
    """``card_expires_before`` over columns (``day`` a date column or bound date)."""
    return exp_year * 12 + exp_month < extract("year", day) * 12 + extract("month", day)
