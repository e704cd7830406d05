"""A recurrence rule in plain English, e.g. 'Every 2 months on the 2nd Tuesday'.

``Recurrence.describe()`` hands its fields here (plain values, so this module never needs the
``Recurrence`` class). Members read this wording on their standing order's page and in its
history, so it names the rule the way a person would: 'weekdays' rather than five names, 'day 31
(or the last day of shorter months)' for the month-end form that ``Recurrence.monthly(31)`` stores.
"""

from __future__ import annotations

from datetime import date

from portal.autoship.rule_text import DAILY, FREQUENCIES, MONTHLY, UNIT_NAMES, WEEKDAY_NAMES, WEEKLY, ByDay

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July",
               "August", "September", "October", "November", "December")


def describe_rule(freq: str, interval: int, by_day: tuple[ByDay, ...], by_month_day: tuple[int, ...],
                  by_set_pos: tuple[int, ...], count: int | None, until: date | None) -> str:
    """The rule's fields in words; a monthly rule without days reads 'on the same day of the month'."""
    unit = UNIT_NAMES[freq]
    text = ("Daily", "Weekly", "Monthly")[FREQUENCIES.index(freq)] if interval == 1 else f"Every {interval} {unit}s"
    if freq == DAILY and by_day:
        text += ", only on " + _weekday_list(by_day, "and")
    elif freq == WEEKLY and by_day:
        text += " on " + _weekday_list(by_day, "and")
    elif freq == MONTHLY:
        text += " " + _month_pattern(by_day, by_month_day, by_set_pos)
    if count is not None:
        text += ", once" if count == 1 else f", {count} times"
    if until is not None:
        text += f", until {until.day} {MONTH_NAMES[until.month - 1]} {until.year}"
    return text


def _month_pattern(by_day: tuple[ByDay, ...], by_month_day: tuple[int, ...], by_set_pos: tuple[int, ...]) -> str:
    if not by_day and not by_month_day:
        return "on the same day of the month"
    if _is_month_end_fallback(by_day, by_month_day, by_set_pos):
        return f"on day {by_month_day[-1]} (or the last day of shorter months)"
    if by_set_pos:
        positions = _join([_position_word(p) for p in by_set_pos], "and")
        return f"on the {positions} {_candidate_noun(by_day, by_month_day)}"
    if by_day and by_month_day:
        return f"on {_month_days_phrase(by_month_day)} when it is {_by_day_phrase(by_day, 'a')}"
    if by_month_day:
        note = " (skipped in months without it)" if any(abs(d) > 28 for d in by_month_day) else ""
        return f"on {_month_days_phrase(by_month_day)}{note}"
    return "on " + _by_day_phrase(by_day, "every")


def _is_month_end_fallback(by_day: tuple[ByDay, ...], by_month_day: tuple[int, ...],
                           by_set_pos: tuple[int, ...]) -> bool:
    """True for ``BYMONTHDAY=28,...,d;BYSETPOS=-1``: day d, or the last day of shorter months."""
    return (not by_day and by_set_pos == (-1,) and len(by_month_day) > 1
            and by_month_day == tuple(range(28, by_month_day[-1] + 1)))


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
