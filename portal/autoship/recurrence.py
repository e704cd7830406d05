"""Recurrence rules for standing orders: a subset of RFC 5545 RRULE anchored at a date.

A ``Recurrence`` is the rule alone; the anchor date (the series' DTSTART) is passed to every
method that computes dates. Dates are ``datetime.date`` values; there is no time of day.

This module holds the rule as a value: it validates it, exports it for an anchor and answers
which dates it falls on; the dates themselves come from ``dateutil.rrule``, given the explicit
form of the rule for its anchor (see below). Reading and writing the rule's text, and the checks
on each field, live in ``rule_text``; ``describe()``'s wording lives in ``rule_words``.
Semantics (RFC 5545, as ``dateutil.rrule`` expands it):

* DAILY: every ``interval`` days counted from the anchor, optionally only on plain BYDAY weekdays.
* WEEKLY: weeks start on Monday (WKST=MO) and are counted from the anchor's week; without BYDAY
  the occurrence is on the anchor's weekday.
* MONTHLY: months counted from the anchor's month. The candidate days of a month are those
  matching BYMONTHDAY (1..31, or -1 = last day .. -31) and BYDAY (``TU`` = every Tuesday,
  ``2TU`` = second Tuesday, ``-1FR`` = last Friday); BYSETPOS then picks among the candidates
  (``BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1`` = last weekday of the month). A BYMONTHDAY that a month
  lacks (31 in April) yields nothing that month, exactly as the RFC says.
* The anchor is the first occurrence if it matches the rule; nothing before it is ever returned.
  COUNT counts occurrences from the anchor, including skipped (exception) dates; UNTIL is
  inclusive and compared as a date (a time part such as ``T235959Z`` is ignored).

Month-end design. "Monthly on day 29/30/31" must mean that day or the last day of a shorter month,
computed afresh each month (Jan 31, Feb 29, Mar 31, Apr 30), never drifting and never skipping.
In standard terms that is ``BYMONTHDAY=28,29,30,31;BYSETPOS=-1``, which is what
``Recurrence.monthly(31)`` stores, so ``str()`` is a portable RRULE. A bare ``FREQ=MONTHLY`` rule
(``Recurrence.every(n, "months")``) means "on the anchor's day of the month" and is clamped the
same way; plain RFC readers would instead skip months lacking that day, and ``str()`` cannot fix
that because it does not know the anchor. So ``to_rrule(anchor)`` returns the explicit,
standards-equivalent rule for a given anchor (``BYMONTHDAY=d`` for d <= 28, else the BYSETPOS
form; weekly rules gain ``BYDAY=<anchor weekday>``); use it when exporting calendars.

``str(rule)`` is the canonical text (see ``rule_text``); ``parse(str(rule)) == rule`` always holds.

Limits (``ValueError`` beyond them): INTERVAL 1..366 days, 1..52 weeks, 1..24 months;
COUNT 1..1000; BYDAY positions 1..5 / -5..-1, monthly only, and not mixed with plain weekdays
in one list (RFC and dateutil disagree on BYDAY=MO,1MO); BYMONTHDAY and BYSETPOS monthly
only; BYSETPOS needs BYDAY or BYMONTHDAY; WKST only MO; COUNT and UNTIL are exclusive.
BYMONTH, BYYEARDAY, BYWEEKNO and time-of-day parts are not supported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice

from dateutil.rrule import DAILY as RRULE_DAILY
from dateutil.rrule import MONTHLY as RRULE_MONTHLY
from dateutil.rrule import WEEKLY as RRULE_WEEKLY
from dateutil.rrule import MO, rrule
from dateutil.rrule import weekday as rrule_weekday

from portal.autoship.rule_text import (
    DAILY,
    FREQUENCIES,
    MAX_COUNT,
    MAX_INTERVAL,
    MONTHLY,
    WEEKLY,
    ByDay,
    checked_by_day,
    frequency_error,
    interval_error,
    is_whole,
    position_number,
    read_rule,
    sorted_signed,
    unit_frequency,
    weekday_number,
    write_rule,
)
from portal.autoship.rule_words import describe_rule

__all__ = ["ByDay", "Recurrence"]

# How many consecutive periods show every kind of period a rule can meet: a daily rule's days
# differ only by weekday; every week holds each weekday; the Gregorian calendar, weekdays
# included, repeats every 400 years (4800 months).
CYCLE_PERIODS = {DAILY: 7, WEEKLY: 1, MONTHLY: 4800}
LEADING_DATES = 8
_DATEUTIL_FREQ = {DAILY: RRULE_DAILY, WEEKLY: RRULE_WEEKLY, MONTHLY: RRULE_MONTHLY}


@dataclass(frozen=True, repr=False)
class Recurrence:
    """An immutable RRULE without its anchor; see the module docstring for the semantics."""

    freq: str
    interval: int = 1
    by_day: tuple[ByDay, ...] = ()
    by_month_day: tuple[int, ...] = ()
    by_set_pos: tuple[int, ...] = ()
    count: int | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        freq = self.freq.strip().upper() if isinstance(self.freq, str) else self.freq
        if freq not in FREQUENCIES:
            raise ValueError(frequency_error(freq))
        if not is_whole(self.interval) or not 1 <= self.interval <= MAX_INTERVAL[freq]:
            raise ValueError(interval_error(freq))
        by_day = tuple(sorted({checked_by_day(item, freq) for item in self.by_day}))
        if len({nth == 0 for _, nth in by_day}) > 1:
            # RFC 5545 reads such a list as "any of", dateutil as "all of": calendars would disagree.
            raise ValueError("BYDAY cannot mix plain weekdays (MO) with positioned ones (2TU) in one rule")
        if self.by_month_day and freq != MONTHLY:
            raise ValueError("BYMONTHDAY is only allowed on monthly rules")
        by_month_day = sorted_signed(self.by_month_day, "BYMONTHDAY values", 31)
        if self.by_set_pos:
            if freq != MONTHLY:
                raise ValueError("BYSETPOS is only supported on monthly rules")
            if not by_day and not by_month_day:
                raise ValueError("BYSETPOS needs BYDAY or BYMONTHDAY to choose from")
        by_set_pos = sorted_signed(self.by_set_pos, "BYSETPOS values", 31)
        if self.count is not None and (not is_whole(self.count) or not 1 <= self.count <= MAX_COUNT):
            raise ValueError(f"COUNT must be a whole number between 1 and {MAX_COUNT}")
        until = self.until.date() if isinstance(self.until, datetime) else self.until
        if until is not None and not isinstance(until, date):
            raise ValueError("UNTIL must be a date")
        if self.count is not None and until is not None:
            raise ValueError("A rule cannot have both COUNT and UNTIL; use one or the other")
        for name, value in (("freq", freq), ("by_day", by_day), ("by_month_day", by_month_day),
                            ("by_set_pos", by_set_pos), ("until", until)):
            object.__setattr__(self, name, value)

    # ----------------------------------------------------------------- construction

    @classmethod
    def parse(cls, text: str) -> Recurrence:
        """Parse an RRULE such as ``RRULE:FREQ=MONTHLY;BYDAY=2TU``; raise ``ValueError`` if invalid."""
        return cls(*read_rule(text))

    @classmethod
    def every(cls, n: int, unit: str) -> Recurrence:
        """Every ``n`` days, weeks or months; weekly/monthly fall on the anchor's weekday/day."""
        return cls(unit_frequency(unit), n)

    @classmethod
    def weekly(cls, *weekdays: int | str, interval: int = 1) -> Recurrence:
        """Every ``interval`` weeks on the given weekdays (the anchor's weekday if none given)."""
        return cls(WEEKLY, interval, tuple(ByDay(weekday_number(day)) for day in weekdays))

    @classmethod
    def monthly(cls, day: int, interval: int = 1) -> Recurrence:
        """Monthly on ``day`` (1..31, or -1 for the last day); 29..31 fall back to the month's end."""
        if not is_whole(day) or not (1 <= day <= 31 or day == -1):
            raise ValueError("The day of the month must be between 1 and 31, or -1 for the last day")
        if day > 28:
            return cls(MONTHLY, interval, by_month_day=tuple(range(28, day + 1)), by_set_pos=(-1,))
        return cls(MONTHLY, interval, by_month_day=(day,))

    @classmethod
    def monthly_weekday(cls, nth: int | str, weekday: int | str, interval: int = 1) -> Recurrence:
        """Monthly on the ``nth`` (1..5, -1 = last, or 'first'..'fifth'/'last') given weekday."""
        nth = position_number(nth)
        if not is_whole(nth) or nth == 0:
            raise ValueError("The position must be between 1 and 5, or -1 to -5 counting from the end")
        return cls(MONTHLY, interval, by_day=(ByDay(weekday_number(weekday), nth),))

    def with_interval(self, n: int) -> Recurrence:
        return replace(self, interval=n)

    # ----------------------------------------------------------------- text

    def __str__(self) -> str:
        return write_rule(*self._fields())

    def __repr__(self) -> str:
        return f"Recurrence.parse({str(self)!r})"

    def to_rrule(self, anchor: date) -> str:
        """The explicit RRULE that any RFC 5545 reader expands to the same dates from ``anchor``."""
        return str(self._explicit(_as_date(anchor, "anchor")))

    def describe(self, anchor: date | None = None) -> str:
        """Plain English, e.g. 'Every 2 months on the 2nd Tuesday'; ``anchor`` fills in implicit days."""
        rule = self._explicit(_as_date(anchor, "anchor")) if anchor is not None else self
        return describe_rule(*rule._fields())

    def _fields(self) -> tuple:
        return (self.freq, self.interval, self.by_day, self.by_month_day, self.by_set_pos, self.count, self.until)

    # ----------------------------------------------------------------- dates

    def next_dates(self, anchor: date, after: date, count: int, exdates: Iterable[date] = ()) -> list[date]:
        """The next ``count`` occurrences strictly after ``after``, minus ``exdates``; fewer if the series ends."""
        anchor, after = _as_date(anchor, "anchor"), _as_date(after, "after")
        if not is_whole(count) or count < 0:
            raise ValueError("count must be a whole number of dates, 0 or more")
        skipped = {_as_date(day, "exdate") for day in exdates}
        if count == 0 or after >= date.max:
            return []
        found: list[date] = []
        for day in self._occurrences(anchor, after + timedelta(days=1)):
            if day not in skipped:
                found.append(day)
                if len(found) == count:
                    break
        return found

    def occurs_on(self, anchor: date, day: date, exdates: Iterable[date] = ()) -> bool:
        anchor, day = _as_date(anchor, "anchor"), _as_date(day, "day")
        if day < anchor or day in {_as_date(d, "exdate") for d in exdates}:
            return False
        return next(self._occurrences(anchor, day), None) == day

    def next_after_ship(self, shipped_on: date) -> date:
        """For a rolling schedule: the first date of this rule re-anchored at ``shipped_on``, after it.

        For "every n days/weeks/months" that is exactly one interval later (month-end clamped).
        COUNT and UNTIL are ignored: they bound the original series, not the re-anchored one.
        """
        shipped_on = _as_date(shipped_on, "shipped_on")
        open_ended = self if self.count is None and self.until is None else replace(self, count=None, until=None)
        following = open_ended.next_dates(shipped_on, shipped_on, 1)
        if not following:
            raise ValueError(f"'{self.describe()}' has no date after {shipped_on.isoformat()}")
        return following[0]

    def _explicit(self, anchor: date) -> Recurrence:
        return _explicit_rule(self, anchor.weekday(), anchor.day)

    def _occurrences(self, anchor: date, start: date) -> Iterator[date]:
        """Every occurrence on or after ``start``, honouring COUNT and UNTIL but not exdates."""
        explicit = self._explicit(anchor)
        if not _ever_matches(explicit, self._last_cycle_start(anchor)):
            return
        # COUNT is measured from the anchor, so only an open-ended rule may jump ahead.
        first = anchor
        if self.count is None:
            first = max(anchor, self._period_start(anchor, self._period_index(anchor, start)) or anchor)
        leading = _leading_dates(explicit, first)
        yield from (day for day in leading if day >= start)
        if len(leading) < LEADING_DATES:
            return  # the series ended within them
        if start <= leading[-1]:
            rest = _series(explicit, first).xafter(datetime.combine(leading[-1], time.min))
        else:
            rest = _series(explicit, first).xafter(datetime.combine(start, time.min), inc=True)
        for moment in rest:
            yield moment.date()

    def _last_cycle_start(self, anchor: date) -> date:
        """Where the last whole cycle of this rule's periods before the end of the calendar starts."""
        last_period = self._period_index(anchor, date.max)
        return max(anchor, self._period_start(anchor, max(0, last_period - CYCLE_PERIODS[self.freq])) or anchor)

    def _period_index(self, anchor: date, day: date) -> int:
        """Index of the period (counted from the anchor's) that contains ``day``, or 0 before it."""
        if day <= anchor:
            return 0
        if self.freq == DAILY:
            return (day - anchor).days // self.interval
        if self.freq == WEEKLY:
            return (day - _monday_of(anchor)).days // (7 * self.interval)
        return (_month_index(day) - _month_index(anchor)) // self.interval

    def _period_start(self, anchor: date, index: int) -> date | None:
        """First day of period ``index`` (a day, a Monday or a 1st); None past the end of the calendar."""
        try:
            if self.freq == DAILY:
                return anchor + timedelta(days=index * self.interval)
            if self.freq == WEEKLY:
                return _monday_of(anchor) + timedelta(weeks=index * self.interval)
        except OverflowError:
            return None
        year, month0 = divmod(_month_index(anchor) + index * self.interval, 12)
        return date(year, month0 + 1, 1) if year <= date.max.year else None


