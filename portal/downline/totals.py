"""Team totals: the PV a downline's active standing orders are expected to bring this month and
the next ones, by level, and how many standing orders and people are in each status.

Exact, not approximated: the stored cycle PV of the standing orders is summed per distinct
schedule in the database, and each distinct schedule is stepped through in Python by the same
``Schedule`` the engine uses, so a large team costs as many schedule walks as it has distinct
schedules, not as many as it has standing orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Date, Integer, String, case, func, literal, select, union_all
from sqlalchemy.orm import Session, aliased

from portal.accounts.models import User
from portal.autoship.expected_volume import counts_by, expected_pv, schedule_key
from portal.autoship.models import AutoshipProfile
from portal.downline.statuses import RANKED, STATUSES, status_rank, stored_pv
from portal.genealogy.queries import downline_bounds


@dataclass
class MonthTotals:
    month: date  # the first of the month
    pv_by_level: dict[int, Decimal] = field(default_factory=dict)
    runs: int = 0

    @property
    def pv(self) -> Decimal:
        return sum(self.pv_by_level.values(), Decimal(0))


@dataclass(frozen=True)
class TeamTotals:
    months: list[MonthTotals]
    levels: list[int]
    profiles_by_status: dict[str, int]
    people_by_status: dict[str, int]
    people: int
    active_profiles: int
    schedules_computed: int  # distinct schedules the forecast stepped through


def team_totals(session: Session, ancestor: User, today: date, months: int = 3) -> TeamTotals:
    """PV expected from the downline's active standing orders this month and the next
    ``months - 1``, by level, and counts by status.

    The stored cycle PV of the profiles is summed in one GROUP BY over (level, rule, anchor,
    regularity, next run date), so profiles that share a schedule share one row; each distinct
    schedule is then stepped through in Python. Profiles with skipped dates in the window keep
    a row of their own and get their skips. A run that is overdue counts on today, as in the
    admin forecast. Profiles in which nothing can be sold any more bring no run.

    One statement (and one more for the skipped dates, when there are any): the downline's
    profiles are read once, by a range scan of ix_users_downline with one probe of
    ix_autoship_profiles_user_id_status per person, no item read; see ``_totals_statement``."""
    starts = _month_starts(today, months)
    end = (starts[-1] + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    groups, by_rank, total_people = [], [], 0
    for row in session.execute(_totals_statement(ancestor, today, end)):
        if row.kind == _SCHEDULES:
            groups.append((row.level_or_rank, row.rrule, row.anchor_date, row.regularity,
                           row.next_run_date, row.skip_key, row.count, row.pv_or_active))
        elif row.kind == _BEST_STATUS:
            by_rank.append((row.level_or_rank, row.count, row.pv_or_active, row.payment_failed,
                            row.unplannable, row.paused, row.cancelled))
        else:
            total_people = row.count
    pv_hundredths, runs, schedules_computed = expected_pv(session, groups, today, end)
    by_month = {start: MonthTotals(start, runs=runs.get(start, 0)) for start in starts}
    for (lvl, month), hundredths in pv_hundredths.items():
        by_month[month].pv_by_level[lvl] = Decimal(hundredths) / 100
    levels = {lvl for lvl, _ in pv_hundredths}

    people_by_status = dict.fromkeys(STATUSES, 0)
    profiles_by_status: dict[str, int] = dict.fromkeys(RANKED, 0)
    for rank_value, people, *by_status in by_rank:
        people_by_status[RANKED[rank_value - 1]] = people
        for status, count in zip(RANKED, by_status):
            profiles_by_status[status] += int(count or 0)
    people_by_status["none"] = total_people - sum(people_by_status.values())
    return TeamTotals(months=[by_month[s] for s in starts], levels=sorted(levels),
                      profiles_by_status=profiles_by_status, people_by_status=people_by_status,
                      people=total_people, active_profiles=profiles_by_status["active"],
                      schedules_computed=schedules_computed)


def _month_starts(today: date, count: int) -> list[date]:
    months, current = [], today.replace(day=1)
    for _ in range(count):
        months.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return months


_SCHEDULES, _BEST_STATUS, _PEOPLE = 0, 1, 2


def _totals_statement(ancestor: User, today: date, end: date):
    """The downline's profiles read once (a CTE, which PostgreSQL materialises as it is used
    twice) and three answers stacked by UNION ALL, told apart by ``kind``:

    * ``_SCHEDULES``: per level and distinct schedule (rule, anchor, regularity, next run, skip
      key) of active profiles due by ``end``: ``count`` profiles bringing ``pv_or_active``
      hundredths of PV;
    * ``_BEST_STATUS``: per status rank, ``count`` people whose best status it is, and their
      profiles in each status (``pv_or_active`` holds the active ones);
    * ``_PEOPLE``: ``count`` people in the downline, with or without a profile.
    """
    person, p = aliased(User), aliased(AutoshipProfile)
    low, high = downline_bounds(ancestor.tree_path)
    profiles = (select(person.id.label("person_id"),
                       (person.depth - ancestor.depth).label("level"), p.id.label("profile_id"),
                       p.status, p.rrule, p.anchor_date, p.regularity, p.next_run_date,
                       stored_pv(p).label("pv"), status_rank(p).label("rank"))
                .select_from(person).join(p, p.user_id == person.id)
                .where(person.tree_path > low, person.tree_path < high)
                .cte("downline_profiles"))
    schedule = (profiles.c.level, *schedule_key(profiles.c, profiles.c.profile_id, today))
    skip_key = schedule[5]
    no_number = literal(None, Integer)
    schedules = (select(literal(_SCHEDULES).label("kind"), schedule[0].label("level_or_rank"),
                        *schedule[1:5], skip_key.label("skip_key"), func.count().label("count"),
                        func.sum(profiles.c.pv).label("pv_or_active"),
                        no_number.label("payment_failed"), no_number.label("unplannable"),
                        no_number.label("paused"), no_number.label("cancelled"))
                 .where(counts_by(profiles.c.status, profiles.c.next_run_date, profiles.c.pv, end))
                 .group_by(*schedule))
    per_person = (select(func.min(profiles.c.rank).label("best"),
                         *(func.sum(case((profiles.c.status == s, 1), else_=0)).label(s)
                           for s in RANKED))
                  .group_by(profiles.c.person_id).subquery("per_person"))
    no_text, no_date = literal(None, String), literal(None, Date)
    no_schedule = (no_text, no_date, no_text, no_date, no_number)
    best_statuses = (select(literal(_BEST_STATUS), per_person.c.best, *no_schedule, func.count(),
                            *(func.sum(per_person.c[s]) for s in RANKED))
                     .group_by(per_person.c.best))
    people = (select(literal(_PEOPLE), no_number, *no_schedule, func.count(), no_number,
                     no_number, no_number, no_number, no_number)
              .select_from(person).where(person.tree_path > low, person.tree_path < high))
    return union_all(schedules, best_statuses, people)
