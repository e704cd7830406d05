"""Recurrence rules for standing orders: a subset of RFC 5545 RRULE anchored at a date.

A ``Recurrence`` is the rule alone; the anchor date (the series' DTSTART) is passed to every
method that computes dates. Dates are ``datetime.date`` values; there is no time of day.

This module parses, validates, describes and exports rules; the dates themselves come from
``dateutil.rrule``, given the explicit form of the rule for its anchor (see below). Semantics
(RFC 5545, as ``dateutil.rrule`` expands it):

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

Canonical text: ``FREQ;INTERVAL;BYDAY;BYMONTHDAY;BYSETPOS;COUNT|UNTIL``, INTERVAL always present,
list values sorted and de-duplicated, UNTIL as ``YYYYMMDD``, no ``RRULE:`` prefix and no WKST.
``parse(str(rule)) == rule`` always holds.

Limits (``ValueError`` beyond them): INTERVAL 1..366 days, 1..52 weeks, 1..24 months;
COUNT 1..1000; BYDAY positions 1..5 / -5..-1, monthly only, and not mixed with plain weekdays
in one list (RFC and dateutil disagree on BYDAY=MO,1MO); BYMONTHDAY and BYSETPOS monthly
only; BYSETPOS needs BYDAY or BYMONTHDAY; WKST only MO; COUNT and UNTIL are exclusive.
BYMONTH, BYYEARDAY, BYWEEKNO and time-of-day parts are not supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice
from typing import NamedTuple

from dateutil.rrule import DAILY as RRULE_DAILY
from dateutil.rrule import MONTHLY as RRULE_MONTHLY
from dateutil.rrule import WEEKLY as RRULE_WEEKLY
from dateutil.rrule import MO, rrule
from dateutil.rrule import weekday as rrule_weekday

__all__ = ["ByDay", "Recurrence"]

DAILY, WEEKLY, MONTHLY = "DAILY", "WEEKLY", "MONTHLY"
FREQUENCIES = (DAILY, WEEKLY, MONTHLY)
MAX_INTERVAL = {DAILY: 366, WEEKLY: 52, MONTHLY: 24}
MAX_COUNT = 1000
UNIT_NAMES = {DAILY: "day", WEEKLY: "week", MONTHLY: "month"}
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July",
               "August", "September", "October", "November", "December")
ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
# How many consecutive periods show every kind of period a rule can meet: a daily rule's days
# differ only by weekday; every week holds each weekday; the Gregorian calendar, weekdays
# included, repeats every 400 years (4800 months).
CYCLE_PERIODS = {DAILY: 7, WEEKLY: 1, MONTHLY: 4800}
LEADING_DATES = 8
_DATEUTIL_FREQ = {DAILY: RRULE_DAILY, WEEKLY: RRULE_WEEKLY, MONTHLY: RRULE_MONTHLY}

_SUPPORTED_PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "COUNT", "UNTIL", "WKST")
_UNSUPPORTED_PARTS = ("BYMONTH", "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND")
_INTEGER = re.compile(r"[+-]?[0-9]{1,6}")
_BYDAY_ITEM = re.compile(r"([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})(?:T([0-9]{2})([0-9]{2})([0-9]{2})Z?)?")


class ByDay(NamedTuple):
    """One BYDAY entry: a weekday (0 = Monday) and an optional position in the month."""

    weekday: int
    nth: int = 0  # 0 = every such weekday in the period, 2 = the second, -1 = the last

    def __str__(self) -> str:
        return f"{self.nth or ''}{WEEKDAY_CODES[self.weekday]}"


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
            raise ValueError(f"Only DAILY, WEEKLY and MONTHLY rules are supported (got FREQ={_show(freq)})")
        if not _is_whole(self.interval) or not 1 <= self.interval <= MAX_INTERVAL[freq]:
            raise ValueError(_interval_error(freq))
        by_day = tuple(sorted({_checked_by_day(item, freq) for item in self.by_day}))
        if len({nth == 0 for _, nth in by_day}) > 1:
            # RFC 5545 reads such a list as "any of", dateutil as "all of": calendars would disagree.
            raise ValueError("BYDAY cannot mix plain weekdays (MO) with positioned ones (2TU) in one rule")
        if self.by_month_day and freq != MONTHLY:
            raise ValueError("BYMONTHDAY is only allowed on monthly rules")
        by_month_day = _sorted_signed(self.by_month_day, "BYMONTHDAY values", 31)
        if self.by_set_pos:
            if freq != MONTHLY:
                raise ValueError("BYSETPOS is only supported on monthly rules")
            if not by_day and not by_month_day:
                raise ValueError("BYSETPOS needs BYDAY or BYMONTHDAY to choose from")
        by_set_pos = _sorted_signed(self.by_set_pos, "BYSETPOS values", 31)
        if self.count is not None and (not _is_whole(self.count) or not 1 <= self.count <= MAX_COUNT):
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
        if not isinstance(text, str):
            raise TypeError(f"A recurrence rule must be text, not {type(text).__name__}")
        body = text.strip()
        if body[:6].upper() == "RRULE:":
            body = body[6:].strip()
        if not body:
            raise ValueError("The recurrence rule is empty")
        parts: dict[str, str] = {}
        for raw_part in body.split(";"):
            part = raw_part.strip()
            if not part:
                continue  # tolerate a trailing or doubled ';'
            key, equals, value = part.partition("=")
            key, value = key.strip().upper(), value.strip().upper()
            if not equals or not key:
                raise ValueError(f"{_show(part)} is not a NAME=VALUE rule part")
            if key in _UNSUPPORTED_PARTS:
                raise ValueError(f"{key} is not supported in standing order schedules")
            if key not in _SUPPORTED_PARTS:
                raise ValueError(f"{_show(key)} is not a recognised rule part")
            if key in parts:
                raise ValueError(f"{key} appears more than once in the rule")
            parts[key] = value
        if "FREQ" not in parts:
            raise ValueError("The rule needs a FREQ (DAILY, WEEKLY or MONTHLY)")
        freq = parts["FREQ"]
        if freq not in FREQUENCIES:
            raise ValueError(f"Only DAILY, WEEKLY and MONTHLY rules are supported (got FREQ={_show(freq)})")
        if parts.get("WKST", "MO") != "MO":
            raise ValueError("Only WKST=MO (weeks starting on Monday) is supported")
        interval = _parse_int(parts.get("INTERVAL", "1"), _interval_error(freq))
        by_day = tuple(_parse_by_day(item) for item in _split_list("BYDAY", parts.get("BYDAY")))
        by_month_day = tuple(_parse_int(item, "BYMONTHDAY values must be whole numbers")
                             for item in _split_list("BYMONTHDAY", parts.get("BYMONTHDAY")))
        by_set_pos = tuple(_parse_int(item, "BYSETPOS values must be whole numbers")
                           for item in _split_list("BYSETPOS", parts.get("BYSETPOS")))
        count = None
        if "COUNT" in parts:
            count = _parse_int(parts["COUNT"], f"COUNT must be a whole number between 1 and {MAX_COUNT}")
        until = _parse_until(parts["UNTIL"]) if "UNTIL" in parts else None
        return cls(freq, interval, by_day, by_month_day, by_set_pos, count, until)

    @classmethod
    def every(cls, n: int, unit: str) -> Recurrence:
        """Every ``n`` days, weeks or months; weekly/monthly fall on the anchor's weekday/day."""
        normalized = unit.strip().lower() if isinstance(unit, str) else ""
        for freq, name in UNIT_NAMES.items():
            if normalized in (name, name + "s"):
                return cls(freq, n)
        raise ValueError(f"Unit must be 'days', 'weeks' or 'months' (got {_show(unit)})")

    @classmethod
    def weekly(cls, *weekdays: int | str, interval: int = 1) -> Recurrence:
        """Every ``interval`` weeks on the given weekdays (the anchor's weekday if none given)."""
        return cls(WEEKLY, interval, tuple(ByDay(_weekday_number(day)) for day in weekdays))

    @classmethod
    def monthly(cls, day: int, interval: int = 1) -> Recurrence:
        """Monthly on ``day`` (1..31, or -1 for the last day); 29..31 fall back to the month's end."""
        if not _is_whole(day) or not (1 <= day <= 31 or day == -1):
            raise ValueError("The day of the month must be between 1 and 31, or -1 for the last day")
        if day > 28:
            return cls(MONTHLY, interval, by_month_day=tuple(range(28, day + 1)), by_set_pos=(-1,))
        return cls(MONTHLY, interval, by_month_day=(day,))

    @classmethod
    def monthly_weekday(cls, nth: int | str, weekday: int | str, interval: int = 1) -> Recurrence:
        """Monthly on the ``nth`` (1..5, -1 = last, or 'first'..'fifth'/'last') given weekday."""
        if isinstance(nth, str):
            if nth.strip().lower() not in ORDINAL_WORDS:
                raise ValueError(f"The position must be first..fifth or last (got {_show(nth)})")
            nth = ORDINAL_WORDS[nth.strip().lower()]
        if not _is_whole(nth) or nth == 0:
            raise ValueError("The position must be between 1 and 5, or -1 to -5 counting from the end")
        return cls(MONTHLY, interval, by_day=(ByDay(_weekday_number(weekday), nth),))

    def with_interval(self, n: int) -> Recurrence:
        return replace(self, interval=n)

    # ----------------------------------------------------------------- text

    def __str__(self) -> str:
        parts = [f"FREQ={self.freq}", f"INTERVAL={self.interval}"]
        if self.by_day:
            parts.append("BYDAY=" + ",".join(map(str, self.by_day)))
        if self.by_month_day:
            parts.append("BYMONTHDAY=" + ",".join(map(str, self.by_month_day)))
        if self.by_set_pos:
            parts.append("BYSETPOS=" + ",".join(map(str, self.by_set_pos)))
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            parts.append(f"UNTIL={self.until.year:04d}{self.until.month:02d}{self.until.day:02d}")
        return ";".join(parts)

    def __repr__(self) -> str:
        return f"Recurrence.parse({str(self)!r})"

    def to_rrule(self, anchor: date) -> str:
        """The explicit RRULE that any RFC 5545 reader expands to the same dates from ``anchor``."""
        return str(self._explicit(_as_date(anchor, "anchor")))

    def describe(self, anchor: date | None = None) -> str:
        """Plain English, e.g. 'Every 2 months on the 2nd Tuesday'; ``anchor`` fills in implicit days."""
        rule = self._explicit(_as_date(anchor, "anchor")) if anchor is not None else self
        n, unit = rule.interval, UNIT_NAMES[rule.freq]
        text = ("Daily", "Weekly", "Monthly")[FREQUENCIES.index(rule.freq)] if n == 1 else f"Every {n} {unit}s"
        if rule.freq == DAILY and rule.by_day:
            text += ", only on " + _weekday_list(rule.by_day, "and")
        elif rule.freq == WEEKLY and rule.by_day:
            text += " on " + _weekday_list(rule.by_day, "and")
        elif rule.freq == MONTHLY:
            text += " " + rule._month_pattern()
        if rule.count is not None:
            text += ", once" if rule.count == 1 else f", {rule.count} times"
        if rule.until is not None:
            text += f", until {rule.until.day} {MONTH_NAMES[rule.until.month - 1]} {rule.until.year}"
        return text

    def _month_pattern(self) -> str:
        if not self.by_day and not self.by_month_day:
            return "on the same day of the month"
        if self._is_month_end_fallback():
            return f"on day {self.by_month_day[-1]} (or the last day of shorter months)"
        if self.by_set_pos:
            positions = _join([_position_word(p) for p in self.by_set_pos], "and")
            return f"on the {positions} {_candidate_noun(self.by_day, self.by_month_day)}"
        if self.by_day and self.by_month_day:
            return f"on {_month_days_phrase(self.by_month_day)} when it is {_by_day_phrase(self.by_day, 'a')}"
        if self.by_month_day:
            note = " (skipped in months without it)" if any(abs(d) > 28 for d in self.by_month_day) else ""
            return f"on {_month_days_phrase(self.by_month_day)}{note}"
        return "on " + _by_day_phrase(self.by_day, "every")

    def _is_month_end_fallback(self) -> bool:
        """True for ``BYMONTHDAY=28,...,d;BYSETPOS=-1``: day d, or the last day of shorter months."""
        days = self.by_month_day
        return (not self.by_day and self.by_set_pos == (-1,) and len(days) > 1
                and days == tuple(range(28, days[-1] + 1)))

    # ----------------------------------------------------------------- dates

    def next_dates(self, anchor: date, after: date, count: int, exdates: Iterable[date] = ()) -> list[date]:
        """The next ``count`` occurrences strictly after ``after``, minus ``exdates``; fewer if the series ends."""
        anchor, after = _as_date(anchor, "anchor"), _as_date(after, "after")
        if not _is_whole(count) or count < 0:
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


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _interval_error(freq: str) -> str:
    return (f"INTERVAL must be a whole number between 1 and {MAX_INTERVAL[freq]} "
            f"for {freq.lower()} rules")