# The series' plumbing below is cached: the engine, previews and forecasts ask the same few
# rules from the same period starts over and over, and building a dateutil series and walking
# it to its first dates costs more than everything else in answering.

@lru_cache(maxsize=4096)
def _explicit_rule(rule: Recurrence, weekday: int, day: int) -> Recurrence:
    """The rule with the anchor's implicit weekday or day of the month written out."""
    if rule.freq == WEEKLY and not rule.by_day:
        return replace(rule, by_day=(ByDay(weekday),))
    if rule.freq == MONTHLY and not rule.by_day and not rule.by_month_day:
        if day <= 28:
            return replace(rule, by_month_day=(day,))
        return replace(rule, by_month_day=tuple(range(28, day + 1)), by_set_pos=(-1,))
    return rule


@lru_cache(maxsize=1024)
def _series(explicit: Recurrence, first: date) -> rrule:
    """The dateutil series of an explicit rule from ``first``, a period start or the anchor."""
    return rrule(_DATEUTIL_FREQ[explicit.freq], dtstart=datetime.combine(first, time.min),
                 interval=explicit.interval, wkst=MO,
                 byweekday=[rrule_weekday(b.weekday, b.nth or None) for b in explicit.by_day] or None,
                 bymonthday=explicit.by_month_day or None, bysetpos=explicit.by_set_pos or None,
                 count=explicit.count,
                 until=datetime.combine(explicit.until, time.min) if explicit.until else None)


@lru_cache(maxsize=16384)
def _leading_dates(explicit: Recurrence, first: date) -> tuple[date, ...]:
    """The series' first dates from ``first``: enough for the next run and a preview."""
    return tuple(moment.date() for moment in islice(_series(explicit, first), LEADING_DATES))


@lru_cache(maxsize=1024)
def _ever_matches(explicit: Recurrence, cycle_start: date) -> bool:
    """Whether the rule, without COUNT or UNTIL, has any date at all.

    dateutil walks period after period looking for a match and only stops at the end of the
    calendar, so a rule that never matches (day 30 that is also the first Monday) would walk
    thousands of years on every question. The calendar repeats, so the last cycle of periods
    before the end of it holds every kind of period the rule visits: a rule with no date there
    has none anywhere, and asking there is a short walk.
    """
    open_ended = replace(explicit, count=None, until=None)
    return next(iter(_series(open_ended, cycle_start)), None) is not None


# --------------------------------------------------------------------- helpers


def _as_date(value: object, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise TypeError(f"{name} must be a date, not {type(value).__name__}")
    return value


def _monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1
