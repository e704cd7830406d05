"""The text of a recurrence rule: its vocabulary, reading an RRULE into fields, writing it back.

``Recurrence`` (``portal.autoship.recurrence``) is the rule as a value; this module knows only
the words and values a rule is made of, and takes and returns plain values (the frequency, the
interval, the BYDAY entries, ...), so it never needs the ``Recurrence`` class itself.

Canonical text: ``FREQ;INTERVAL;BYDAY;BYMONTHDAY;BYSETPOS;COUNT|UNTIL``, INTERVAL always present,
list values sorted and de-duplicated, UNTIL as ``YYYYMMDD``, no ``RRULE:`` prefix and no WKST.
``Recurrence.parse(str(rule)) == rule`` always holds.

Reading is lenient where it costs nothing (an ``RRULE:`` prefix, lower case, a trailing or
doubled ``;``, a time part on UNTIL) and strict where a reader could be misled: an unknown,
unsupported or repeated part is refused with a message saying which.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

DAILY, WEEKLY, MONTHLY = "DAILY", "WEEKLY", "MONTHLY"
FREQUENCIES = (DAILY, WEEKLY, MONTHLY)
MAX_INTERVAL = {DAILY: 366, WEEKLY: 52, MONTHLY: 24}
MAX_COUNT = 1000
UNIT_NAMES = {DAILY: "day", WEEKLY: "week", MONTHLY: "month"}
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}

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


class RuleFields(NamedTuple):
    """A rule's fields as read from its text, in the order ``Recurrence`` takes them."""

    freq: str
    interval: int
    by_day: tuple[ByDay, ...]
    by_month_day: tuple[int, ...]
    by_set_pos: tuple[int, ...]
    count: int | None
    until: date | None


# --------------------------------------------------------------------- reading and writing


def read_rule(text: str) -> RuleFields:
    """The fields of an RRULE such as ``RRULE:FREQ=MONTHLY;BYDAY=2TU``; ``ValueError`` if unreadable.

    Only the text is checked here; the limits on the values are the rule's own (``Recurrence``).
    """
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
            raise ValueError(f"{show(part)} is not a NAME=VALUE rule part")
        if key in _UNSUPPORTED_PARTS:
            raise ValueError(f"{key} is not supported in standing order schedules")
        if key not in _SUPPORTED_PARTS:
            raise ValueError(f"{show(key)} is not a recognised rule part")
        if key in parts:
            raise ValueError(f"{key} appears more than once in the rule")
        parts[key] = value
    if "FREQ" not in parts:
        raise ValueError("The rule needs a FREQ (DAILY, WEEKLY or MONTHLY)")
    freq = parts["FREQ"]
    if freq not in FREQUENCIES:
        raise ValueError(frequency_error(freq))
    if parts.get("WKST", "MO") != "MO":
        raise ValueError("Only WKST=MO (weeks starting on Monday) is supported")
    interval = _parse_int(parts.get("INTERVAL", "1"), interval_error(freq))
    by_day = tuple(_parse_by_day(item) for item in _split_list("BYDAY", parts.get("BYDAY")))
    by_month_day = tuple(_parse_int(item, "BYMONTHDAY values must be whole numbers")
                         for item in _split_list("BYMONTHDAY", parts.get("BYMONTHDAY")))
    by_set_pos = tuple(_parse_int(item, "BYSETPOS values must be whole numbers")
                       for item in _split_list("BYSETPOS", parts.get("BYSETPOS")))
    count = None
    if "COUNT" in parts:
        count = _parse_int(parts["COUNT"], f"COUNT must be a whole number between 1 and {MAX_COUNT}")
    until = _parse_until(parts["UNTIL"]) if "UNTIL" in parts else None
    return RuleFields(freq, interval, by_day, by_month_day, by_set_pos, count, until)


def write_rule(freq: str, interval: int, by_day: tuple[ByDay, ...], by_month_day: tuple[int, ...],
               by_set_pos: tuple[int, ...], count: int | None, until: date | None) -> str:
    """The canonical text of a rule whose fields are already checked, sorted and de-duplicated."""
    parts = [f"FREQ={freq}", f"INTERVAL={interval}"]
    if by_day:
        parts.append("BYDAY=" + ",".join(map(str, by_day)))
    if by_month_day:
        parts.append("BYMONTHDAY=" + ",".join(map(str, by_month_day)))
    if by_set_pos:
        parts.append("BYSETPOS=" + ",".join(map(str, by_set_pos)))
    if count is not None:
        parts.append(f"COUNT={count}")
    if until is not None:
        parts.append(f"UNTIL={until.year:04d}{until.month:02d}{until.day:02d}")
    return ";".join(parts)


