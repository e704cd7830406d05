"""When a standing order runs: a recurrence, its anchor, its regularity and its skips.

Pure arithmetic over plain values, shared by the profile screens and the engine.

* Calendar: the dates follow the rule from the anchor, whatever happened before.
* Rolling: the next date is one interval after the last order actually placed, so after a
  "ship now" or a late run the series restarts from that day.
Skipped dates are exceptions keyed by date; a skipped date never runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from portal.autoship.recurrence import Recurrence

CALENDAR, ROLLING = "calendar", "rolling"
MAX_SKIP_RUN = 200  # more consecutive skipped dates than this is not a schedule any more


@dataclass(frozen=True)
class Schedule:
    rule: Recurrence
    anchor: date
    regularity: str = CALENDAR
    skips: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, rrule: str, anchor: date, regularity: str, skips: Iterable[date] = ()) -> "Schedule":
        return cls(Recurrence.parse(rrule), anchor, regularity, frozenset(skips))

    def first_on_or_after(self, day: date) -> date | None:
        """The first date to run on ``day`` or later (a new profile's or a resumed one's)."""
        if self.regularity == ROLLING:
            return self._unskipped(max(day, self.anchor))
        found = self.rule.next_dates(self.anchor, max(day, self.anchor) - timedelta(days=1), 1,
                                     self.skips)
        return found[0] if found else None

    def following(self, ran_on: date) -> date | None:
        """The next date after a run on (or the skip of) ``ran_on``; None when the series ends."""
        if self.regularity == ROLLING:
            return self._unskipped(_after_ship(self.rule, ran_on))
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
            day = _after_ship(self.rule, day)
        raise ValueError("every upcoming date of this standing order is skipped")


@lru_cache(maxsize=65536)
def _after_ship(rule: Recurrence, shipped_on: date) -> date:
    # The engine asks this for thousands of profiles sharing a handful of rules and dates.
    return rule.next_after_ship(shipped_on)
