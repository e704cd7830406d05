"""The PV standing orders are expected to bring, month by month: the one rule both the team
totals (``portal.downline.totals``) and the volume projection (``portal.volume.projection``)
forecast with.

A standing order counts when it is active, has a stored cycle PV (``stored_pv``: something in
it can still be sold) and runs by the end of the window. Its runs are stepped through by the
same ``Schedule`` the engine uses; a run that is overdue counts on today. Callers read the
standing orders grouped by whatever they total on (a level, a leg) and by distinct schedule
(``schedule_key``), so that profiles sharing a schedule share one walk; a profile with skipped
dates in the window keeps a group of its own and gets its skips.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from datetime import date

from sqlalchemy import Integer, and_, case, exists, select, type_coerce
from sqlalchemy.orm import Session

from portal.autoship.models import AutoshipSkip, ProfileStatus
from portal.autoship.schedule import Schedule

MAX_RUNS = 400  # per schedule and window: a guard, far above any real window's runs


def stored_pv(profile):
    """The profile's stored cycle PV in hundredths (NULL: nothing in it can be sold)."""
    return type_coerce(profile.cycle_pv, Integer)


def counts_by(status, next_run_date, pv, end: date):
    """Whether a standing order with these columns (its status, next run date and stored PV,
    from the table or a CTE) brings runs by ``end``, as SQL."""
    return and_(status == ProfileStatus.ACTIVE, next_run_date <= end, pv.is_not(None))


def skip_key(profile, profile_id, today: date):
    """The profile's id when it has a skipped date from ``today`` on (it is walked on its own,
    with its skips), else NULL (it shares its schedule's walk)."""
    has_skip = exists().where(AutoshipSkip.profile_id == profile_id, AutoshipSkip.skip_date >= today)
    return case((has_skip, profile_id), else_=None)


def schedule_key(profile, profile_id, today: date) -> tuple:
    """The columns a distinct schedule is grouped by: rule, anchor, regularity, next run and
    the skip key."""
    return (profile.rrule, profile.anchor_date, profile.regularity, profile.next_run_date,
            skip_key(profile, profile_id, today))


def expected_pv(session: Session, groups: Iterable[tuple], today: date,
                end: date) -> tuple[dict[tuple[Hashable, date], int], dict[date, int], int]:
    """From ``groups`` of (key, rrule, anchor, regularity, next run, skip key, profiles, PV in
    hundredths): the PV in hundredths per (key, month) of the runs up to ``end``, the runs per
    month, and how many distinct schedules were stepped through."""
    groups = list(groups)
    skip_ids = [g[5] for g in groups if g[5] is not None]
    skips: dict[int, set[date]] = defaultdict(set)
    if skip_ids:
        for profile_id, day in session.execute(
                select(AutoshipSkip.profile_id, AutoshipSkip.skip_date)
                .where(AutoshipSkip.profile_id.in_(skip_ids), AutoshipSkip.skip_date >= today)):
            skips[profile_id].add(day)
    dates_of: dict[tuple, list[date]] = {}
    pv_hundredths: dict[tuple[Hashable, date], int] = defaultdict(int)
    runs: dict[date, int] = defaultdict(int)
    for key, rrule, anchor, regularity, next_run, skip, count, pv in groups:
        signature = (rrule, anchor, regularity, next_run, skip)
        months_of = dates_of.get(signature)
        if months_of is None:
            months_of = dates_of[signature] = [
                day.replace(day=1) for day in run_dates(
                    rrule, anchor, regularity, next_run, frozenset(skips.get(skip, ())), today, end)]
        for month in months_of:
            pv_hundredths[key, month] += int(pv)
            runs[month] += count
    return dict(pv_hundredths), dict(runs), len(dates_of)


def run_dates(rrule: str, anchor: date, regularity: str, next_run: date,
              skips: frozenset[date], today: date, end: date) -> list[date]:
    """The days a schedule runs on from ``next_run`` to ``end``; an overdue run counts today."""
    try:
        schedule = Schedule.of(rrule, anchor, regularity, skips)
    except ValueError:  # a rule the parser no longer accepts: no forecast rather than a 500
        return []
    dates, day = [], next_run
    while day is not None and day <= end and len(dates) < MAX_RUNS:
        dates.append(max(day, today))
        try:
            day = schedule.following(day)
        except ValueError:
            break
    return dates