# --------------------------------------------------------------------- field checks


def is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def show(value: object) -> str:
    """A value quoted for an error message, cut short so a pasted essay stays readable."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def frequency_error(freq: object) -> str:
    return f"Only DAILY, WEEKLY and MONTHLY rules are supported (got FREQ={show(freq)})"


def interval_error(freq: str) -> str:
    return (f"INTERVAL must be a whole number between 1 and {MAX_INTERVAL[freq]} "
            f"for {freq.lower()} rules")


def checked_by_day(item: object, freq: str) -> ByDay:
    """A BYDAY entry given as a pair (weekday, position), checked for a rule of ``freq``."""
    try:
        weekday, nth = ByDay(*item)  # type: ignore[misc]
    except TypeError:
        raise ValueError(f"{show(item)} is not a BYDAY entry") from None
    if not is_whole(weekday) or not 0 <= weekday <= 6 or not is_whole(nth):
        raise ValueError(f"{show(item)} is not a BYDAY entry")
    if nth and freq != MONTHLY:
        raise ValueError("BYDAY positions such as 2TU or -1FR are only allowed on monthly rules")
    if not -5 <= nth <= 5:
        raise ValueError(f"BYDAY positions must be between 1 and 5 or -5 and -1 (got {ByDay(weekday, nth)})")
    return ByDay(weekday, nth)


def sorted_signed(values: Iterable[int], what: str, limit: int) -> tuple[int, ...]:
    """Values in 1..limit or -limit..-1, de-duplicated, positives first (as the canonical text lists them)."""
    values = tuple(values)
    for value in values:
        if not is_whole(value) or not 1 <= abs(value) <= limit:
            raise ValueError(f"{what} must be between 1 and {limit} or -{limit} and -1 (got {show(value)})")
    return tuple(sorted(set(values), key=lambda v: (v < 0, v)))


def weekday_number(value: int | str) -> int:
    """0..6 (Monday = 0) from a number, a code or a name, e.g. 'TU', 'tue' or 'Tuesday'."""
    if is_whole(value) and 0 <= value <= 6:  # type: ignore[operator]
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        word = value.strip().lower()
        matches = [i for i, name in enumerate(WEEKDAY_NAMES) if len(word) >= 2 and name.lower().startswith(word)]
        if len(matches) == 1:
            return matches[0]
    raise ValueError(f"{show(value)} is not a weekday; use e.g. 'TU', 'tuesday' or 0-6 with Monday = 0")


def unit_frequency(unit: str) -> str:
    """DAILY, WEEKLY or MONTHLY from 'day(s)', 'week(s)' or 'month(s)'."""
    normalized = unit.strip().lower() if isinstance(unit, str) else ""
    for freq, name in UNIT_NAMES.items():
        if normalized in (name, name + "s"):
            return freq
    raise ValueError(f"Unit must be 'days', 'weeks' or 'months' (got {show(unit)})")


def position_number(nth: int | str) -> int:
    """A BYDAY position from a number or a word ('first'..'fifth', 'last'); not checked for range."""
    if isinstance(nth, str):
        if nth.strip().lower() not in ORDINAL_WORDS:
            raise ValueError(f"The position must be first..fifth or last (got {show(nth)})")
        nth = ORDINAL_WORDS[nth.strip().lower()]
    return nth


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
        raise ValueError(f"{show(item)} is not a BYDAY value; use MO..SU, optionally with a position like 2TU or -1FR")
    position = int(match[1]) if match[1] else None
    if position == 0:
        raise ValueError(f"BYDAY positions must be between 1 and 5 or -5 and -1 (got {show(item)})")
    return ByDay(WEEKDAY_CODES.index(match[2]), position or 0)


def _parse_until(text: str) -> date:
    match = _UNTIL.fullmatch(text)
    error = f"UNTIL must be a date written as YYYYMMDD or YYYYMMDDTHHMMSSZ (got {show(text)})"
    if not match:
        raise ValueError(error)
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(error)
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(error) from None
