"""The kinds of schedule the schedule editor offers, and which kind a stored rule is.

A person chooses a schedule in words ("every 3 weeks on Monday and Thursday", "monthly on day
31"); the profile stores it as an RRULE. ``ScheduleChoice`` is one such choice as plain values,
``rule()`` turns it into the ``Recurrence`` it means, and ``choice_for(rule)`` reads a stored
rule back into the choice that makes exactly that rule, so the editor reopens a standing order
with the fields that describe it. A rule that no kind makes exactly (a COUNT or UNTIL, two days
of the month, the 5th Tuesday, ...) is a ``CUSTOM`` choice carrying its RRULE text: reopening
it in a friendlier kind would change it on the next save.

Pure values: no form, no request; ``forms`` and the templates speak these kinds' names.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.autoship.recurrence import ByDay, Recurrence
from portal.autoship.rule_text import DAILY, MONTHLY, WEEKDAY_CODES, WEEKLY

EVERY_DAYS = "every_days"
EVERY_WEEKS = "every_weeks"          # on chosen weekdays, or the first date's weekday
EVERY_MONTHS = "every_months"        # on the first date's day of the month
MONTHLY_DAY = "monthly_day"          # day 1..31; 29-31 fall back to the month's last day
MONTHLY_WEEKDAY = "monthly_weekday"  # the 1st..4th or last Tuesday
MONTHLY_WORKDAY = "monthly_workday"  # the 1st..4th or last weekday (Monday to Friday)
CUSTOM = "rrule"
KINDS = (EVERY_WEEKS, EVERY_MONTHS, MONTHLY_DAY, MONTHLY_WEEKDAY, MONTHLY_WORKDAY, EVERY_DAYS, CUSTOM)

POSITIONS = (1, 2, 3, 4, -1)  # the positions the editor offers: 1st..4th and last
WORKDAYS = tuple(ByDay(weekday) for weekday in range(5))
MONTH_END_DAYS = (29, 30, 31)


@dataclass(frozen=True)
class ScheduleChoice:
    """A schedule as the editor's fields hold it; only the fields of ``kind`` matter."""

    kind: str
    interval: int = 1
    day: int = 1                        # MONTHLY_DAY
    nth: int = 1                        # MONTHLY_WEEKDAY, MONTHLY_WORKDAY
    weekday: str = "MO"                 # MONTHLY_WEEKDAY
    weekdays: tuple[str, ...] = ()      # EVERY_WEEKS; none = the first date's weekday
    rrule: str = ""                     # CUSTOM

    def rule(self) -> Recurrence:
        """The recurrence this choice means; ``ValueError`` with a sentence for the person if none."""
        if self.kind == EVERY_DAYS:
            return Recurrence.every(self.interval, "days")
        if self.kind == EVERY_WEEKS:
            return Recurrence.weekly(*self.weekdays, interval=self.interval)
        if self.kind == EVERY_MONTHS:
            return Recurrence.every(self.interval, "months")
        if self.kind == MONTHLY_DAY:
            return Recurrence.monthly(self.day, interval=self.interval)
        if self.kind == MONTHLY_WEEKDAY:
            return Recurrence.monthly_weekday(self.nth, self.weekday, interval=self.interval)
        if self.kind == MONTHLY_WORKDAY:
            if self.nth not in POSITIONS:
                raise ValueError("Choose the 1st to 4th or the last weekday of the month.")
            return Recurrence(MONTHLY, self.interval, by_day=WORKDAYS, by_set_pos=(self.nth,))
        if self.kind == CUSTOM:
            return Recurrence.parse(self.rrule)
        raise ValueError("Choose how often it repeats.")


def choice_for(rule: Recurrence) -> ScheduleChoice:
    """The editor's choice that makes exactly ``rule``: ``choice_for(r).rule() == r`` always."""
    custom = ScheduleChoice(CUSTOM, rrule=str(rule))
    if rule.count is not None or rule.until is not None:
        return custom
    every = rule.interval
    if rule.freq == DAILY:
        return ScheduleChoice(EVERY_DAYS, every) if not rule.by_day else custom
    if rule.freq == WEEKLY:  # weekly BYDAY entries are always plain weekdays
        return ScheduleChoice(EVERY_WEEKS, every, weekdays=tuple(WEEKDAY_CODES[b.weekday] for b in rule.by_day))
    by_day, month_days, positions = rule.by_day, rule.by_month_day, rule.by_set_pos
    if not by_day and not month_days:
        return ScheduleChoice(EVERY_MONTHS, every)
    if not by_day and not positions and len(month_days) == 1 and 1 <= month_days[0] <= 28:
        return ScheduleChoice(MONTHLY_DAY, every, day=month_days[0])
    if (not by_day and positions == (-1,) and month_days[-1] in MONTH_END_DAYS
            and month_days == tuple(range(28, month_days[-1] + 1))):
        return ScheduleChoice(MONTHLY_DAY, every, day=month_days[-1])
    if month_days:
        return custom
    if not positions and len(by_day) == 1 and by_day[0].nth in POSITIONS:
        return ScheduleChoice(MONTHLY_WEEKDAY, every, nth=by_day[0].nth, weekday=WEEKDAY_CODES[by_day[0].weekday])
    if by_day == WORKDAYS and len(positions) == 1 and positions[0] in POSITIONS:
        return ScheduleChoice(MONTHLY_WORKDAY, every, nth=positions[0])
    return custom