def _parse_int(text: str, error: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(error)
    return int(text)


def _split_list(name: str, value: str | None) -> list[str]:
    if value is None:
        return []
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise ValueError(f"{name} has an empty value; list values separated by commas, e.g. {name}=1,15")
    return items


def _parse_by_day(item: str) -> ByDay:
    match = _BYDAY_ITEM.fullmatch(item)
    if not match:
        raise ValueError(f"{_show(item)} is not a BYDAY value; use MO..SU, optionally with a position like 2TU or -1FR")
    position = int(match[1]) if match[1] else None
    if position == 0:
        raise ValueError(f"BYDAY positions must be between 1 and 5 or -5 and -1 (got {_show(item)})")
    return ByDay(WEEKDAY_CODES.index(match[2]), position or 0)


def _parse_until(text: str) -> date:
    match = _UNTIL.fullmatch(text)
    error = f"UNTIL must be a date written as YYYYMMDD or YYYYMMDDTHHMMSSZ (got {_show(text)})"
    if not match:
        raise ValueError(error)
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(error)
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(error) from None


def _checked_by_day(item: object, freq: str) -> ByDay:
    try:
        weekday, nth = ByDay(*item)  # type: ignore[misc]
    except TypeError:
        raise ValueError(f"{_show(item)} is not a BYDAY entry") from None
    if not _is_whole(weekday) or not 0 <= weekday <= 6 or not _is_whole(nth):
        raise ValueError(f"{_show(item)} is not a BYDAY entry")
    if nth and freq != MONTHLY:
        raise ValueError("BYDAY positions such as 2TU or -1FR are only allowed on monthly rules")
    if not -5 <= nth <= 5:
        raise ValueError(f"BYDAY positions must be between 1 and 5 or -5 and -1 (got {ByDay(weekday, nth)})")
    return ByDay(weekday, nth)


def _sorted_signed(values: Iterable[int], what: str, limit: int) -> tuple[int, ...]:
    values = tuple(values)
    for value in values:
        if not _is_whole(value) or not 1 <= abs(value) <= limit:
            raise ValueError(f"{what} must be between 1 and {limit} or -{limit} and -1 (got {_show(value)})")
    return tuple(sorted(set(values), key=lambda v: (v < 0, v)))


def _weekday_number(value: int | str) -> int:
    if _is_whole(value) and 0 <= value <= 6:  # type: ignore[operator]
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        word = value.strip().lower()
        matches = [i for i, name in enumerate(WEEKDAY_NAMES) if len(word) >= 2 and name.lower().startswith(word)]
        if len(matches) == 1:
            return matches[0]
    raise ValueError(f"{_show(value)} is not a weekday; use e.g. 'TU', 'tuesday' or 0-6 with Monday = 0")


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


def _join(words: list[str], conjunction: str) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {conjunction} {words[-1]}"


def _position_word(n: int) -> str:
    if n < 0:
        return "last" if n == -1 else f"{_position_word(-n)}-to-last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _weekday_list(by_day: tuple[ByDay, ...], conjunction: str) -> str:
    weekdays = sorted({b.weekday for b in by_day})
    if weekdays == [0, 1, 2, 3, 4]:
        return "weekdays"
    if weekdays == [5, 6]:
        return "weekends"
    return _join([WEEKDAY_NAMES[w] for w in weekdays], conjunction)


def _by_day_phrase(by_day: tuple[ByDay, ...], plain_article: str) -> str:
    phrases = [f"{plain_article} {WEEKDAY_NAMES[w]}" if nth == 0 else f"the {_position_word(nth)} {WEEKDAY_NAMES[w]}"
               for w, nth in by_day]
    return _join(phrases, "or" if plain_article == "a" else "and")


def _month_days_phrase(month_days: tuple[int, ...]) -> str:
    if len(month_days) > 1 and all(d > 0 for d in month_days):
        return "days " + _join([str(d) for d in month_days], "and")
    return _join([f"day {d}" if d > 0 else f"the {_position_word(d)} day" for d in month_days], "and")


def _candidate_noun(by_day: tuple[ByDay, ...], month_days: tuple[int, ...]) -> str:
    """What BYSETPOS counts among, after 'the 2nd', e.g. 'weekday' or 'of days 1, 15 and 20'."""
    if by_day and not month_days and all(nth == 0 for _, nth in by_day):
        weekdays = {b.weekday for b in by_day}
        named = {frozenset(range(7)): "day", frozenset(range(5)): "weekday", frozenset({5, 6}): "weekend day"}
        return named.get(frozenset(weekdays)) or _join([WEEKDAY_NAMES[w] for w in sorted(weekdays)], "or")
    if month_days and not by_day:
        return "of " + _month_days_phrase(month_days)
    return "matching day"
