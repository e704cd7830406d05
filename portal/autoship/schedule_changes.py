"""When a standing order ships, as its owner changes it: accepting and previewing a schedule,
a new schedule, the next date moved, dates skipped and unskipped. The schedule arithmetic
itself is ``portal.autoship.schedule``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy.orm import Session

from portal import formatting
from portal.accounts.models import User
from portal.autoship.models import AutoshipProfile, AutoshipSkip, ProfileStatus, Regularity
from portal.autoship.profiles import (AlreadyDone, AutoshipError, AutoshipRules, check_first_date,
                                      check_open_for_changes, describe_rule, last_ordered_dates,
                                      lock_profile, next_run_after_change, planning, record,
                                      schedule_of)
from portal.autoship.recurrence import Recurrence
from portal.autoship.schedule import Schedule, UnplannableSchedule, check_schedule
from portal.clock import utcnow
from portal.errors import NotFound


def accepted_schedule(rule: Recurrence, first_date: date, regularity: str,
                      skips: frozenset[date] = frozenset()) -> date:
    """The first date of a schedule a person chose; refused beside the rule if the engine could
    not plan it (see ``check_schedule``, the one check for every place that accepts one)."""
    try:
        return check_schedule(rule, first_date, regularity, skips)
    except UnplannableSchedule as error:
        raise AutoshipError(str(error), "rrule") from error


def preview(rule: Recurrence, regularity: str, first_date: date, count: int = 6) -> list[date]:
    """The first ``count`` dates; AutoshipError for a schedule that would not be accepted."""
    schedule = Schedule(rule, first_date, regularity)
    return schedule.upcoming(accepted_schedule(rule, first_date, regularity), count)


def change_schedule(session: Session, *, user: User, actor: User | None = None,
                    profile: AutoshipProfile, rule: Recurrence,
                    regularity: str, first_date: date, today: date, rules: AutoshipRules) -> None:
    """A new rule, anchored at ``first_date``: the next run is its first date from then on
    that comes after the last date already ordered for (``next_run_after_change``).
    Skips stay: they are keyed by date and still apply where the new rule meets them."""
    lock_profile(session, profile)
    check_open_for_changes(profile, today, rules)
    if regularity not in (Regularity.CALENDAR, Regularity.ROLLING):
        raise AutoshipError("Choose a calendar or a rolling schedule.", "regularity")
    check_first_date(first_date, today)
    next_run = accepted_schedule(rule, first_date, regularity,
                                 frozenset(s.skip_date for s in profile.skips))
    before = f"{describe_rule(profile)} ({profile.regularity})"
    profile.rrule, profile.regularity, profile.anchor_date = str(rule), regularity, first_date
    set_aside = profile.status == ProfileStatus.UNPLANNABLE
    if profile.status in (ProfileStatus.ACTIVE, ProfileStatus.UNPLANNABLE):
        # A profile the engine set aside runs again once it has a schedule it can plan.
        profile.status, profile.set_aside_reason = ProfileStatus.ACTIVE, None
    next_run = _next_open(session, profile, next_run, "first_date")
    if profile.status in (ProfileStatus.ACTIVE, ProfileStatus.PAUSED):
        # A paused one resumes to a date of its new schedule, not of the old one.
        profile.next_run_date = next_run
    session.flush()
    record(session, profile, actor or user, "schedule changed",
           f"{before} → {rule.describe(first_date)} ({regularity}), next {next_run.isoformat()}"
           + ("; active again" if set_aside else ""))
    drop_stale_skips(session, user=user, actor=actor, profile=profile, today=today, start=first_date)


def change_next_date(session: Session, *, user: User, actor: User | None = None,
                     profile: AutoshipProfile, new_date: date,
                     move_anchor: bool, today: date, rules: AutoshipRules) -> None:
    """Move the next run to ``new_date``: once (the pattern continues afterwards), or for good
    (the series is re-anchored there)."""
    lock_profile(session, profile)
    check_open_for_changes(profile, today, rules)
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("Resume the standing order before choosing its next date.")
    if new_date <= today:
        raise AutoshipError("Choose a date after today. To ship today, use “Ship now”.", "new_date")
    check_first_date(new_date, today)
    if any(skip.skip_date == new_date for skip in profile.skips):
        raise AutoshipError("You skipped that date. Unskip it first, or choose another.", "new_date")
    before = profile.next_run_date
    if move_anchor:
        profile.anchor_date = new_date
        profile.next_run_date = _next_open(session, profile, new_date, "new_date")
    else:
        shipped = last_ordered_dates(session, [profile.id]).get(profile.id)
        if shipped is not None and new_date <= shipped:
            raise AutoshipError(f"This standing order already shipped for {formatting.day(shipped, 'full')}. "
                                "Choose a later date.", "new_date")
        profile.next_run_date = new_date
    session.flush()
    record(session, profile, actor or user, "next date moved" + (" for good" if move_anchor else " once"),
           f"{before} → {profile.next_run_date}")
    if move_anchor:
        drop_stale_skips(session, user=user, actor=actor, profile=profile, today=today, start=new_date)


def drop_stale_skips(session: Session, *, user: User | None, actor: User | None = None,
                     profile: AutoshipProfile, today: date,
                     start: date) -> list[date]:
    """After the schedule changed (a new rule, a series moved for good, from ``start`` on):
    the upcoming skips of dates it no longer ships on are dropped, so that none is listed, or
    "undone", for a shipment that would not happen anyway. Returns the dates dropped."""
    shipped = last_ordered_dates(session, [profile.id]).get(profile.id)
    with planning(profile):
        schedule = schedule_of(profile)
        restart = replace(schedule, skips=frozenset()).next_after_change(start, shipped)
        stale = schedule.stale_skips(today, shipped, restart)
    if not stale:
        return []
    for skip in [s for s in profile.skips if s.skip_date in stale]:
        profile.skips.remove(skip)
    session.flush()
    dropped = sorted(stale)
    record(session, profile, actor or user, "skips dropped",
           ", ".join(day.isoformat() for day in dropped) + ": not in the new schedule")
    return dropped


def _next_open(session: Session, profile: AutoshipProfile, earliest: date, field: str,
               kept: date | None = None) -> date:
    """The next date after this change by the one rule (``next_run_after_change``); refused
    beside ``field`` when the schedule has none after the dates already ordered for."""
    with planning(profile):
        next_run = next_run_after_change(session, profile, earliest, kept=kept)
    if next_run is None:
        shipped = last_ordered_dates(session, [profile.id]).get(profile.id)
        raise AutoshipError(f"The schedule has no date after {formatting.day(shipped, 'full')}, the last date "
                            "this standing order already shipped for." if shipped and shipped >= earliest
                            else "The schedule has no date from then on.", field)
    return next_run


def skip_date(session: Session, *, user: User, actor: User | None = None,
              profile: AutoshipProfile, day: date, today: date,
              rules: AutoshipRules) -> None:
    """Skip one upcoming occurrence, kept as an exception keyed by its date."""
    lock_profile(session, profile)
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("Only an active standing order has dates to skip.")
    if any(skip.skip_date == day for skip in profile.skips):
        raise AlreadyDone(f"{formatting.day(day, 'long_short')} is already skipped.", "day")
    with planning(profile):
        upcoming = schedule_of(profile).upcoming(profile.next_run_date, 24)
    if day not in upcoming:
        raise AutoshipError("That date is not one of the next shipments of this standing order.",
                            "day")
    if day == profile.next_run_date:
        check_open_for_changes(profile, today, rules)
    session.add(AutoshipSkip(profile_id=profile.id, skip_date=day))
    session.flush()
    session.refresh(profile, ["skips"])
    if day == profile.next_run_date:
        with planning(profile):
            profile.next_run_date = schedule_of(profile).following(day)
        if profile.next_run_date is None:
            profile.status = ProfileStatus.CANCELLED
            profile.cancelled_at = utcnow()
    session.flush()
    record(session, profile, actor or user, "date skipped", day.isoformat())


def unskip_date(session: Session, *, user: User, actor: User | None = None,
                profile: AutoshipProfile, day: date, today: date,
                rules: AutoshipRules) -> date:
    """Undo the skip of ``day``: it ships again (and is the next run if it comes first).
    Refused, changing nothing, when there is no such skip or the schedule no longer has that
    date (a skip left from an older schedule): undoing it would bring nothing back."""
    lock_profile(session, profile)
    skip = next((s for s in profile.skips if s.skip_date == day), None)
    if skip is None:
        raise NotFound("That date is not skipped.")
    if day <= today:
        raise AutoshipError("That date has passed.")
    shipped = last_ordered_dates(session, [profile.id]).get(profile.id)
    with planning(profile):
        stale = day in schedule_of(profile).stale_skips(today, shipped)
    if stale:
        raise AutoshipError(f"{formatting.day(day, 'long_short')} is no longer a date of this standing "
                            "order's schedule, so undoing its skip would bring no shipment back.", "day")
    profile.skips.remove(skip)
    session.flush()
    if profile.status == ProfileStatus.ACTIVE and profile.next_run_date and day < profile.next_run_date:
        with planning(profile):
            runs_then = next_run_after_change(session, profile, day) == day
        if runs_then:
            check_open_for_changes(profile, today, rules)
            profile.next_run_date = day
    session.flush()
    record(session, profile, actor or user, "skip undone", day.isoformat())
    return day
