"""When a standing order runs: a recurrence, its anchor, its regularity and its skips.

Pure arithmetic over plain values, shared by the profile screens and the engine.

* Calendar: the dates follow the rule from the anchor, whatever happened before.
* Rolling: the next date is one interval after the last order actually placed, so after a
  "ship now" or a late run the series restarts from that day.
Skipped dates are exceptions keyed by date; a skipped date never runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache

from portal import formatting
from portal.autoship.recurrence import Recurrence

CALENDAR, ROLLING = "calendar", "rolling"
MAX_SKIP_RUN = 200  # more consecutive skipped dates than this is not a schedule any more
# A rolling series restarts from whatever day an order is placed (a late run, a "ship now"),
# so its rule must have a date after every day of the year, whatever its weekday.
ROLLING_CHECK_DAYS = 366


class UnplannableSchedule(ValueError):
    """The schedule cannot give the next date: the rule has none after the date it counts from."""


def check_schedule(rule: Recurrence, anchor: date, regularity: str,
                   skips: Iterable[date] = ()) -> date:
    """The first date of a schedule about to be accepted; ``UnplannableSchedule`` with a
    sentence for the person if the schedule would leave the engine without a next date.

    The one check behind every form that accepts a schedule (new, change, preview, admin,
    seed): a rule with no date on or after its first date is refused, and so is a rolling rule
    that has no date after some day an order may be placed on (every 7 days but only on
    Mondays, counted from a Tuesday)."""
    if regularity not in (CALENDAR, ROLLING):
        raise UnplannableSchedule("Choose a calendar or a rolling schedule.")
    schedule = Schedule(rule, anchor, regularity, frozenset(skips))
    first = schedule.first_on_or_after(anchor)
    if first is None:
        raise UnplannableSchedule("That schedule has no date from the first date on.")
    if regularity == ROLLING:
        stuck = _rolling_dead_end(rule, anchor)
        if stuck is not None:
            raise UnplannableSchedule(
                f"A rolling schedule counts from the day each order is placed, and "
                f"“{rule.describe()}” has no date after {formatting.day(stuck, 'long')}. "
                "Choose a calendar schedule or another rule.")
    return first


@lru_cache(maxsize=1024)
def _rolling_dead_end(rule: Recurrence, anchor: date) -> date | None:
    """A day within a year from ``anchor`` after which the re-anchored rule has no date."""
    for offset in range(ROLLING_CHECK_DAYS):
        day = anchor + timedelta(days=offset)
        try:
            _after_ship(rule, day)
        except ValueError:
            return day
        except OverflowError:
            return None
    return None


@dataclass(frozen=True)
class Schedule:
    rule: Recurrence
    anchor: date
    regularity: str = CALENDAR
    skips: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, rrule: str, anchor: date, regularity: str, skips: Iterable[date] = ()) -> "Schedule":
        try:
            rule = Recurrence.parse(rrule)
        except ValueError as error:  # stored before the parser refused it
            raise UnplannableSchedule(f"the rule {rrule!r} is not understood any more: {error}") from error
        return cls(rule, anchor, regularity, frozenset(skips))

    def first_on_or_after(self, day: date) -> date | None:
        """The first date to run on ``day`` or later (a new profile's or a resumed one's)."""
        if self.regularity == ROLLING:
            return self._unskipped(max(day, self.anchor))
        found = self.rule.next_dates(self.anchor, max(day, self.anchor) - timedelta(days=1), 1,
                                     self.skips)
        return found[0] if found else None

    def next_after_change(self, earliest: date, last_ordered: date | None,
                          kept: date | None = None) -> date | None:
        """The next date after a change of status or schedule (resume, reactivation, a new
        schedule, a moved series): the first date on or after ``earliest`` that comes after
        ``last_ordered``, the last date already ordered for, so that no date is offered twice.

        ``kept`` is a date already chosen for the next shipment (a date moved once, kept
        through a pause): it stays when it is still open by the same rule."""
        start = earliest if last_ordered is None else max(earliest, last_ordered + timedelta(days=1))
        if kept is not None and kept >= start and kept not in self.skips:
            return kept
        return self.first_on_or_after(start)

    def stale_skips(self, after: date, last_ordered: date | None,
                    start: date | None = None) -> frozenset[date]:
        """The skipped dates after ``after`` that this schedule would not ship on anyway, so
        that skipping them means nothing: off the calendar rule, or not after the last date
        already ordered for. A rolling series has no fixed dates, so its skips are checked
        against its dates from ``start`` (where it restarts after a change) when given."""
        plain = replace(self, skips=frozenset())
        pending = sorted(day for day in self.skips if day > after)
        if not pending:
            return frozenset()
        if self.regularity == ROLLING and start is not None:
            met, current = set(), start
            while current is not None and current <= pending[-1]:
                met.add(current)
                current = plain.following(current)
            return frozenset(day for day in pending if day not in met
                             or (last_ordered is not None and day <= last_ordered))
        return frozenset(day for day in pending if plain.next_after_change(day, last_ordered) != day)

    def following(self, ran_on: date) -> date | None:
        """The next date after a run on (or the skip of) ``ran_on``; None when the series ends."""
        if self.regularity == ROLLING:
            return self._unskipped(_next_after_ship(self.rule, ran_on))
        found = self.rule.next_dates(self.anchor, ran_on, 1, self.skips)
        return found[0] if found else None

    def upcoming(self, next_run: date | None, count: int) -> list[date]:
        """``next_run`` and the dates after it, assuming each runs on time."""
        dates: list[date] = []
        current = next_run
        while current is not None and len(dates) < count:
            dates.append(current)
            current = self.following(current)
        return dates

    def _unskipped(self, day: date) -> date:
        for _ in range(MAX_SKIP_RUN):
            if day not in self.skips:
                return day
            day = _next_after_ship(self.rule, day)
        raise UnplannableSchedule("every upcoming date of this standing order is skipped")


def _next_after_ship(rule: Recurrence, shipped_on: date) -> date:
    try:
        return _after_ship(rule, shipped_on)
    except ValueError as error:
        raise UnplannableSchedule(str(error)) from error


@lru_cache(maxsize=65536)
def _after_ship(rule: Recurrence, shipped_on: date) -> date:
    # The engine asks this for thousands of profiles sharing a handful of rules and dates.
    return rule.next_after_ship(shipped_on)
